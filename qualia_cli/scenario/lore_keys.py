"""Lorebook keys → compiled patterns (plain words, regular expressions, SillyTavern `/re/flags`).

A plain key matches as a whole word (or phrase), case-insensitively unless the entry says
otherwise. A regex key is a Python regular expression; a key written as a JavaScript literal
(`/pattern/flags`, as SillyTavern stores regex keys) is always a regex and its `i`, `m`, `s`
flags are honoured. A key that does not compile raises ``ValueError`` with the reason.

Strangers write these keys, so two guards keep a pattern from freezing a turn: a regex with
a repeated group that itself repeats (``(a+)+``, ``(\\w+\\s?)+$``: catastrophic backtracking)
is refused at load, and every search runs through the ``regex`` package with a time limit
(:func:`search`), so a pattern that still backtracks badly costs at most its budget.
"""

from __future__ import annotations

import re
import re._parser as sre_parse  # the stdlib's own pattern parser, used to inspect the tree
from functools import lru_cache
from typing import Any

import regex as rx

_LITERAL = re.compile(r"^/(.+)/([a-z]*)$", re.S)
_FLAGS = {"i": rx.IGNORECASE, "m": rx.MULTILINE, "s": rx.DOTALL}
MAX_KEY_LENGTH = 300
_REPEATS = (
    sre_parse.MAX_REPEAT,
    sre_parse.MIN_REPEAT,
    getattr(sre_parse, "POSSESSIVE_REPEAT", None),
)

Pattern = rx.Pattern


class KeyTimeout(Exception):
    """A key's search ran out of its time budget."""


@lru_cache(maxsize=4096)
def compile_key(
    key: str, *, regex: bool = False, case_sensitive: bool = False, whole_words: bool = True
) -> Pattern[str]:
    """The pattern a lorebook key stands for; ``ValueError`` if it is empty or invalid."""
    text = key.strip()
    if not text:
        raise ValueError("a lorebook key must not be empty")
    if len(text) > MAX_KEY_LENGTH:
        raise ValueError(f"a lorebook key must be at most {MAX_KEY_LENGTH} characters")
    base_flags = 0 if case_sensitive else _FLAGS["i"]
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
    return rx.compile(words, base_flags)


def _compile(shown: str, pattern: str, flags: int) -> Pattern[str]:
    try:
        tree = sre_parse.parse(pattern, flags & (re.I | re.M | re.S))
    except re.error as err:
        where = f" at position {err.pos}" if err.pos is not None else ""
        raise ValueError(f"bad regular expression {shown!r}: {err.msg}{where}") from None
    except RecursionError:
        raise ValueError(f"bad regular expression {shown!r}: nested too deeply") from None
    if _nested_repeat(tree.data, inside=False):
        raise ValueError(
            f"regular expression {shown!r} repeats a group that itself repeats "
            "(like '(a+)+'), which can take forever to match; "
            "write it without the nested repetition"
        )
    try:
        return rx.compile(pattern, flags | rx.V0)
    except rx.error as err:
        raise ValueError(f"bad regular expression {shown!r}: {err}") from None


def _nested_repeat(items: Any, *, inside: bool) -> bool:
    """True if an unbounded-ish repeat contains another repeat that can match more than once."""
    for op, av in items:
        if op in _REPEATS:
            _lo, hi, body = av
            repeats = hi is sre_parse.MAXREPEAT or hi > 1
            if inside and repeats:
                return True
            if _nested_repeat(body, inside=inside or hi is sre_parse.MAXREPEAT or hi > 16):
                return True
        elif op is sre_parse.SUBPATTERN:
            if _nested_repeat(av[-1], inside=inside):
                return True
        elif op is sre_parse.BRANCH:
            if any(_nested_repeat(alt, inside=inside) for alt in av[1]):
                return True
        elif op in (sre_parse.ASSERT, sre_parse.ASSERT_NOT):
            if _nested_repeat(av[1], inside=inside):
                return True
        elif op is getattr(sre_parse, "ATOMIC_GROUP", None):
            if _nested_repeat(av, inside=inside):
                return True
        elif op is sre_parse.GROUPREF_EXISTS:
            for alt in av[1:]:
                if alt is not None and _nested_repeat(alt, inside=inside):
                    return True
    return False


def search(pattern: Pattern[str], text: str, timeout: float) -> bool:
    """Whether ``pattern`` occurs in ``text``; :class:`KeyTimeout` past ``timeout`` seconds."""
    try:
        return pattern.search(text, timeout=max(timeout, 0.001)) is not None
    except TimeoutError:
        raise KeyTimeout(pattern.pattern) from None
