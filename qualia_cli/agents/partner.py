"""Partner: the character herself — dialogue, a gesture, her mood and how her feelings move."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field, field_validator

from qualia_cli.agents.base import Agent, common_values, join, partner_summary
from qualia_cli.agents.context import StoryContext
from qualia_cli.agents.fields import short
from qualia_cli.agents.profile import REACTIONS, is_small
from qualia_cli.agents.template import PromptTemplate, load_template
from qualia_cli.scenario.models import MOODS


class PartnerReply(BaseModel):
    dialogue: short(240)  # type: ignore[valid-type]
    action: short(80) = ""  # type: ignore[valid-type]
    mood: str = "neutral"
    stat_deltas: dict[str, int] = Field(default_factory=dict)
    reaction: str = ""  # the small profile's closed set (agents/profile.py REACTIONS)

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
    def full_schema(cls, ctx: StoryContext) -> dict[str, Any]:
        schema = Agent.schema.__func__(cls, ctx)  # type: ignore[attr-defined]
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
        props.pop("reaction", None)
        schema["required"] = [r for r in schema.get("required", []) if r != "reaction"]
        return schema

    @classmethod
    def prompt_agent(cls, ctx: StoryContext) -> type[Agent[Any]]:
        return PartnerSmall if is_small(ctx) else cls

    @classmethod
    def schema(cls, ctx: StoryContext) -> dict[str, Any]:
        return PartnerSmall.small_schema(ctx) if is_small(ctx) else cls.full_schema(ctx)


class PartnerSmall(Partner):
    """The Partner's prompt for small models (agents/profile.py): the story as chat turns.

    Ordered for llama.cpp's prompt cache (the context builder turns it into chat turns,
    memory/chat_turns.py): the system message never changes within a session, the turns only
    grow, and what changes every turn (lore, memories, the scene) comes last, in the player's
    message, as a bracketed note she does not read as the start of her reply.
    """

    chat_turns = True

    variables = frozenset(
        {
            "partner_name",
            "partner_summary",
            "personality",
            "speech_style",
            "likes",
            "dislikes",
            "player_role",
            "world",
            "reactions",
            "location",
            "time",
            "guidance",
            "history",
            "memory",
            "player_text",
        }
    )

    @classmethod
    def template(cls) -> PromptTemplate:
        return load_template("partner_small", cls.variables)

    @classmethod
    def values(cls, ctx: StoryContext, **inputs: Any) -> dict[str, object]:
        full = Partner.values(ctx, **inputs)
        keep = {k: v for k, v in full.items() if k in cls.variables}
        guidance = inputs.get("guidance") or ""
        keep["guidance"] = f" {guidance}" if guidance else ""
        keep["reactions"] = ", ".join(REACTIONS)
        return keep

    @classmethod
    def small_schema(cls, ctx: StoryContext) -> dict[str, Any]:
        schema = Partner.full_schema(ctx)
        props = schema["properties"]
        props.pop("stat_deltas", None)
        props["action"] = {"type": "string", "maxLength": 60}
        props["reaction"] = {"type": "string", "enum": list(REACTIONS)}
        schema["required"] = ["dialogue", "action", "mood", "reaction"]
        return schema
