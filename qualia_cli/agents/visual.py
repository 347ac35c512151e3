"""Visual Director: decides whether the moment deserves a picture and tags the scene for SDXL."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, field_validator

from qualia_cli.agents.base import Agent, common_values
from qualia_cli.agents.context import StoryContext
from qualia_cli.agents.fields import tag_list

FRAMINGS = ("close-up", "portrait", "upper body", "full body", "wide shot", "scenery")
Framing = Literal["close-up", "portrait", "upper body", "full body", "wide shot", "scenery"]


class VisualPlan(BaseModel):
    generate: bool = False
    framing: Framing = "upper body"
    scene_tags: tag_list(8, 30) = []  # type: ignore[valid-type]
    negative_tags: tag_list(5, 30) = []  # type: ignore[valid-type]

    @field_validator("framing", mode="before")
    @classmethod
    def _known_framing(cls, value: Any) -> Any:
        return value if value in FRAMINGS else "upper body"


class Visual(Agent[VisualPlan]):
    role = "visual"
    output = VisualPlan
    uses_history = False
    uses_memory = False  # the moment, not the past: only lore about what is in view
    variables = frozenset(
        {
            "partner_name",
            "location",
            "time",
            "scene_changed",
            "mood",
            "action",
            "dialogue",
            "narration",
            "memory",
        }
    )

    @classmethod
    def values(cls, ctx: StoryContext, **inputs: Any) -> dict[str, object]:
        base = common_values(ctx)
        return {
            "partner_name": base["partner_name"],
            "location": inputs.get("location") or base["location"],
            "time": inputs.get("time") or base["time"],
            "scene_changed": "yes" if inputs.get("scene_changed") else "no",
            "mood": inputs.get("mood") or base["mood"],
            "action": inputs.get("action") or "none",
            "dialogue": inputs.get("dialogue") or "",
            "narration": inputs.get("narration") or "none",
        }


def compose_prompt(
    plan: VisualPlan, ctx: StoryContext, location: str, time: str
) -> tuple[str, str]:
    """Positive: scenario style + stable appearance + framing + scene. Negative: both lists."""
    s = ctx.scenario
    positive: list[str] = [
        *s.images.style_tags,
        *s.partner.appearance.tags,
        plan.framing,
        *plan.scene_tags,
        location,
        time,
    ]
    negative = [*s.images.negative_tags, *plan.negative_tags]
    return _dedupe(positive), _dedupe(negative)


def _dedupe(tags: list[str]) -> str:
    seen: dict[str, None] = {}
    for tag in tags:
        t = tag.strip().strip(",").strip()
        if t and t.lower() not in {k.lower() for k in seen}:
            seen[t] = None
    return ", ".join(seen)
