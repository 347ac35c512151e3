"""What the memory layer knows at the start of a turn, handed to every agent's context builder."""

from __future__ import annotations

from dataclasses import dataclass, field

from qualia_cli.config import MemoryConfig
from qualia_cli.llm.tokens import ESTIMATE, TokenCounter
from qualia_cli.store.memory import MemoryRecord, RecallHit
from qualia_cli.store.records import Message


@dataclass
class MemoryView:
    """Read-only per turn (the builder runs in worker threads)."""

    settings: MemoryConfig = field(default_factory=MemoryConfig)
    memories: list[MemoryRecord] = field(default_factory=list)  # this branch's, oldest first
    recalled: list[RecallHit] = field(default_factory=list)  # matches for this turn, best first
    counters: dict[str, TokenCounter] = field(default_factory=dict)  # per agent role
    uncovered: list[Message] = field(default_factory=list)  # after the last memory, oldest first
    window_start_id: int | None = None  # first message of the last `window_turns` turns
    covered_to: int = 0  # the last message some memory covers (0: none)
    query: str = ""  # the recall query that found `recalled`

    def counter(self, role: str) -> TokenCounter:
        return self.counters.get(role, ESTIMATE)
