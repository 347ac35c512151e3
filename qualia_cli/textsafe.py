"""One sanitiser for text from data on its way to a terminal.

Model answers, card fields, session titles, scenario names and file names may hold terminal
control sequences (ESC, CSI, OSC: window titles, clear screen, hyperlinks, clipboard writes),
carriage returns that overwrite a line, or bidirectional overrides that reorder it. Every such
character is shown as a visible escape (``\\x1b``, ``\\u202e``) instead of being obeyed.
Newlines and tabs stay unless ``one_line`` is asked for. Plain data: no Rich, no Textual.
"""

from __future__ import annotations

import re

__all__ = ["one_line", "printable"]

# C0 controls except tab and newline, DEL, C1 controls, bidi marks/embeddings/isolates,
# and the line/paragraph separators that some terminals treat as newlines.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def _shown(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every control character made visible (newlines and tabs kept)."""
    return _UNSAFE.sub(_shown, text) if _UNSAFE.search(text) else text


def one_line(text: str) -> str:
    """``printable`` for a title, a name or a path: newlines and tabs become spaces too."""
    return printable(text.replace("\r\n", " ").replace("\n", " ").replace("\t", " "))
