"""Plain data the TUI renders, built from engine objects in worker threads (no Textual here)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qualia_cli.engine import GameSession, Message

PAGE = 60  # messages per page of the log
MAX_MOUNTED = 4 * PAGE  # message widgets the log keeps mounted at most


@dataclass(frozen=True)
class Entry:
    """One message of the log."""

    id: int | None  # None while a turn is still running
    parent_id: int | None
    sender: str  # player | partner | narrator | system
    text: str  # what was said (partner: the dialogue)
    action: str = ""
    mood: str = ""
    turn_id: str | None = None
    ending: str | None = None

    @classmethod
    def of(cls, m: Message) -> Entry:
        line = m.line
        return cls(
            id=m.id,
            parent_id=m.parent_id,
            sender=m.sender,
            text=m.said,
            action=line.action,
            mood=line.mood,
            turn_id=m.turn_id,
            ending=m.ending,
        )


@dataclass(frozen=True)
class StatView:
    name: str
    description: str
    low: int
    high: int
    value: int
    delta: int = 0


@dataclass(frozen=True)
class PartnerView:
    name: str
    occupation: str
    mood: str
    location: str
    time: str
    stats: tuple[StatView, ...]

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.strip() else "She"


@dataclass
class SessionView:
    """Everything the chat screen shows after loading or changing a session."""

    session_id: str
    title: str
    scenario_title: str
    player_name: str
    partner: PartnerView
    entries: list[Entry]
    has_more: bool
    suggestions: list[dict[str, str]]
    alternatives: tuple[int, int]  # (index, count) of the head's turn
    image: dict[str, Any] | None
    history: list[str]  # the player's recent lines, for the input's up/down
    models: dict[str, str]  # agent -> model in use
    model_overrides: dict[str, str]  # agent -> the session's own choice
    pace: str
    rating: str
    allowed_ratings: list[str]
    ending: str | None = None
    head_id: int | None = None
    deltas: dict[str, int] = field(default_factory=dict)
    configured_models: list[str] = field(default_factory=list)  # for the options' pickers


def partner_view(session: GameSession, deltas: dict[str, int] | None = None) -> PartnerView:
    state = session.state
    return partner_from_snapshot(session, state.snapshot(), deltas or {})


def partner_from_snapshot(
    session: GameSession, snapshot: dict[str, Any], deltas: dict[str, int]
) -> PartnerView:
    sc = session.scenario
    values = snapshot.get("stats") or {}
    stats = tuple(
        StatView(
            name=s.name,
            description=s.description,
            low=s.min,
            high=s.max,
            value=int(values.get(s.name, s.start)),
            delta=int(deltas.get(s.name, 0)),
        )
        for s in sc.stats
    )
    return PartnerView(
        name=str(snapshot.get("name") or sc.partner.name),
        occupation=sc.partner.occupation,
        mood=str(snapshot.get("mood") or ""),
        location=str(snapshot.get("location") or ""),
        time=str(snapshot.get("time") or ""),
        stats=stats,
    )


def build_view(session: GameSession, page: int = PAGE) -> SessionView:
    """Read the session's last page and state (runs in a worker thread)."""
    from qualia_cli.engine import (
        TURN_AGENTS,
        PartnerLine,
        Sender,
        configured_models,
        last_suggestions,
    )

    session.refresh()
    messages = session.history(page)
    last_partner = next((m for m in reversed(messages) if m.sender == Sender.PARTNER), None)
    line = last_partner.line if last_partner else PartnerLine()
    alts = session.alternatives()
    record = session.record
    ending = None
    if record.ending:
        found = next((e for e in session.scenario.endings if e.id == record.ending), None)
        ending = found.title if found else record.ending
    models = session.models()
    return SessionView(
        session_id=session.id,
        title=record.title,
        scenario_title=session.scenario.title,
        player_name=session.scenario.player.name,
        partner=partner_view(session, dict(line.deltas)),
        entries=[Entry.of(m) for m in messages],
        has_more=bool(messages) and messages[0].parent_id is not None,
        suggestions=last_suggestions(messages),
        alternatives=(alts.index, alts.count),
        image=line.image,
        history=[m.said for m in messages if m.sender == Sender.PLAYER],
        models={a: models[a] for a in TURN_AGENTS if a in models},
        model_overrides=session.agent_models(),
        pace=record.narrative_pace,
        rating=record.content_rating,
        allowed_ratings=session.allowed_ratings(),
        ending=ending,
        head_id=record.head_message_id,
        deltas=dict(line.deltas),
        configured_models=configured_models(session),
    )


def earlier_page(
    session: GameSession, before_id: int, page: int = PAGE
) -> tuple[list[Entry], bool]:
    """The ``page`` messages ending at ``before_id`` and whether there are more above them."""
    messages = session.history(page, at=before_id)
    return [Entry.of(m) for m in messages], bool(messages) and messages[0].parent_id is not None


def later_page(session: GameSession, after_id: int, page: int = PAGE) -> tuple[list[Entry], bool]:
    """The ``page`` messages of this branch after ``after_id`` (0: from its first message) and
    whether more follow, read through the database (not a page at a time from the end)."""
    from qualia_cli.engine import branch_after

    messages, more = branch_after(session, after_id, page)
    return [Entry.of(m) for m in messages], more


def when(stamp: str) -> str:
    """A stored UTC timestamp as local 'YYYY-MM-DD HH:MM'."""
    try:
        moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        return stamp[:16]
    from datetime import UTC

    return moment.replace(tzinfo=UTC).astimezone().strftime("%Y-%m-%d %H:%M")


def with_state(old: PartnerView, snapshot: dict[str, Any], deltas: dict[str, int]) -> PartnerView:
    """``old`` (for names and bounds) with the values of a state snapshot from an event."""
    values = snapshot.get("stats") or {}
    stats = tuple(
        replace(s, value=int(values.get(s.name, s.value)), delta=int(deltas.get(s.name, 0)))
        for s in old.stats
    )
    return replace(
        old,
        mood=str(snapshot.get("mood") or old.mood),
        location=str(snapshot.get("location") or old.location),
        time=str(snapshot.get("time") or old.time),
        stats=stats,
    )
