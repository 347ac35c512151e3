"""Summarizer: folds turns that leave the recent window into long-term memory.

It reads the turns to fold (oldest first, as many as its budget allows) and what is already
remembered, and answers with a short summary of what happened plus stand-alone facts worth
keeping: names, promises, secrets revealed, relationship changes.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field, WithJsonSchema

from qualia_cli.agents.base import Agent, common_values, partner_summary
from qualia_cli.agents.context import StoryContext
from qualia_cli.agents.fields import short

MAX_FACTS = 5
FACT_LENGTH = 140


def _facts(value: Any) -> Any:
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        out = []
        for item in value:
            text = str(item).strip()
            if len(text) > FACT_LENGTH:
                text = text[:FACT_LENGTH].rsplit(" ", 1)[0]
            if text and text not in out:
                out.append(text)
        return out[:MAX_FACTS]
    return value


Facts = Annotated[
    list[str],
    BeforeValidator(_facts),
    WithJsonSchema(
        {
            "type": "array",
            "items": {"type": "string", "maxLength": FACT_LENGTH},
            "maxItems": MAX_FACTS,
        }
    ),
]


class MemoryNotes(BaseModel):
    summary: short(300)  # type: ignore[valid-type]
    facts: Facts = Field(default_factory=list)


class Summarizer(Agent[MemoryNotes]):
    role = "summarizer"
    output = MemoryNotes
    uses_lore = False
    history_mode = "fold"
    variables = frozenset(
        {"title", "partner_name", "partner_summary", "player_role", "memory", "history"}
    )

    @classmethod
    def values(cls, ctx: StoryContext, **inputs: Any) -> dict[str, object]:
        base = common_values(ctx)
        return {
            "title": base["title"],
            "partner_name": base["partner_name"],
            "partner_summary": partner_summary(ctx),
            "player_role": base["player_role"],
        }
