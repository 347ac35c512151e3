"""Fold a turn's events into one result (for `qualia say --json`, scripts and reports)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qualia_cli.engine import events as ev


@dataclass
class TurnSummary:
    turn_id: str = ""
    ok: bool = False
    player_text: str = ""
    reply: str = ""
    action: str = ""
    mood: str = ""
    narration: str = ""
    plan: dict[str, Any] = field(default_factory=dict)
    state_before: dict[str, Any] = field(default_factory=dict)
    state_after: dict[str, Any] = field(default_factory=dict)
    deltas: dict[str, int] = field(default_factory=dict)
    suggestions: list[dict[str, str]] = field(default_factory=list)
    visual: dict[str, Any] | None = None
    ending: dict[str, str] | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    agents: list[dict[str, Any]] = field(default_factory=list)
    memories: list[dict[str, Any]] = field(default_factory=list)  # stored by the Summarizer
    wall_ms: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    failure: str | None = None
    stopped: bool = False  # the player stopped her mid-reply: `reply` is what had streamed
    reply_ms: float = 0.0  # when her reply was saved (the first phase); wall_ms: the whole turn
    image: dict[str, Any] | None = None  # the turn's picture: queued, then ready or failed

    def add(self, event: ev.Event) -> None:
        self.turn_id = event.turn_id
        match event:
            case ev.TurnStarted():
                self.player_text = event.player_text
            case ev.DirectorPlanned():
                self.plan = event.plan
            case ev.PartnerMessage():
                self.reply, self.action, self.mood = event.dialogue, event.action, event.mood
                self.narration = event.narration
                self.stopped = event.stopped
            case ev.StateChanged():
                self.state_before, self.state_after = event.before, event.after
                self.deltas = event.deltas
            case ev.SuggestionsReady():
                self.suggestions = event.suggestions
            case ev.VisualPromptReady():
                self.visual = {
                    "generate": event.generate,
                    "prompt": event.prompt,
                    "negative_prompt": event.negative_prompt,
                    "framing": event.framing,
                }
            case ev.AgentError():
                self.errors.append(
                    {
                        "agent": event.agent,
                        "code": event.code,
                        "message": event.message,
                        "fatal": event.fatal,
                    }
                )
            case ev.EndingReached():
                self.ending = {
                    "id": event.ending_id,
                    "title": event.title,
                    "description": event.description,
                }
            case ev.MemoryStored():
                self.memories = event.memories
            case ev.TurnCommitted():
                self.ok = True
                self.reply_ms = event.wall_ms
                self._totals(event)
            case ev.ExtrasCommitted():  # the whole turn's totals
                self._totals(event)
            case ev.TurnFailed():
                self.failure = event.reason
            case ev.ImageQueued() | ev.ImageReady() | ev.ImageFailed():
                status = {"image_queued": "queued", "image_ready": "ready"}.get(
                    event.type, "failed"
                )
                data = {
                    k: v for k, v in event.to_dict().items() if k not in ("type", "at", "turn_id")
                }
                self.image = {**(self.image or {}), **data, "status": status}

    def _totals(self, event: ev.TurnCommitted | ev.ExtrasCommitted) -> None:
        self.agents = event.agents
        self.wall_ms = event.wall_ms
        self.prompt_tokens = event.prompt_tokens
        self.completion_tokens = event.completion_tokens
        self.cost_usd = event.cost_usd

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {"version": 1, **asdict(self)}
