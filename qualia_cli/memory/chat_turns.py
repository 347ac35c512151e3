"""The story as chat turns, for agents that ask for it (``chat_turns``: the small profile's
Partner, agents/partner.py ``PartnerSmall``).

Ordered for llama.cpp's prompt cache: the system message never changes within a session, the
turns only grow, and what changes every turn (lore, memories, the scene) comes last, in the
player's message, as a bracketed note she does not read as the start of her reply.
"""

from __future__ import annotations

from qualia_cli.agents.context import StoryContext, message_line
from qualia_cli.llm.base import ChatMessage
from qualia_cli.llm.tokens import TokenCounter
from qualia_cli.memory.prompt import EMPTY_STORY, OMITTED_STORY, BuiltPrompt

BACKGROUND_LABELS = {
    "Lore:": "Facts of the world:",
    "Long-term memory:": "What happened before:",
    "Recalled from earlier in the story:": "Said earlier:",
}


def fit_chat_turns(
    built: BuiltPrompt, ctx: StoryContext, counter: TokenCounter, budget: int
) -> None:
    """Turn ``built`` into chat turns, counted again as such (each turn costs its template
    tokens): drop the oldest turns while over budget, keeping the system message and the
    player's line."""
    messages = as_chat_turns(built, ctx)
    total = counter.count_messages(messages)
    while total > budget and len(messages) > 2 and messages[1]["role"] != "system":
        messages.pop(1)
        if len(messages) > 2 and messages[1]["role"] == "assistant":
            messages.pop(1)  # a turn starts with the player's line
        total = counter.count_messages(messages)
    built.messages = messages
    built.trace.total = total
    built.trace.over_budget = total > budget


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
