"""Typed events of a turn. The TUI, the headless runner and `--events x.jsonl` all consume these."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar


@dataclass
class Event:
    type: ClassVar[str] = "event"
    turn_id: str
    at: float = field(default_factory=time.time, kw_only=True)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **asdict(self)}


@dataclass
class TurnStarted(Event):
    type: ClassVar[str] = "turn_started"
    session_id: str
    player_text: str
    turn: int


@dataclass
class DirectorPlanned(Event):
    type: ClassVar[str] = "director_planned"
    plan: dict[str, Any]


@dataclass
class PartnerDelta(Event):
    """A streamed piece of the partner's dialogue (`text` is everything so far)."""

    type: ClassVar[str] = "partner_delta"
    delta: str
    text: str


@dataclass
class PartnerMessage(Event):
    """Her whole reply. `stopped`: the player stopped her mid-reply; this is what had streamed."""

    type: ClassVar[str] = "partner_message"
    name: str
    dialogue: str
    action: str
    mood: str
    narration: str
    stopped: bool = False


@dataclass
class StateChanged(Event):
    type: ClassVar[str] = "state_changed"
    before: dict[str, Any]
    after: dict[str, Any]
    deltas: dict[str, int]


@dataclass
class SuggestionsReady(Event):
    type: ClassVar[str] = "suggestions_ready"
    suggestions: list[dict[str, str]]


@dataclass
class VisualPromptReady(Event):
    type: ClassVar[str] = "visual_prompt_ready"
    generate: bool
    prompt: str
    negative_prompt: str
    framing: str


@dataclass
class AgentError(Event):
    """An agent failed. `fatal` means the turn failed and nothing was committed."""

    type: ClassVar[str] = "agent_error"
    agent: str
    code: str
    message: str
    fatal: bool = False


@dataclass
class EndingReached(Event):
    type: ClassVar[str] = "ending_reached"
    ending_id: str
    title: str
    description: str


@dataclass
class MemoryStored(Event):
    """The Summarizer folded older turns into long-term memories (each: id, kind, text, …)."""

    type: ClassVar[str] = "memory_stored"
    memories: list[dict[str, Any]]


@dataclass
class TurnCommitted(Event):
    """The player's line, her reply and the state change are stored (the turn's first phase);
    the extras follow, ending with `extras_committed`. Totals so far: Director and Partner."""

    type: ClassVar[str] = "turn_committed"
    session_id: str
    message_ids: list[int]
    wall_ms: float
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    agents: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ExtrasCommitted(Event):
    """The turn's second phase is stored: the Visual Director's prompt, the Strategist's
    suggestions and the Summarizer's call are attached to the partner message (`message_id`).

    `wall_ms`, tokens, cost and `agents` cover the whole turn; `dropped` names the agents whose
    work was cancelled because the next turn started first (their results are not stored)."""

    type: ClassVar[str] = "extras_committed"
    session_id: str
    message_id: int
    wall_ms: float
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    agents: list[dict[str, Any]] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


@dataclass
class TurnFailed(Event):
    type: ClassVar[str] = "turn_failed"
    reason: str


# -- scene images (they run in the background; `turn_id` is the turn that asked, or "opening")


@dataclass
class ImageQueued(Event):
    type: ClassVar[str] = "image_queued"
    job_id: str
    session_id: str
    message_id: int | None
    backend: str  # "comfyui" or "sketch"
    workflow: str
    seed: int
    prompt: str


@dataclass
class ImageProgress(Event):
    type: ClassVar[str] = "image_progress"
    job_id: str
    percent: float
    step: int | None = None
    steps: int | None = None


@dataclass
class ImageReady(Event):
    type: ClassVar[str] = "image_ready"
    job_id: str
    session_id: str
    message_id: int | None
    path: str  # absolute path of the WebP/PNG file
    cached: bool  # an identical request had already been made: nothing was generated
    backend: str
    seed: int
    width: int
    height: int
    elapsed_ms: float


@dataclass
class ImageFailed(Event):
    type: ClassVar[str] = "image_failed"
    job_id: str
    session_id: str
    message_id: int | None
    code: str  # unreachable, rejected, execution, interrupted, timeout, output, workflow, …
    message: str
