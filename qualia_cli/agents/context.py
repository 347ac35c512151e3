"""What every agent sees: the session at the start of a turn, and small renderings of it
(the history itself is fitted to each agent's budget by memory/builder.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from qualia_cli.scenario.models import Scenario
from qualia_cli.store.records import Message, PartnerState

if TYPE_CHECKING:
    from qualia_cli.memory.view import MemoryView

CHARS_PER_TOKEN = 3.6  # calibrated on SmolLM2's tokenizer over the bundled scenarios' prose


def estimate_tokens(text: str) -> int:
    """A cheap token estimate (the tokenizer is not always at hand, e.g. for remote models)."""
    return int(len(text) / CHARS_PER_TOKEN) + 1


@dataclass
class StoryContext:
    """A read-only picture of the session at the start of a turn."""

    scenario: Scenario
    state: PartnerState
    world_state: dict[str, Any]
    history: list[Message]  # the branch up to the head, oldest first (may be truncated)
    player_text: str
    turn: int
    pace: str
    rating: str
    player_name: str = "you"
    extras: dict[str, Any] = field(default_factory=dict)
    memory: MemoryView | None = None  # memories, recall hits, token counters (memory/)


def speaker(message: Message, ctx: StoryContext) -> str:
    if message.sender == "player":
        return "Player"
    if message.sender == "partner":
        return ctx.scenario.partner.name
    if message.sender == "narrator":
        return "Narrator"
    return "System"


def message_line(message: Message, ctx: StoryContext) -> str:
    text = message.text.strip()
    action = message.line.action.strip()
    if action:
        text = f"({action}) {text}".strip()
    return f"{speaker(message, ctx)}: {text}"


def stats_text(ctx: StoryContext) -> str:
    parts = []
    for stat in ctx.scenario.stats:
        value = ctx.state.stats.get(stat.name, stat.start)
        parts.append(f"{stat.name} {value}/{stat.max}")
    return ", ".join(parts)


def world_text(ctx: StoryContext) -> str:
    facts = ctx.world_state.get("facts") or {}
    if not facts:
        return "none yet"
    return "; ".join(f"{k}: {v}" for k, v in list(facts.items())[-8:])
