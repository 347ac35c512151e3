"""Messages the session service's workers post to the screens (results, never requests)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from qualia_cli.engine import Event, SearchHit, StoryTree, TurnTrace
    from qualia_cli.tui.view import Entry, SessionView


@dataclass
class SessionLoaded(Message):
    """A fresh view of the session; ``reset_log`` re-renders the log from ``view.entries``."""

    view: SessionView
    reset_log: bool = True


@dataclass
class EarlierLoaded(Message):
    entries: list[Entry]
    has_more: bool


@dataclass
class LaterLoaded(Message):
    """Messages after the mounted ones, read from the database (after home or a search hit).

    ``first``: they start the branch (home), replacing what the log shows."""

    entries: list[Entry]
    more_below: bool
    first: bool = False
    target: int | None = None  # a message to bring into view (a search hit)


@dataclass
class TurnEvent(Message):
    """One engine event of the running turn."""

    event: Event


@dataclass
class TurnFinished(Message):
    """Her reply ended: committed (``view`` is the new tail), failed, or cancelled.

    Posted at ``turn_committed``; the turn's extras follow as ``TurnEvent`` messages."""

    kind: str  # say | regenerate | edit
    text: str
    ok: bool = False  # her reply is saved (the extras may still be coming)
    cancelled: bool = False
    stopped: bool = False  # esc stopped her mid-reply: what she had said is the turn
    error: str | None = None
    view: SessionView | None = None


@dataclass
class ActionFailed(Message):
    what: str
    error: str


@dataclass
class TraceReady(Message):
    trace: TurnTrace


@dataclass
class StoryTreeReady(Message):
    tree: StoryTree


@dataclass
class SearchResults(Message):
    query: str
    hits: list[SearchHit]


@dataclass
class ModelsChecked(Message):
    """agent -> why its model cannot be used (empty: every name is fine)."""

    errors: dict[str, str]


@dataclass
class Exported(Message):
    path: Path


@dataclass
class StartData(Message):
    """What the start screen lists."""

    sessions: list[dict[str, Any]] = field(default_factory=list)
    scenarios: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class SessionReady(Message):
    """A session was created (or chosen) and can be opened."""

    session_id: str


@dataclass
class ImageEvent(Message, bubble=False):  # the app hands it to the screens: it must not come back
    """An engine image event (queued, progress, ready, failed) from the app's image feed."""

    event: Event


@dataclass
class SceneImage(Message):
    """The picture of the branch ending at ``head_id`` (``path`` None: it has none yet)."""

    head_id: int | None
    path: Path | None
    message_id: int | None = None
