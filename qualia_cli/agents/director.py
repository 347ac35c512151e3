"""Scenario Director: plans the beat (what happens, where and when, guidance for the partner)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from qualia_cli.agents.base import Agent, common_values, join, partner_summary
from qualia_cli.agents.context import StoryContext, world_text
from qualia_cli.agents.fields import short

PACE_RULES = {
    "slow": "let moments breathe; change scene rarely; small steps.",
    "medium": "keep the story moving; change scene when it feels natural.",
    "fast": "move briskly; introduce a development every beat.",
}


TIMES_OF_DAY = (
    "dawn",
    "morning",
    "noon",
    "afternoon",
    "late afternoon",
    "evening",
    "dusk",
    "night",
    "midnight",
)


class WorldFact(BaseModel):
    key: short(24)  # type: ignore[valid-type]
    value: short(60)  # type: ignore[valid-type]


class DirectorPlan(BaseModel):
    beat: short(120)  # type: ignore[valid-type]
    narration: short(160) = ""  # type: ignore[valid-type]
    partner_guidance: short(100) = ""  # type: ignore[valid-type]
    location: short(60) = ""  # type: ignore[valid-type]
    time: short(30) = ""  # type: ignore[valid-type]
    scene_changed: bool = False
    world_updates: list[WorldFact] = Field(default_factory=list, max_length=2)
    ending: short(32) = "none"  # type: ignore[valid-type]


class Director(Agent[DirectorPlan]):
    role = "director"
    output = DirectorPlan
    uses_recall = True
    variables = frozenset(
        {
            "title",
            "genre",
            "pace",
            "rating",
            "world",
            "player_role",
            "partner_name",
            "partner_summary",
            "locations",
            "endings",
            "pace_rule",
            "location",
            "time",
            "turn",
            "mood",
            "stats",
            "world_facts",
            "history",
            "memory",
            "player_text",
        }
    )

    @classmethod
    def values(cls, ctx: StoryContext, **inputs: Any) -> dict[str, object]:
        s = ctx.scenario
        return {
            **common_values(ctx),
            "genre": s.genre,
            "pace": ctx.pace,
            "rating": ctx.rating,
            "world": s.setting.world,
            "partner_summary": partner_summary(ctx),
            "locations": join(s.setting.locations, "anywhere that fits the world"),
            "endings": join([f"{e.id} ({e.title})" for e in s.endings]),
            "pace_rule": PACE_RULES.get(ctx.pace, PACE_RULES["medium"]),
            "turn": ctx.turn,
            "world_facts": world_text(ctx),
            "player_text": ctx.player_text,
        }

    @classmethod
    def schema(cls, ctx: StoryContext) -> dict[str, Any]:
        schema = super().schema(ctx)
        props = schema["properties"]
        places = list(dict.fromkeys([*ctx.scenario.setting.locations, ctx.state.location]))
        places = [p for p in places if p]
        if ctx.scenario.setting.locations:
            props["location"] = {"type": "string", "enum": places}
        times = list(dict.fromkeys([ctx.state.time, *TIMES_OF_DAY]))
        props["time"] = {"type": "string", "enum": [t for t in times if t]}
        props["world_updates"]["maxItems"] = 2
        props["ending"] = {
            "type": "string",
            "enum": ["none", *(e.id for e in ctx.scenario.endings)],
        }
        return schema
