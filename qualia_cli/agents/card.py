"""What an imported character card adds to the Partner's prompt, as SillyTavern uses it.

- the card's system prompt: extra system instructions after qualia's own (``{{original}}``,
  SillyTavern's "the default prompt here", is dropped: qualia's instructions always come first);
- its example dialogue (``mes_example``): style examples at the end of the system message,
  split on ``<START>``, whole examples only, as many as the token budget leaves after the
  recent turns (the first thing dropped, like SillyTavern's "gradual push-out");
- its post-history instructions: after the story so far, at the end of the last message;
- its character's note (``extensions.depth_prompt``: ``prompt``, ``depth``): inside the story so
  far, ``depth`` lines before its end (0: after the last line), as SillyTavern inserts it;
- for a card imported whole (``card.original``): its description, kept verbatim as the
  partner's backstory, after qualia's instructions (where SillyTavern puts it).

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
    character: str = ""  # the card's description (the partner's backstory), filled
    depth_note: str = ""  # extensions.depth_prompt.prompt, filled
    depth: int = 4


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

    note, depth = depth_prompt(card.extensions)
    backstory = ctx.scenario.partner.backstory
    prompt = CardPrompt(
        system=fill(card.system_prompt),
        examples=[fill(b) for b in example_blocks(card.example_dialogue)],
        post_history=fill(card.post_history_instructions),
        examples_header=f"Example dialogue showing how {name} talks "
        "(style only, not part of the story):",
        character=f"About {name}:\n{fill(backstory)}" if card.original and backstory else "",
        depth_note=fill(note),
        depth=depth,
    )
    if not (
        prompt.system
        or prompt.examples
        or prompt.post_history
        or prompt.character
        or prompt.depth_note
    ):
        return None
    return prompt


def depth_prompt(extensions: dict[str, object]) -> tuple[str, int]:
    """A card's character's note: (text, depth) from ``extensions.depth_prompt``."""
    raw = extensions.get("depth_prompt")
    if not isinstance(raw, dict):
        return "", 4
    text = raw.get("prompt")
    depth = raw.get("depth", 4)
    ok = isinstance(depth, int) and not isinstance(depth, bool) and 0 <= depth <= 1000
    return (text if isinstance(text, str) else "").strip(), depth if ok else 4  # type: ignore[return-value]


def with_depth_note(history: str, card: CardPrompt | None) -> str:
    """The story so far with the character's note ``card.depth`` lines before its end."""
    if card is None or not card.depth_note:
        return history
    lines = history.split("\n")
    at = max(0, len(lines) - card.depth)
    return "\n".join([*lines[:at], f"[{card.depth_note}]", *lines[at:]])


def with_card(
    messages: list[ChatMessage], card: CardPrompt | None, examples: list[str]
) -> list[ChatMessage]:
    """``messages`` (a template's [system, user]) with the card texts added in their places."""
    if card is None:
        return messages
    out = [ChatMessage(role=m["role"], content=m["content"]) for m in messages]
    system = [out[0]["content"]]
    if card.character:
        system.append(card.character)
    if card.system:
        system.append(card.system)
    if examples:
        system.append("\n\n".join([card.examples_header, *examples]))
    out[0]["content"] = "\n\n".join(system)
    if card.post_history:
        out[-1]["content"] = f"{out[-1]['content']}\n\n{card.post_history}"
    return out
