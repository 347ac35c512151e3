"""Strategist: two to four moves the player could make next."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from qualia_cli.agents.base import Agent, common_values
from qualia_cli.agents.context import StoryContext
from qualia_cli.agents.fields import short


class Suggestion(BaseModel):
    text: short(70)  # type: ignore[valid-type]
    intent: short(30) = ""  # type: ignore[valid-type]


class Suggestions(BaseModel):
    suggestions: list[Suggestion] = Field(min_length=1, max_length=4)


class Strategist(Agent[Suggestions]):
    role = "strategist"
    output = Suggestions
    variables = frozenset(
        {
            "player_role",
            "title",
            "location",
            "partner_name",
            "mood",
            "stats",
            "history",
            "memory",
            "dialogue",
        }
    )

    @classmethod
    def values(cls, ctx: StoryContext, **inputs: Any) -> dict[str, object]:
        return {**common_values(ctx), "dialogue": inputs.get("dialogue") or ""}

    @classmethod
    def schema(cls, ctx: StoryContext) -> dict[str, Any]:
        schema = super().schema(ctx)
        schema["properties"]["suggestions"]["minItems"] = 2
        schema["properties"]["suggestions"]["maxItems"] = 4
        return schema
