"""Lorebook keys → compiled patterns (plain words, regular expressions, SillyTavern `/re/flags`).

A plain key matches as a whole word (or phrase), case-insensitively unless the entry says
otherwise. A regex key is a Python regular expression; a key written as a JavaScript literal
(`/pattern/flags`, as SillyTavern stores regex keys) is always a regex and its `i`, `m`, `s`
flags are honoured. A key that does not compile raises ``ValueError`` with the reason.
"""

from __future__ import annotations

import re
from functools import lru_cache

_LITERAL = re.compile(r"^/(.+)/([a-z]*)$", re.S)
_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}
MAX_KEY_LENGTH = 300


@lru_cache(maxsize=4096)
def compile_key(
    key: str, *, regex: bool = False, case_sensitive: bool = False, whole_words: bool = True
) -> re.Pattern[str]:
    """The pattern a lorebook key stands for; ``ValueError`` if it is empty or invalid."""
    text = key.strip()
    if not text:
        raise ValueError("a lorebook key must not be empty")
    if len(text) > MAX_KEY_LENGTH:
        raise ValueError(f"a lorebook key must be at most {MAX_KEY_LENGTH} characters")
    base_flags = 0 if case_sensitive else re.IGNORECASE
    literal = _LITERAL.match(text)
    if literal:
        pattern, flag_text = literal.groups()
        flags = 0
        for ch in flag_text:
            flags |= _FLAGS.get(ch, 0)  # g, y, u, d: no meaning for a search
        return _compile(text, pattern, flags)
    if regex:
        return _compile(text, text, base_flags)
    words = r"\s+".join(re.escape(w) for w in text.split())
    if whole_words:
        words = rf"(?<!\w){words}(?!\w)"
    return re.compile(words, base_flags)


def _compile(shown: str, pattern: str, flags: int) -> re.Pattern[str]:
    try:
        return re.compile(pattern, flags)
    except re.error as err:
        where = f" at position {err.pos}" if err.pos is not None else ""
        raise ValueError(f"bad regular expression {shown!r}: {err.msg}{where}") from None
