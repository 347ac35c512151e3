"""Syntax of the ending condition language: the recursive-descent parser.

Nothing here calls ``eval``. condition_tokens.py splits the text into tokens; the parser
builds the typed tree of condition_tree.py and type-checks as it goes (numbers vs text vs
conditions, with that module's rules) so that mistakes surface when a scenario loads, not
mid-story. conditions.py evaluates the tree.

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

from qualia_cli.scenario.condition_tokens import ConditionError, Token, tokenize
from qualia_cli.scenario.condition_tree import (
    TYPE_WORDS,
    BoolOp,
    Compare,
    ListLit,
    Lit,
    NameRef,
    Node,
    Not,
    Scalar,
    Type,
    check_pair,
    need_bool,
)

__all__ = [
    "CONTEXT_NAMES",
    "INT_NAMES",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "STRING_NAMES",
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
_FOREIGN_WORDS = frozenset(keyword.kwlist) - _KEYWORDS - {"True", "False", "None"}

_SubParser = Callable[[], tuple[Node, Type]]


def _ordered_known(known: frozenset[str]) -> list[str]:
    return sorted(known - set(CONTEXT_NAMES)) + list(CONTEXT_NAMES)


class _Parser:
    def __init__(self, text: str, known: frozenset[str]) -> None:
        self.text = text
        self.known = known
        self.tokens = tokenize(text)
        self.pos = 0
        self.depth = 0
        self.names: set[str] = set()
        self.literals: list[tuple[str, str, int]] = []

    # helpers
    @property
    def tok(self) -> Token:
        t = self.tokens[self.pos]
        if t.kind == "bad":
            raise ConditionError(t.value, t.offset)
        return t

    def peek(self, k: int = 1) -> Token:
        return self.tokens[min(self.pos + k, len(self.tokens) - 1)]

    def advance(self) -> Token:
        t = self.tok
        self.pos += 1
        return t

    def is_word(self, word: str, tok: Token | None = None) -> bool:
        t = tok or self.tok
        return t.kind == "name" and t.value == word

    def error(self, message: str, tok: Token | None = None) -> ConditionError:
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
                f"(this is just {TYPE_WORDS[typ]})",
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
        need_bool(typ, first_tok, op)
        values = [node]
        while self.is_word(op):
            self.advance()
            t = self.tok
            value, vtyp = sub()
            need_bool(vtyp, t, op)
            values.append(value)
        return BoolOp(op, tuple(values)), "bool"

    def not_expr(self) -> tuple[Node, Type]:
        if self.is_word("not"):
            self.advance()
            t = self.tok
            node, typ = self.not_expr()
            need_bool(typ, t, "not")
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
            check_pair(op, left_typ, right_typ, left_tok, op_tok, right_tok)
            self._note_literal(op, left_node, right)
            rest.append((op, right))
            left_node, left_typ, left_tok = right, right_typ, right_tok
        if not rest:
            return first, left_typ
        return Compare(first, tuple(rest)), "bool"

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
