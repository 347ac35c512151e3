"""A playable session: its scenario, state and history, and `turn()` that runs one turn."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from qualia_cli.agents.context import StoryContext
from qualia_cli.config import Settings
from qualia_cli.engine import events as ev
from qualia_cli.engine.pictures.jobs import ImageJobs
from qualia_cli.engine.story.branching import BranchingMixin, branch_commit
from qualia_cli.engine.story.session_tools import SessionToolsMixin
from qualia_cli.engine.turn.caller import TurnInputs
from qualia_cli.engine.turn.extras import ExtrasHandle
from qualia_cli.engine.turn.profile_steps import profile_extras
from qualia_cli.engine.turn.runner import TurnRunner
from qualia_cli.errors import InputError, QualiaError
from qualia_cli.llm.router import ModelRouter
from qualia_cli.memory.service import MemoryService
from qualia_cli.roles import AGENT_ROLES, Sender
from qualia_cli.scenario.loader import load_scenario_dict
from qualia_cli.scenario.models import Scenario
from qualia_cli.store import Store
from qualia_cli.store.records import Message, PartnerState, SessionRecord

HISTORY_WINDOW = 80  # messages fetched per turn; each agent keeps what fits its token budget


class BudgetExceeded(QualiaError):
    """The session spent its configured budget."""


@dataclass
class Transcript:
    """What a front end shows: the branch up to the head plus the current state."""

    session: SessionRecord
    state: PartnerState
    messages: list[Message]
    suggestions: list[dict[str, str]]


class GameSession(BranchingMixin, SessionToolsMixin):
    def __init__(
        self,
        record: SessionRecord,
        *,
        store: Store,
        settings: Settings,
        router: ModelRouter,
        model_override: str | None = None,
        images: ImageJobs | None = None,
    ) -> None:
        self.images = images
        self.record = record
        self.store = store
        self.settings = settings
        self.router = router
        self.scenario: Scenario = load_scenario_dict(
            record.scenario, source=record.scenario_path or record.scenario_id
        )
        self.model_override = model_override
        self.extras: ExtrasHandle | None = None  # the last turn's extras (engine/turn/extras.py)
        self._stop: asyncio.Event | None = None  # the running turn's stop flag

    @property
    def id(self) -> str:
        return self.record.id

    def refresh(self) -> None:
        record = self.store.get_session(self.id)
        if record is not None:
            self.record = record

    def models(self) -> dict[str, str]:
        """Model per agent: --model flag > the session's model for that agent > the session's own
        model > config per agent > default."""
        session_default = self.record.settings.get("model")
        per_agent = self.agent_models()
        out: dict[str, str] = {}
        for role in AGENT_ROLES:
            configured = getattr(self.settings.models, role, None)
            out[role] = (
                self.model_override
                or per_agent.get(role)
                or session_default
                or configured
                or self.settings.models.default
            )
        return out

    @property
    def state(self) -> PartnerState:
        return self.store.get_partner_state(self.id)

    def history(self, limit: int = HISTORY_WINDOW, at: int | None = None) -> list[Message]:
        head = self.record.head_message_id if at is None else at
        if head is None:
            return []
        return self.store.recent_branch(head, limit, traces=False)

    def transcript(self, limit: int = 200) -> Transcript:
        messages = self.history(limit)
        return Transcript(self.record, self.state, messages, last_suggestions(messages))

    def _turn_number(self, history: list[Message]) -> int:
        for message in reversed(history):
            snap = message.partner_state_snapshot
            if snap and "turn" in snap:
                return int(snap["turn"]) + 1
        return 1

    def check_budget(self) -> None:
        budget = self.settings.session_budget_usd
        if budget is None:
            return
        spent = self.store.session_cost(self.id)
        if spent >= budget:
            raise BudgetExceeded(
                f"session {self.id} has spent ${spent:.4f} of its ${budget:.2f} budget; "
                "raise session_budget_usd in config.yaml to continue"
            )

    def stop_turn(self) -> bool:
        """Stop the running turn's partner: what she has said so far becomes her reply (before
        her first word the turn ends unsaved). False if no turn is running."""
        if self._stop is None:
            return False
        self._stop.set()
        return True

    async def settle_extras(self) -> None:
        """Before a new turn: the last turn's unfinished Strategist is dropped, its Summarizer
        awaited (its fold is never lost), its Visual Director and picture go on."""
        if self.extras is not None and not self.extras.finished:
            await self.extras.settle()

    async def wait_extras(self) -> None:
        """Wait until the last turn's extras are stored (or abandoned)."""
        if self.extras is not None:
            await self.extras.done.wait()

    async def turn(
        self, text: str, *, nonce: str = "", parent_id: int | None = None
    ) -> AsyncIterator[ev.Event]:
        """Run one turn for the player's `text`, yielding events; commits twice: her reply and
        the state change at `turn_committed`, the extras at `extras_committed`
        (engine/turn/runner.py).

        With `parent_id` the turn continues from that earlier message instead of the head
        (regenerate, edit, branch): it sees the story and state as they were there, and its
        messages hang under it and become the head.
        """
        text = text.strip()
        if not text:
            raise InputError("say something: the player's text is empty")
        await self.settle_extras()
        self.refresh()
        self.check_budget()
        head = self.record.head_message_id
        base = head if parent_id is None else parent_id
        history = await asyncio.to_thread(self.history, HISTORY_WINDOW, base)
        state, world_state = await asyncio.to_thread(self.state_at, base)
        ctx = StoryContext(
            scenario=self.scenario,
            state=state,
            world_state=world_state,
            history=history,
            player_text=text,
            turn=self._turn_number(history),
            pace=str(self.record.narrative_pace),
            rating=str(self.record.content_rating),
            player_name=self.scenario.player.name,
            extras=profile_extras(self.settings, self.models()),
        )
        commit = self.store.commit_turn if base == head else branch_commit(self.store, head, base)
        memory = MemoryService(self.store, self.settings, self.router)
        runner = TurnRunner(
            self.settings,
            self.router,
            commit,
            self.images,
            memory=memory,
            attach=self.store.attach_extras,
            on_extras=self._track_extras,
        )
        inputs = TurnInputs(self.id, base, ctx, self.models(), nonce)
        if self.record.settings.get("seed") is not None:  # Engine.new_session(seed=...)
            inputs.seed_base = str(self.record.settings["seed"])
        self._stop = inputs.stop
        try:
            async for event in runner.run(inputs):
                if isinstance(event, ev.TurnCommitted | ev.TurnFailed):
                    self._stop = None  # her reply is over: nothing left to stop
                if isinstance(event, ev.TurnCommitted):
                    await asyncio.to_thread(self.refresh)  # the new head, before anyone asks
                yield event
        finally:
            if self._stop is inputs.stop:
                self._stop = None
        self.refresh()

    def _track_extras(self, handle: ExtrasHandle) -> None:
        self.extras = handle


def last_suggestions(messages: list[Message]) -> list[dict[str, str]]:
    for message in reversed(messages):
        if message.sender == Sender.PARTNER:
            return list(message.line.suggestions)
    return []


def transcript_dict(t: Transcript) -> dict[str, Any]:
    return {
        "session": {
            "id": t.session.id,
            "title": t.session.title,
            "scenario": t.session.scenario_id,
            "turns": t.session.turns,
            "created_at": t.session.created_at,
            "updated_at": t.session.updated_at,
            "archived": t.session.archived,
            "world_state": t.session.world_state,
            "cost_usd": t.session.cost_usd,
        },
        "state": t.state.snapshot(),
        "messages": [
            {
                "id": m.id,
                "parent_id": m.parent_id,
                "sender": m.sender,
                "content": m.content,
                "created_at": m.created_at,
                "model": m.model,
            }
            for m in t.messages
        ],
        "suggestions": t.suggestions,
    }
