"""Judge: grades a transcript against one rubric. It explains first, then scores.

The explanation comes before the score in the schema (and so in the generated JSON), so the
model reasons before it commits to a number. A verdict that does not parse is a failure for
the caller, never a pass.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from qualia_cli.agents.base import Agent, join, partner_summary
from qualia_cli.agents.context import StoryContext
from qualia_cli.agents.fields import short

SCORE_MIN = 1
SCORE_MAX = 5


class JudgeVerdict(BaseModel):
    explanation: short(400)  # type: ignore[valid-type]
    score: int = Field(ge=SCORE_MIN, le=SCORE_MAX)


class Judge(Agent[JudgeVerdict]):
    role = "judge"
    output = JudgeVerdict
    uses_history = False
    variables = frozenset(
        {
            "title",
            "partner_name",
            "partner_summary",
            "personality",
            "speech_style",
            "pace",
            "rubric",
            "transcript",
            "scale_max",
        }
    )

    @classmethod
    def values(cls, ctx: StoryContext, **inputs: Any) -> dict[str, object]:
        return {
            "title": ctx.scenario.title,
            "partner_name": ctx.scenario.partner.name,
            "partner_summary": partner_summary(ctx),
            "personality": join(ctx.scenario.partner.personality),
            "speech_style": ctx.scenario.partner.speech_style,
            "pace": ctx.pace,
            "rubric": inputs["rubric"],
            "transcript": inputs["transcript"],
            "scale_max": SCORE_MAX,
        }

    @classmethod
    def schema(cls, ctx: StoryContext) -> dict[str, Any]:
        schema = super().schema(ctx)
        schema["properties"]["score"] = {
            "type": "integer",
            "minimum": SCORE_MIN,
            "maximum": SCORE_MAX,
        }
        return schema
