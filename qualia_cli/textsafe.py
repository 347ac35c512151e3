"""One sanitiser for text from data on its way to a terminal.

Model answers, card fields, session titles, scenario names and file names may hold terminal
control sequences (ESC, CSI, OSC: window titles, clear screen, hyperlinks, clipboard writes),
carriage returns that overwrite a line, or bidirectional overrides that reorder it. Every such
character is shown as a visible escape (``\\x1b``, ``\\u202e``) instead of being obeyed.
Newlines and tabs stay unless ``one_line`` is asked for. Plain data: no Rich, no Textual.
"""

from __future__ import annotations

import re

__all__ = ["one_line", "printable", "visible_controls"]

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


def visible_controls() -> dict[int, str]:
    """The same rule as ``printable`` as a ``str.translate`` table: every unsafe code point
    mapped to its visible escape (for renderers that filter text through a table)."""
    codes = [*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)]
    codes += [0x061C, 0x200E, 0x200F, 0x2028, 0x2029, *range(0x202A, 0x202F)]
    codes += list(range(0x2066, 0x206A))
    return {c: _shown(_UNSAFE.match(chr(c))) for c in codes}  # type: ignore[arg-type]
