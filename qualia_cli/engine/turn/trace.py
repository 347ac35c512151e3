"""The turn trace: why did she say that — the Director's plan and every agent call of a turn."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class AgentTrace:
    agent: str
    model: str
    ok: bool
    latency_ms: float
    started_ms: float
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    repairs: int
    retries: int
    error: str | None
    raw_output: str | None
    context: dict[str, Any] | None = None  # what went into its prompt (memory/builder.py)
    reasoning: str | None = None  # a reasoning model's thinking, kept apart from the output
    output_mode: str | None = None  # json_schema, json_object or prompt

    @property
    def pretty_output(self) -> str:
        """The raw output, indented if it is JSON (as the model wrote it otherwise)."""
        raw = self.raw_output or ""
        try:
            return json.dumps(json.loads(raw), indent=2, ensure_ascii=False)
        except (ValueError, TypeError):
            return raw


@dataclass
class TurnTrace:
    turn_id: str
    player_text: str
    plan: dict[str, Any]
    wall_ms: float | None
    calls: list[AgentTrace] = field(default_factory=list)

    @property
    def prompt_tokens(self) -> int:
        return sum(c.prompt_tokens for c in self.calls)

    @property
    def completion_tokens(self) -> int:
        return sum(c.completion_tokens for c in self.calls)

    def to_dict(self) -> dict[str, Any]:
        return {
            "turn_id": self.turn_id,
            "player_text": self.player_text,
            "plan": self.plan,
            "wall_ms": self.wall_ms,
            "calls": [vars(c) for c in self.calls],
        }


def agent_trace(row: dict[str, Any], context: dict[str, Any] | None = None) -> AgentTrace:
    """One row of the agent call log as a trace entry (with its prompt's context trace)."""
    return AgentTrace(
        agent=str(row["agent"]),
        model=str(row["model"]),
        ok=bool(row["ok"]),
        latency_ms=float(row.get("latency_ms") or 0.0),
        started_ms=float(row.get("started_at") or 0.0) * 1000,
        prompt_tokens=int(row.get("prompt_tokens") or 0),
        completion_tokens=int(row.get("completion_tokens") or 0),
        cost_usd=row.get("cost_usd"),
        repairs=int(row.get("repairs") or 0),
        retries=int(row.get("retries") or 0),
        error=row.get("error"),
        raw_output=row.get("raw_output"),
        context=context,
        reasoning=row.get("reasoning"),
        output_mode=row.get("output_mode"),
    )


def context_lines(context: dict[str, Any] | None) -> list[str]:
    """An agent's context trace in words: budget, the cost of each part, and what was used."""
    if not context:
        return []
    if context.get("by_rules"):
        return ["done by rules (small profile): no model call"]
    parts = context.get("parts") or {}
    costs = " · ".join(f"{name} {tokens}" for name, tokens in parts.items())
    over = "  OVER BUDGET" if context.get("over_budget") else ""
    lines = [
        f"{context.get('total', 0)} of {context.get('budget', 0)} tokens "
        f"({context.get('counter', '?')}): {costs}{over}"
    ]
    memories = context.get("memories") or []
    if memories:
        ids = ", ".join(f"#{m.get('id')}" for m in memories)
        lines.append(f"memories ({len(memories)}): {ids}")
    recalled = context.get("recalled") or []
    if recalled:
        hits = ", ".join(f"{r.get('kind')} #{r.get('id')}" for r in recalled)
        lines.append(f"recalled ({len(recalled)}): {hits}")
    lore = context.get("lore") or []
    if lore:
        entries = ", ".join(str(e.get("comment") or e.get("key") or e.get("entry")) for e in lore)
        lines.append(f"lore ({len(lore)}): {entries}")
    history = context.get("history") or {}
    if history:
        lines.append(
            f"history: {history.get('messages', 0)} messages, "
            f"{history.get('omitted', 0)} older left out"
        )
    return lines
