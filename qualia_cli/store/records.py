"""Plain records passed in and out of the store (no SQLite types leak out)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qualia_cli.store.content import PartnerLine, line_text, message_text


@dataclass
class PartnerState:
    name: str
    stats: dict[str, int]
    mood: str
    memory_summary: str = ""
    location: str = ""
    time: str = ""
    profile: dict[str, Any] = field(default_factory=dict)  # age, gender, occupation, appearance…

    def snapshot(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "stats": dict(self.stats),
            "mood": self.mood,
            "location": self.location,
            "time": self.time,
        }


@dataclass
class NewMessage:
    sender: str  # roles.Sender: "player" | "partner" | "narrator" | "system"
    content: dict[str, Any]  # {"text": ...}; partner: PartnerLine.to_json() (store/content.py)
    processing_time_ms: float | None = None
    model: str | None = None
    image_prompt: str | None = None
    partner_state_snapshot: dict[str, Any] | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class Message:
    id: int
    session_id: str
    parent_id: int | None
    turn_id: str | None
    sender: str
    content: dict[str, Any]
    created_at: str
    processing_time_ms: float | None
    model: str | None
    image_prompt: str | None
    partner_state_snapshot: dict[str, Any] | None
    prompt_tokens: int
    completion_tokens: int
    image_path: str | None = None
    ending: str | None = None  # set on the last message of a turn that ended the story

    @property
    def text(self) -> str:
        return message_text(self.content)

    @property
    def said(self) -> str:
        """What it says: her dialogue, or any other message's text."""
        return line_text(self.sender, self.content)

    @property
    def line(self) -> PartnerLine:
        """Her message's content, typed (read from any message: what it lacks is empty)."""
        return PartnerLine.from_json(self.content)


@dataclass
class AgentCall:
    agent: str
    model: str
    ok: bool
    latency_ms: float
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    repairs: int = 0
    retries: int = 0
    error: str | None = None
    error_code: str | None = None
    raw_output: str | None = None
    started_at: float = 0.0  # monotonic-relative start (s) within the turn, for traces
    reasoning: str | None = None  # a reasoning model's thinking (never in raw_output)
    output_mode: str | None = None  # json_schema, json_object or prompt


@dataclass
class SessionRecord:
    id: str
    title: str
    scenario_id: str
    scenario_path: str | None
    scenario: dict[str, Any]  # the scenario snapshot the session was created with
    genre: str
    narrative_pace: str
    content_rating: str
    settings: dict[str, Any]
    world_state: dict[str, Any]
    head_message_id: int | None
    archived: bool
    created_at: str
    updated_at: str
    turns: int = 0
    cost_usd: float = 0.0
    ending: str | None = None  # the ending reached at the head message, if any


@dataclass
class TurnRecord:
    """Everything one turn writes, committed in a single transaction."""

    session_id: str
    turn_id: str
    expected_head: int | None  # the head the turn started from (guards concurrent turns)
    messages: list[NewMessage]  # in order: player, [narrator], partner — chained by parent
    partner_state: PartnerState
    world_state: dict[str, Any]
    agent_calls: list[AgentCall]
    ending: str | None = None
    # hang the turn under this earlier message instead of the head (regenerate, edit, branch);
    # the head must still be `expected_head`, and becomes the turn's last message
    branch_from: int | None = None
