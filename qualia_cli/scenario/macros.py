"""SillyTavern's card macros: ``{{char}}`` / ``{{user}}`` (and ``<BOT>`` / ``<USER>``).

Used when a card is imported (its description, first message, lore) and when a scenario's
card texts reach a prompt or a session's opening (system prompt, example dialogue,
post-history instructions, alternate greetings, kept verbatim in ``scenario.card``).
"""

from __future__ import annotations

import re

_MACROS = (
    (re.compile(r"\{\{\s*char\s*\}\}|<BOT>", re.IGNORECASE), "char"),
    (re.compile(r"\{\{\s*user\s*\}\}|<USER>", re.IGNORECASE), "user"),
)
# In a card's system prompt, SillyTavern replaces {{original}} with its own default prompt.
# qualia's own instructions always come first, so the macro is simply dropped.
_ORIGINAL = re.compile(r"\{\{\s*original\s*\}\}", re.IGNORECASE)


def fill_macros(text: str, char: str, user: str) -> str:
    """Replace ``{{char}}`` / ``{{user}}`` (and ``<BOT>`` / ``<USER>``); drop ``{{original}}``."""
    text = _ORIGINAL.sub("", text)
    for pattern, which in _MACROS:
        text = pattern.sub(char if which == "char" else user, text)
    return text
