"""The typed tree of a parsed condition, and the typing rules the parser applies.

Types: whole numbers (stats, ``turn``), text (``mood``, ``location``, ``time``), conditions
and lists of numbers or text. The rules raise ConditionError at the offending token, so
mistakes surface when a scenario loads, not mid-story.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from qualia_cli.scenario.condition_tokens import ConditionError, Token

ORDER_OPS = frozenset({"<", "<=", ">", ">="})

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


TYPE_WORDS: dict[str, str] = {
    "int": "a number",
    "str": "text",
    "bool": "a condition",
    "list[int]": "a list of numbers",
    "list[str]": "a list of text",
}


def need_bool(typ: Type, tok: Token, op: str) -> None:
    """`op` ("and", "or", "not") applies to conditions only."""
    if typ != "bool":
        what = "joins conditions" if op in ("and", "or") else "needs a condition"
        raise ConditionError(
            f"'{op}' {what}, but this is {TYPE_WORDS[typ]}; "
            "write a comparison such as 'trust >= 50'",
            tok.offset,
        )


def check_pair(
    op: str, lt: Type, rt: Type, left_tok: Token, op_tok: Token, right_tok: Token
) -> None:
    """One link of a comparison chain: `left op right` must make sense for their types."""
    if lt == "bool" or lt.startswith("list"):
        raise ConditionError(f"cannot use '{op}' on {TYPE_WORDS[lt]}", left_tok.offset)
    if op in ("in", "not in"):
        if not rt.startswith("list"):
            raise ConditionError(
                f'\'{op}\' needs a list on its right, e.g. mood in ["happy", "playful"]',
                right_tok.offset,
            )
        if rt != f"list[{lt}]":
            raise ConditionError(
                f"cannot look for {TYPE_WORDS[lt]} in {TYPE_WORDS[rt]}", right_tok.offset
            )
        return
    if rt == "bool" or rt.startswith("list"):
        raise ConditionError(f"cannot use '{op}' on {TYPE_WORDS[rt]}", right_tok.offset)
    if op in ORDER_OPS and (lt == "str" or rt == "str"):
        raise ConditionError(
            f"'{op}' compares numbers; text can only be compared with ==, != or in", op_tok.offset
        )
    if lt != rt:
        raise ConditionError(
            f"cannot compare {TYPE_WORDS[lt]} with {TYPE_WORDS[rt]}", op_tok.offset
        )
