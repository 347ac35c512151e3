"""Partner: the character herself — dialogue, a gesture, her mood and how her feelings move."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field, field_validator

from qualia_cli.agents.base import Agent, common_values, join, partner_summary
from qualia_cli.agents.context import StoryContext
from qualia_cli.agents.fields import short
from qualia_cli.scenario.models import MOODS


class PartnerReply(BaseModel):
    dialogue: short(240)  # type: ignore[valid-type]
    action: short(80) = ""  # type: ignore[valid-type]
    mood: str = "neutral"
    stat_deltas: dict[str, int] = Field(default_factory=dict)

    @field_validator("mood", mode="before")
    @classmethod
    def _known_mood(cls, value: Any) -> Any:
        text = str(value).strip().lower()
        return text if text in MOODS else "neutral"


class Partner(Agent[PartnerReply]):
    role = "partner"
    output = PartnerReply
    uses_recall = True
    uses_card = True
    variables = frozenset(
        {
            "partner_name",
            "partner_summary",
            "personality",
            "speech_style",
            "likes",
            "dislikes",
            "secrets",
            "player_role",
            "world",
            "delta_range",
            "stat_names",
            "location",
            "time",
            "mood",
            "stats",
            "guidance",
            "history",
            "memory",
            "player_text",
            "example",
        }
    )

    @classmethod
    def values(cls, ctx: StoryContext, **inputs: Any) -> dict[str, object]:
        s = ctx.scenario
        p = s.partner
        max_delta = int(ctx.extras.get("max_stat_delta", 5))
        return {
            **common_values(ctx),
            "partner_summary": partner_summary(ctx),
            "personality": join(p.personality),
            "speech_style": p.speech_style,
            "likes": join(p.likes),
            "dislikes": join(p.dislikes),
            "secrets": join(p.secrets),
            "world": s.setting.world,
            "delta_range": f"-{max_delta} to +{max_delta}",
            "stat_names": join([st.name for st in s.stats]),
            "guidance": inputs.get("guidance") or "respond naturally",
            "player_text": ctx.player_text,
            "example": json.dumps(
                {
                    "dialogue": s.first_message or "Hm. Go on.",
                    "action": "looks up",
                    "mood": s.starting_mood,
                    "stat_deltas": {st.name: 0 for st in s.stats},
                },
                ensure_ascii=False,
            ),
        }

    @classmethod
    def schema(cls, ctx: StoryContext) -> dict[str, Any]:
        schema = super().schema(ctx)
        max_delta = int(ctx.extras.get("max_stat_delta", 5))
        names = [st.name for st in ctx.scenario.stats]
        props = schema["properties"]
        props["mood"] = {"type": "string", "enum": list(MOODS)}
        props["stat_deltas"] = {
            "type": "object",
            "properties": {
                n: {"type": "integer", "minimum": -max_delta, "maximum": max_delta} for n in names
            },
            "required": names,
            "additionalProperties": False,
        }
        return schema
