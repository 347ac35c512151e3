"""What every agent sees: the session at the start of a turn, and small renderings of it
(the history itself is fitted to each agent's budget by memory/builder.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qualia_cli.scenario.models import Scenario
from qualia_cli.store.records import Message, PartnerState


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
    # the turn's memory.view.MemoryView (memories, recall hits, token counters), set by the
    # engine and handed to memory/builder.py; agents never read it (they never import memory/)
    memory: Any = None


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
