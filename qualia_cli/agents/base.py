"""An agent is a prompt template, an output schema and a pure `context -> messages` function.

Agents never call a model themselves: the engine does, with the messages and schema they build.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel

from qualia_cli.agents.context import StoryContext, estimate_tokens, history_text
from qualia_cli.agents.template import PromptTemplate, load_template
from qualia_cli.llm.base import ChatMessage
from qualia_cli.llm.schema import schema_for

T = TypeVar("T", bound=BaseModel)


class Agent(Generic[T]):
    role: ClassVar[str]
    output: type[T]
    variables: ClassVar[frozenset[str]]
    uses_history: ClassVar[bool] = True

    @classmethod
    def template(cls) -> PromptTemplate:
        return load_template(cls.role, cls.variables)

    @classmethod
    def values(cls, ctx: StoryContext, **inputs: Any) -> dict[str, object]:
        raise NotImplementedError

    @classmethod
    def schema(cls, ctx: StoryContext) -> dict[str, Any]:
        """The JSON schema sent to the model (agents narrow it per scenario; this is a copy)."""
        return copy.deepcopy(_cached_schema(cls.output))

    @classmethod
    def messages(cls, ctx: StoryContext, budget_tokens: int, **inputs: Any) -> list[ChatMessage]:
        """Render the prompt, filling `history` with as many recent lines as the budget allows."""
        values = cls.values(ctx, **inputs)
        template = cls.template()
        if cls.uses_history:
            values["history"] = ""
            fixed = sum(estimate_tokens(m["content"]) for m in template.render(values))
            values["history"] = history_text(ctx, max(0, budget_tokens - fixed))
        return template.render(values)


@cache
def _cached_schema(output: type[BaseModel]) -> dict[str, Any]:
    return schema_for(output)


def join(items: list[str], empty: str = "none") -> str:
    return ", ".join(i for i in items if i) or empty


def partner_summary(ctx: StoryContext) -> str:
    p = ctx.scenario.partner
    return f"a {p.age}-year-old {p.gender} {p.occupation}"


def common_values(ctx: StoryContext) -> dict[str, object]:
    s = ctx.scenario
    return {
        "title": s.title,
        "partner_name": s.partner.name,
        "player_role": s.player.role,
        "location": ctx.state.location or s.setting.start_location,
        "time": ctx.state.time or s.setting.start_time,
        "mood": ctx.state.mood,
        "stats": ", ".join(
            f"{st.name} {ctx.state.stats.get(st.name, st.start)}/{st.max}" for st in s.stats
        ),
    }
