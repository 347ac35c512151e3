"""Tokens of the ending condition language (see condition_syntax.py for the grammar).

A lexical error becomes a "bad" token, so the parser reports errors in reading order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


class ConditionError(ValueError):
    """A condition that does not compile (or cannot be evaluated).

    ``offset`` is the 0-based character offset of the problem inside the condition text.
    """

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


TokenKind = Literal["name", "int", "str", "op", "(", ")", "[", "]", ",", "-", "bad", "end"]


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    value: str
    offset: int

    def show(self) -> str:
        return "the end of the condition" if self.kind == "end" else repr(self.value)


def tokenize(text: str) -> list[Token]:
    """Tokens up to the end, or up to a "bad" token carrying the lexical error.

    A lexical error becomes a token so that errors are reported in reading order
    (``lambda: 1`` complains about ``lambda`` before ``:``).
    """
    tokens: list[Token] = []
    try:
        _scan(text, tokens)
    except ConditionError as e:
        tokens.append(Token("bad", e.message, e.offset))
    tokens.append(Token("end", "", len(text)))
    return tokens


_DIGITS = frozenset("0123456789")


def _scan(text: str, tokens: list[Token]) -> None:
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in _DIGITS:  # ASCII only: '²'.isdigit() is true but int('²') fails
            j = i
            while j < n and text[j] in _DIGITS:
                j += 1
            if j < n and text[j] == ".":
                raise ConditionError("only whole numbers are allowed", i)
            if j < n and (text[j].isalpha() or text[j] == "_"):
                while j < n and (text[j].isalnum() or text[j] == "_"):
                    j += 1
                raise ConditionError(f"invalid number {text[i:j]!r}", i)
            tokens.append(Token("int", text[i:j], i))
            i = j
        elif ch.isalpha() or ch == "_":
            j = i
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            tokens.append(Token("name", text[i:j], i))
            i = j
        elif ch in "'\"":
            end = text.find(ch, i + 1)
            if end < 0 or "\n" in text[i:end]:
                raise ConditionError("unterminated text: add the closing quote", i)
            if "\\" in text[i:end]:
                raise ConditionError("backslashes are not allowed in text", i + 1)
            tokens.append(Token("str", text[i + 1 : end], i))
            i = end + 1
        elif text.startswith(("<=", ">=", "==", "!="), i):
            tokens.append(Token("op", text[i : i + 2], i))
            i += 2
        elif ch in "<>":
            tokens.append(Token("op", ch, i))
            i += 1
        elif ch in "()[],-":
            tokens.append(Token(ch, ch, i))  # type: ignore[arg-type]
            i += 1
        else:
            raise ConditionError(_bad_char_message(text, i), i)


def _bad_char_message(text: str, i: int) -> str:
    ch = text[i]
    hints = {
        "=": "use '==' to compare",
        "!": "use 'not' or '!='",
        "&": "use 'and'",
        "|": "use 'or'",
        ".": "attribute access is not allowed",
        "+": "arithmetic is not allowed",
        "*": "arithmetic is not allowed",
        "/": "arithmetic is not allowed",
        "%": "arithmetic is not allowed",
        ":": "only comparisons joined by and/or/not are allowed",
        "{": "only comparisons joined by and/or/not are allowed",
    }
    hint = hints.get(ch)
    return f"unexpected character {ch!r}" + (f": {hint}" if hint else "")
