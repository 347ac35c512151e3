"""Partner: the character herself — dialogue, a gesture, her mood and how her feelings move."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field, field_validator

from qualia_cli.agents.base import Agent, common_values, join, partner_summary
from qualia_cli.agents.context import StoryContext, message_line
from qualia_cli.agents.fields import short
from qualia_cli.agents.profile import REACTIONS, is_small
from qualia_cli.agents.template import PromptTemplate, load_template
from qualia_cli.llm.base import ChatMessage
from qualia_cli.memory.builder import EMPTY_STORY, OMITTED_STORY, BuiltPrompt, build_prompt
from qualia_cli.memory.tokens import ESTIMATE
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
    def build(cls, ctx: StoryContext, budget_tokens: int, **inputs: Any) -> BuiltPrompt:
        if is_small(ctx):
            return PartnerSmall.build(ctx, budget_tokens, **inputs)
        return super().build(ctx, budget_tokens, **inputs)

    @classmethod
    def schema(cls, ctx: StoryContext) -> dict[str, Any]:
        return PartnerSmall.small_schema(ctx) if is_small(ctx) else cls.full_schema(ctx)


class PartnerSmall(Partner):
    """The Partner's prompt for small models (agents/profile.py): the story as chat turns.

    Ordered for llama.cpp's prompt cache: the system message never changes within a session,
    the turns only grow, and what changes every turn (lore, memories, the scene) comes last,
    in the player's message, as a bracketed note she does not read as the start of her reply.
    """

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

    @classmethod
    def build(cls, ctx: StoryContext, budget_tokens: int, **inputs: Any) -> BuiltPrompt:
        built = build_prompt(cls, ctx, budget_tokens, **inputs)
        messages = as_chat_turns(built, ctx)
        # counted again as chat turns (each turn costs its template tokens): drop the oldest
        # turns while over budget, keeping the system message and the player's line
        counter = ctx.memory.counter(cls.role) if ctx.memory else ESTIMATE
        total = counter.count_messages(messages)
        while total > budget_tokens and len(messages) > 2 and messages[1]["role"] != "system":
            messages.pop(1)
            if len(messages) > 2 and messages[1]["role"] == "assistant":
                messages.pop(1)  # a turn starts with the player's line
            total = counter.count_messages(messages)
        built.messages = messages
        built.trace.total = total
        built.trace.over_budget = total > budget_tokens
        return built


def as_chat_turns(built: BuiltPrompt, ctx: StoryContext) -> list[ChatMessage]:
    """Replace the history block at the top of the user message by real chat turns: the
    player's lines (and narration) as user messages, her replies as assistant messages."""
    system, user = built.messages[0], built.messages[-1]
    by_id = {m.id: m for m in ctx.history}
    shown = [by_id[i] for i in built.history_ids if i in by_id]
    block = "\n".join(message_line(m, ctx) for m in shown) if shown else None
    content = user["content"]
    if block is not None and content.startswith(block):
        content = content[len(block) :]
    elif content.startswith((EMPTY_STORY, OMITTED_STORY)):
        content = content.split("\n", 1)[1] if "\n" in content else ""
    turns: list[ChatMessage] = []
    for m in shown:
        if m.sender == "partner":
            role, text = "assistant", m.said.strip()
        elif m.sender == "player":
            role, text = "user", m.said.strip()
        else:
            role, text = "user", f"({m.said.strip()})"
        if not text or text == "()":
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1] = ChatMessage(role=role, content=f"{turns[-1]['content']}\n{text}")
        else:
            turns.append(ChatMessage(role=role, content=text))
    content = content.strip()
    cut = content.rfind("\n[") if not content.startswith("[") else 0
    background, now = (content[:cut].strip(), content[cut:].strip()) if cut > 0 else ("", content)
    last = ChatMessage(role="user", content=now)
    if turns and turns[-1]["role"] == "user":  # two user messages in a row: join them
        last = ChatMessage(role="user", content=f"{turns.pop()['content']}\n{last['content']}")
    notes: list[ChatMessage] = []
    if background:  # lore, memories, recall: a note from the storyteller, not her words
        for header, label in BACKGROUND_LABELS.items():
            background = background.replace(header, label)
        note = f"Background, not to be read out:\n{background}"
        notes = [ChatMessage(role="system", content=note)]
    return [system, *turns, *notes, last]


BACKGROUND_LABELS = {
    "Lore:": "Facts of the world:",
    "Long-term memory:": "What happened before:",
    "Recalled from earlier in the story:": "Said earlier:",
}
