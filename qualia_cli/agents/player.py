"""Simulated player: writes the player's next line towards a goal (for `qualia eval`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from qualia_cli.agents.base import Agent, common_values
from qualia_cli.agents.context import StoryContext
from qualia_cli.agents.fields import short


class PlayerMove(BaseModel):
    say: short(160)  # type: ignore[valid-type]


class Player(Agent[PlayerMove]):
    role = "player"
    output = PlayerMove
    variables = frozenset(
        {"player_role", "title", "goal", "partner_name", "location", "mood", "history", "ideas"}
    )

    @classmethod
    def values(cls, ctx: StoryContext, **inputs: Any) -> dict[str, object]:
        ideas = [str(s.get("text", "")) for s in inputs.get("suggestions") or []]
        return {
            **common_values(ctx),
            "goal": inputs["goal"],
            "ideas": "; ".join(i for i in ideas if i) or "none",
        }
