"""What an imported character card adds to the Partner's prompt, as SillyTavern uses it.

- the card's system prompt: extra system instructions after qualia's own (``{{original}}``,
  SillyTavern's "the default prompt here", is dropped: qualia's instructions always come first);
- its example dialogue (``mes_example``): style examples at the end of the system message,
  split on ``<START>``, whole examples only, as many as the token budget leaves after the
  recent turns (the first thing dropped, like SillyTavern's "gradual push-out");
- its post-history instructions: after the story so far, at the end of the last message.

``{{char}}`` / ``{{user}}`` become the partner's and the player's names. A scenario without
card texts (every hand-written one) gets no card part at all: its prompts are unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from qualia_cli.agents.context import StoryContext
from qualia_cli.llm.base import ChatMessage
from qualia_cli.scenario.macros import fill_macros

_START = re.compile(r"^\s*<START>\s*$", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class CardPrompt:
    system: str = ""
    examples: list[str] = field(default_factory=list)  # one dialogue each, oldest first
    post_history: str = ""
    examples_header: str = "Example dialogue (style only, not part of the story):"


def example_blocks(text: str) -> list[str]:
    """A ``mes_example`` split into its dialogues (``<START>`` lines separate them)."""
    return [block.strip() for block in _START.split(text) if block.strip()]


def card_prompt(ctx: StoryContext) -> CardPrompt | None:
    """The card texts for the Partner's prompt, macros filled; None when there are none."""
    card = ctx.scenario.card
    if card is None:
        return None
    name = ctx.scenario.partner.name

    def fill(text: str) -> str:
        return fill_macros(text, name, ctx.player_name).strip()

    prompt = CardPrompt(
        system=fill(card.system_prompt),
        examples=[fill(b) for b in example_blocks(card.example_dialogue)],
        post_history=fill(card.post_history_instructions),
        examples_header=f"Example dialogue showing how {name} talks "
        "(style only, not part of the story):",
    )
    if not (prompt.system or prompt.examples or prompt.post_history):
        return None
    return prompt


def with_card(
    messages: list[ChatMessage], card: CardPrompt | None, examples: list[str]
) -> list[ChatMessage]:
    """``messages`` (a template's [system, user]) with the card texts added in their places."""
    if card is None:
        return messages
    out = [ChatMessage(role=m["role"], content=m["content"]) for m in messages]
    system = [out[0]["content"]]
    if card.system:
        system.append(card.system)
    if examples:
        system.append("\n\n".join([card.examples_header, *examples]))
    out[0]["content"] = "\n\n".join(system)
    if card.post_history:
        out[-1]["content"] = f"{out[-1]['content']}\n\n{card.post_history}"
    return out
