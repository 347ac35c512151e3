"""A built prompt, its trace, and the headers the context builder writes into it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qualia_cli.llm.base import ChatMessage

LORE_HEADER = "Lore:"
MEMORY_HEADER = "Long-term memory:"
RECALL_HEADER = "Recalled from earlier in the story:"
EMPTY_STORY = "(the story has just begun)"
OMITTED_STORY = "(earlier story omitted)"


@dataclass
class ContextTrace:
    """What went into one agent's prompt (shown in turn traces and `say --json`)."""

    agent: str
    budget: int
    counter: str
    total: int = 0
    parts: dict[str, int] = field(default_factory=dict)
    memories: list[dict[str, Any]] = field(default_factory=list)
    recalled: list[dict[str, Any]] = field(default_factory=list)
    lore: list[dict[str, Any]] = field(default_factory=list)
    history: dict[str, Any] = field(default_factory=dict)
    over_budget: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "budget": self.budget,
            "total": self.total,
            "counter": self.counter,
            "parts": dict(self.parts),
            "memories": list(self.memories),
            "recalled": list(self.recalled),
            "lore": list(self.lore),
            "history": dict(self.history),
            "over_budget": self.over_budget,
        }


@dataclass
class BuiltPrompt:
    messages: list[ChatMessage]
    trace: ContextTrace
    history_ids: list[int] = field(default_factory=list)  # messages in `history`, in order
