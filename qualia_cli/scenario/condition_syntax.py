"""Syntax of the ending condition language: tokenizer, typed tree, recursive-descent parser.

Nothing here calls ``eval``. The parser type-checks as it goes (numbers vs text vs
conditions) so that mistakes surface when a scenario loads, not mid-story.

Grammar (``and`` binds tighter than ``or``; comparisons chain as in Python)::

    condition  := or_expr
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | comparison
    comparison := operand (compare_op operand)*
    compare_op := "<" | "<=" | ">" | ">=" | "==" | "!=" | "in" | "not" "in"
    operand    := NAME | INT | "-" INT | STRING | "(" or_expr ")" | "[" literal ("," literal)* "]"

Names are the scenario's stats (whole numbers) plus ``turn`` (whole number) and
``mood``, ``location``, ``time`` (text). Anything else — function calls, attribute
access, arithmetic, lambdas, comprehensions — is rejected with a message and the
character offset of the problem.
"""

from __future__ import annotations

import difflib
import keyword
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "CONTEXT_NAMES",
    "INT_NAMES",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "STRING_NAMES",
    "BoolOp",
    "Compare",
    "ConditionError",
    "ListLit",
    "Lit",
    "NameRef",
    "Node",
    "Not",
    "Parsed",
    "parse",
]

STRING_NAMES: tuple[str, ...] = ("mood", "location", "time")
INT_NAMES: tuple[str, ...] = ("turn",)
CONTEXT_NAMES: tuple[str, ...] = ("mood", "location", "time", "turn")
"""Names every condition may use besides the scenario's stats (reserved: no stat may use them)."""

MAX_LENGTH = 500
MAX_DEPTH = 16

_KEYWORDS = frozenset({"and", "or", "not", "in"})
_COMPARE_OPS = frozenset({"<", "<=", ">", ">=", "==", "!="})
_ORDER_OPS = frozenset({"<", "<=", ">", ">="})
_FOREIGN_WORDS = frozenset(keyword.kwlist) - _KEYWORDS - {"True", "False", "None"}


class ConditionError(ValueError):
    """A condition that does not compile (or cannot be evaluated).

    ``offset`` is the 0-based character offset of the problem inside the condition text.
    """

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


# --------------------------------------------------------------------------- tokens

TokenKind = Literal["name", "int", "str", "op", "(", ")", "[", "]", ",", "-", "bad", "end"]


@dataclass(frozen=True, slots=True)
class _Token:
    kind: TokenKind
    value: str
    offset: int

    def show(self) -> str:
        return "the end of the condition" if self.kind == "end" else repr(self.value)


def _tokenize(text: str) -> list[_Token]:
    """Tokens up to the end, or up to a "bad" token carrying the lexical error.

    A lexical error becomes a token so that errors are reported in reading order
    (``lambda: 1`` complains about ``lambda`` before ``:``).
    """
    tokens: list[_Token] = []
    try:
        _scan(text, tokens)
    except ConditionError as e:
        tokens.append(_Token("bad", e.message, e.offset))
    tokens.append(_Token("end", "", len(text)))
    return tokens


def _scan(text: str, tokens: list[_Token]) -> None:
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch.isdigit():
            j = i
            while j < n and text[j].isdigit():
                j += 1
            if j < n and text[j] == ".":
                raise ConditionError("only whole numbers are allowed", i)
            if j < n and (text[j].isalpha() or text[j] == "_"):
                while j < n and (text[j].isalnum() or text[j] == "_"):
                    j += 1
                raise ConditionError(f"invalid number {text[i:j]!r}", i)
            tokens.append(_Token("int", text[i:j], i))
            i = j
        elif ch.isalpha() or ch == "_":
            j = i
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            tokens.append(_Token("name", text[i:j], i))
            i = j
        elif ch in "'\"":
            end = text.find(ch, i + 1)
            if end < 0 or "\n" in text[i:end]:
                raise ConditionError("unterminated text: add the closing quote", i)
            if "\\" in text[i:end]:
                raise ConditionError("backslashes are not allowed in text", i + 1)
            tokens.append(_Token("str", text[i + 1 : end], i))
            i = end + 1
        elif text.startswith(("<=", ">=", "==", "!="), i):
            tokens.append(_Token("op", text[i : i + 2], i))
            i += 2
        elif ch in "<>":
            tokens.append(_Token("op", ch, i))
            i += 1
        elif ch in "()[],-":
            tokens.append(_Token(ch, ch, i))  # type: ignore[arg-type]
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


