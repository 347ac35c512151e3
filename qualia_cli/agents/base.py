"""An agent describes its prompt: a template, the values that fill it, an output schema, and
which parts of the context it wants (history, memory, recall, lore, a card).

Agents never call a model and never build their own prompt: the engine does, with the context
builder (memory/builder.py ``build_prompt``, which fits the parts to a token budget) and the
agent's schema. Agents import nothing from memory/.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel

from qualia_cli.agents.context import StoryContext
from qualia_cli.agents.template import PromptTemplate, load_template
from qualia_cli.llm.schema import schema_for

T = TypeVar("T", bound=BaseModel)


class Agent(Generic[T]):
    role: ClassVar[str]
    output: type[T]
    variables: ClassVar[frozenset[str]]
    # what the context builder may put into the prompt (templates opt in with {{history}} and
    # {{memory}}; see qualia_cli/memory/builder.py)
    uses_history: ClassVar[bool] = True
    uses_memory: ClassVar[bool] = True  # long-term memory
    uses_recall: ClassVar[bool] = False  # recalled snippets for this turn
    uses_lore: ClassVar[bool] = True  # lorebook entries triggered by recent turns
    uses_card: ClassVar[bool] = False  # an imported card's texts (agents/card.py)
    history_mode: ClassVar[str] = "recent"  # "recent": newest turns; "fold": inputs["fold"]
    chat_turns: ClassVar[bool] = False  # the story as user/assistant turns (memory/chat_turns.py)

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
    def prompt_agent(cls, ctx: StoryContext) -> type[Agent[Any]]:
        """The agent whose prompt describes this turn (a variant, e.g. for small models)."""
        return cls


@cache
def _cached_schema(output: type[BaseModel]) -> dict[str, Any]:
    return schema_for(output)


def join(items: list[str], empty: str = "none") -> str:
    """A list as text: words and phrases with commas; whole sentences with spaces (never
    "…told no one., Her younger…")."""
    kept = [i.strip() for i in items if i and i.strip()]
    if any(i[-1] in ".!?…" for i in kept):
        return " ".join(i if i[-1] in ".!?…\"'" else f"{i}." for i in kept) or empty
    return ", ".join(kept) or empty


def partner_summary(ctx: StoryContext) -> str:
    p = ctx.scenario.partner
    what = "" if p.occupation == "unspecified" else f" {p.occupation}"
    return f"a {p.age}-year-old {p.gender}{what}"


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