# --------------------------------------------------------------------------- tree

Type = Literal["int", "str", "bool", "list[int]", "list[str]"]
Scalar = int | str


@dataclass(frozen=True, slots=True)
class NameRef:
    name: str
    offset: int


@dataclass(frozen=True, slots=True)
class Lit:
    value: Scalar
    offset: int


@dataclass(frozen=True, slots=True)
class ListLit:
    items: tuple[Scalar, ...]
    offsets: tuple[int, ...]
    offset: int


@dataclass(frozen=True, slots=True)
class Compare:
    first: Node
    rest: tuple[tuple[str, Node], ...]


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node


@dataclass(frozen=True, slots=True)
class BoolOp:
    op: Literal["and", "or"]
    values: tuple[Node, ...]


Node = NameRef | Lit | ListLit | Compare | Not | BoolOp
_SubParser = Callable[[], tuple[Node, Type]]


_TYPE_WORDS: dict[str, str] = {
    "int": "a number",
    "str": "text",
    "bool": "a condition",
    "list[int]": "a list of numbers",
    "list[str]": "a list of text",
}


def _ordered_known(known: frozenset[str]) -> list[str]:
    return sorted(known - set(CONTEXT_NAMES)) + list(CONTEXT_NAMES)


class _Parser:
    def __init__(self, text: str, known: frozenset[str]) -> None:
        self.text = text
        self.known = known
        self.tokens = _tokenize(text)
        self.pos = 0
        self.depth = 0
        self.names: set[str] = set()
        self.literals: list[tuple[str, str, int]] = []

    # helpers
    @property
    def tok(self) -> _Token:
        t = self.tokens[self.pos]
        if t.kind == "bad":
            raise ConditionError(t.value, t.offset)
        return t

    def peek(self, k: int = 1) -> _Token:
        return self.tokens[min(self.pos + k, len(self.tokens) - 1)]

    def advance(self) -> _Token:
        t = self.tok
        self.pos += 1
        return t

    def is_word(self, word: str, tok: _Token | None = None) -> bool:
        t = tok or self.tok
        return t.kind == "name" and t.value == word

    def error(self, message: str, tok: _Token | None = None) -> ConditionError:
        return ConditionError(message, (tok or self.tok).offset)

    # grammar
    def parse(self) -> Node:
        start = self.tok
        node, typ = self.or_expr()
        if self.tok.kind != "end":
            t = self.tok
            if t.kind == "(":
                raise self.error("function calls are not allowed", t)
            raise self.error(
                f"unexpected {t.show()} after a complete condition; "
                "join conditions with 'and' or 'or'",
                t,
            )
        if typ != "bool":
            raise self.error(
                f"a condition must compare something, e.g. 'trust >= 50' "
                f"(this is just {_TYPE_WORDS[typ]})",
                start,
            )
        return node

    def or_expr(self) -> tuple[Node, Type]:
        return self._bool_chain("or", self.and_expr)

    def and_expr(self) -> tuple[Node, Type]:
        return self._bool_chain("and", self.not_expr)

    def _bool_chain(self, op: Literal["and", "or"], sub: _SubParser) -> tuple[Node, Type]:
        first_tok = self.tok
        node, typ = sub()
        if not self.is_word(op):
            return node, typ
        self._need_bool(typ, first_tok, op)
        values = [node]
        while self.is_word(op):
            self.advance()
            t = self.tok
            value, vtyp = sub()
            self._need_bool(vtyp, t, op)
            values.append(value)
        return BoolOp(op, tuple(values)), "bool"

    def _need_bool(self, typ: Type, tok: _Token, op: str) -> None:
        if typ != "bool":
            what = "joins conditions" if op in ("and", "or") else "needs a condition"
            raise self.error(
                f"'{op}' {what}, but this is {_TYPE_WORDS[typ]}; "
                "write a comparison such as 'trust >= 50'",
                tok,
            )

    def not_expr(self) -> tuple[Node, Type]:
        if self.is_word("not"):
            self.advance()
            t = self.tok
            node, typ = self.not_expr()
            self._need_bool(typ, t, "not")
            return Not(node), "bool"
        return self.comparison()

    def _compare_op(self) -> str | None:
        t = self.tok
        if t.kind == "op" and t.value in _COMPARE_OPS:
            return t.value
        if self.is_word("in"):
            return "in"
        if self.is_word("not") and self.is_word("in", self.peek()):
            return "not in"
        return None

    def comparison(self) -> tuple[Node, Type]:
        left_tok = self.tok
        first, left_typ = self.operand()
        rest: list[tuple[str, Node]] = []
        left_node: Node = first
        while (op := self._compare_op()) is not None:
            op_tok = self.advance()
            if op == "not in":
                self.advance()
            right_tok = self.tok
            right, right_typ = self.operand()
            self._check_pair(op, left_typ, right_typ, left_tok, op_tok, right_tok)
            self._note_literal(op, left_node, right)
            rest.append((op, right))
            left_node, left_typ, left_tok = right, right_typ, right_tok
        if not rest:
            return first, left_typ
        return Compare(first, tuple(rest)), "bool"

    def _check_pair(
        self, op: str, lt: Type, rt: Type, left_tok: _Token, op_tok: _Token, right_tok: _Token
    ) -> None:
        if lt == "bool" or lt.startswith("list"):
            raise self.error(f"cannot use '{op}' on {_TYPE_WORDS[lt]}", left_tok)
        if op in ("in", "not in"):
            if not rt.startswith("list"):
                raise self.error(
                    f'\'{op}\' needs a list on its right, e.g. mood in ["happy", "playful"]',
                    right_tok,
                )
            if rt != f"list[{lt}]":
                raise self.error(
                    f"cannot look for {_TYPE_WORDS[lt]} in {_TYPE_WORDS[rt]}", right_tok
                )
            return
        if rt == "bool" or rt.startswith("list"):
            raise self.error(f"cannot use '{op}' on {_TYPE_WORDS[rt]}", right_tok)
        if op in _ORDER_OPS and (lt == "str" or rt == "str"):
            raise self.error(
                f"'{op}' compares numbers; text can only be compared with ==, != or in", op_tok
            )
        if lt != rt:
            raise self.error(f"cannot compare {_TYPE_WORDS[lt]} with {_TYPE_WORDS[rt]}", op_tok)

    def _note_literal(self, op: str, left: Node, right: Node) -> None:
        if op not in ("==", "!=", "in", "not in"):
            return
        pairs = [(left, right), (right, left)]
        for name_node, other in pairs:
            if not isinstance(name_node, NameRef):
                continue
            if isinstance(other, Lit) and isinstance(other.value, str):
                self.literals.append((name_node.name, other.value, other.offset))
            elif isinstance(other, ListLit):
                for value, off in zip(other.items, other.offsets, strict=True):
                    if isinstance(value, str):
                        self.literals.append((name_node.name, value, off))

    def operand(self) -> tuple[Node, Type]:
        t = self.tok
        if t.kind == "(":
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.error("too many nested parentheses", t)
            self.advance()
            node, typ = self.or_expr()
            if self.tok.kind != ")":
                raise self.error(f"expected ')' to close the '(' at {t.offset + 1}", self.tok)
            self.advance()
            self.depth -= 1
            return node, typ
        if t.kind == "[":
            return self.list_literal()
        if t.kind in ("int", "str", "-"):
            value = self.scalar_literal()
            return Lit(value, t.offset), "int" if isinstance(value, int) else "str"
        if t.kind == "name":
            return self.name()
        if t.kind == "end":
            raise self.error("the condition ends too early: expected a name, number or text")
        raise self.error(f"expected a name, number or text, found {t.show()}")

    def scalar_literal(self) -> Scalar:
        t = self.advance()
        if t.kind == "int":
            return int(t.value)
        if t.kind == "str":
            return t.value
        if t.kind == "-" and self.tok.kind == "int":
            return -int(self.advance().value)
        raise self.error("'-' may only start a negative number; arithmetic is not allowed", t)

    def list_literal(self) -> tuple[Node, Type]:
        open_tok = self.advance()
        items: list[Scalar] = []
        offsets: list[int] = []
        item_type: str | None = None
        while self.tok.kind != "]":
            t = self.tok
            if t.kind not in ("int", "str", "-"):
                if t.kind == "end":
                    raise self.error("unclosed '[': add ']'", open_tok)
                raise self.error(
                    f"lists may only hold numbers or text, found {t.show()}"
                    + (" (comprehensions are not allowed)" if self.is_word("for") else ""),
                    t,
                )
            value = self.scalar_literal()
            typ = "int" if isinstance(value, int) else "str"
            if item_type is not None and typ != item_type:
                raise self.error("a list must hold only numbers or only text", t)
            item_type = typ
            items.append(value)
            offsets.append(t.offset)
            if self.tok.kind == ",":
                self.advance()
            elif self.tok.kind != "]":
                found = self.tok
                extra = " (comprehensions are not allowed)" if self.is_word("for") else ""
                raise self.error(f"expected ',' or ']' in the list, found {found.show()}{extra}")
        self.advance()
        if not items:
            raise self.error("the list is empty", open_tok)
        node = ListLit(tuple(items), tuple(offsets), open_tok.offset)
        return node, "list[int]" if item_type == "int" else "list[str]"

    def name(self) -> tuple[Node, Type]:
        t = self.advance()
        word = t.value
        if word in _KEYWORDS:
            raise self.error(f"expected a name, number or text, found '{word}'", t)
        if word in ("True", "False", "None") or word in _FOREIGN_WORDS:
            raise self.error(f"'{word}' is not part of the condition language", t)
        if self.tokens[self.pos].kind == "(":
            raise self.error(f"function calls are not allowed ('{word}(...)')", t)
        if word not in self.known:
            known = _ordered_known(self.known)
            msg = f"unknown name '{word}' (known: {', '.join(known)})"
            close = difflib.get_close_matches(word, known, n=1)
            if close:
                msg += f"; did you mean '{close[0]}'?"
            raise self.error(msg, t)
        self.names.add(word)
        return NameRef(word, t.offset), "str" if word in STRING_NAMES else "int"


@dataclass(frozen=True)
class Parsed:
    """A parsed, type-checked condition."""

    root: Node
    names: frozenset[str]
    literals: tuple[tuple[str, str, int], ...]


def parse(text: str, known_names: set[str] | frozenset[str]) -> Parsed:
    """Parse and type-check ``text``; ``mood``, ``location``, ``time``, ``turn`` are implied."""
    if len(text) > MAX_LENGTH:
        raise ConditionError(f"condition is too long (over {MAX_LENGTH} characters)", MAX_LENGTH)
    if not text.strip():
        raise ConditionError("condition is empty", 0)
    parser = _Parser(text, frozenset(known_names) | frozenset(CONTEXT_NAMES))
    root = parser.parse()
    return Parsed(root, frozenset(parser.names), tuple(parser.literals))
