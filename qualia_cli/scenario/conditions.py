"""A tiny, safe condition language for scenario endings: compiling and evaluating it.

Nothing here calls ``eval``: :mod:`qualia_cli.scenario.condition_syntax` (grammar in its
docstring) tokenizes, parses and type-checks the text into the small typed tree of
:mod:`qualia_cli.scenario.condition_tree`, which this module walks to evaluate it.
Names are the scenario's stats plus ``turn``, ``mood``, ``location`` and ``time``.
Examples::

    trust >= 80 and turn >= 10
    20 <= affection < 60 and mood in ["happy", "playful"]
    location == "sea wall" and not (clues < 50)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from qualia_cli.scenario.condition_syntax import CONTEXT_NAMES, INT_NAMES, STRING_NAMES, parse
from qualia_cli.scenario.condition_tokens import ConditionError
from qualia_cli.scenario.condition_tree import BoolOp, Compare, ListLit, Lit, NameRef, Node, Not

if TYPE_CHECKING:
    from qualia_cli.scenario.models import Ending, Scenario

__all__ = [
    "CONTEXT_NAMES",
    "INT_NAMES",
    "STRING_NAMES",
    "Condition",
    "ConditionError",
    "compile_condition",
    "condition_context",
    "ending_reached",
]


# --------------------------------------------------------------------------- evaluation


def _lookup(node: NameRef, context: Mapping[str, object]) -> object:
    try:
        return context[node.name]
    except KeyError:
        raise ConditionError(f"no value for '{node.name}'", node.offset) from None


def _value(node: Node, context: Mapping[str, object]) -> object:
    if isinstance(node, NameRef):
        return _lookup(node, context)
    if isinstance(node, Lit):
        return node.value
    if isinstance(node, ListLit):
        return node.items
    return _truth(node, context)


def _compare(op: str, a: object, b: object, offset: int) -> bool:
    try:
        if op == "==":
            return a == b
        if op == "!=":
            return a != b
        if op == "in":
            return a in b  # type: ignore[operator]
        if op == "not in":
            return a not in b  # type: ignore[operator]
        if op == "<":
            return a < b  # type: ignore[operator]
        if op == "<=":
            return a <= b  # type: ignore[operator]
        if op == ">":
            return a > b  # type: ignore[operator]
        return a >= b  # type: ignore[operator]
    except TypeError:
        raise ConditionError(f"cannot compare {a!r} {op} {b!r}", offset) from None


def _offset(node: Node) -> int:
    while True:
        if isinstance(node, Compare):
            node = node.first
        elif isinstance(node, Not):
            node = node.operand
        elif isinstance(node, BoolOp):
            node = node.values[0]
        else:
            return node.offset


def _truth(node: Node, context: Mapping[str, object]) -> bool:
    if isinstance(node, BoolOp):
        if node.op == "and":
            return all(_truth(v, context) for v in node.values)
        return any(_truth(v, context) for v in node.values)
    if isinstance(node, Not):
        return not _truth(node.operand, context)
    if isinstance(node, Compare):
        left = _value(node.first, context)
        for op, right_node in node.rest:
            right = _value(right_node, context)
            if not _compare(op, left, right, _offset(right_node)):
                return False
            left = right
        return True
    raise ConditionError("not a condition", _offset(node))  # unreachable after type checking


@dataclass(frozen=True)
class Condition:
    """A compiled condition. Build with :func:`compile_condition`."""

    text: str
    names: frozenset[str]
    """The names the condition reads."""
    literals: tuple[tuple[str, str, int], ...]
    """(name, text literal, offset) for every text compared with a name (==, !=, in)."""
    _root: Node

    def evaluate(self, context: Mapping[str, object]) -> bool:
        """True when the condition holds. Raises ConditionError if a name has no value."""
        return _truth(self._root, context)


def compile_condition(text: str, known_names: set[str] | frozenset[str]) -> Condition:
    """Parse and type-check ``text``.

    ``known_names`` are the scenario's stat names; ``mood``, ``location``, ``time`` and
    ``turn`` are always known. Raises :class:`ConditionError` with a 0-based offset.
    """
    parsed = parse(text, known_names)
    return Condition(text, parsed.names, parsed.literals, parsed.root)


@lru_cache(maxsize=256)
def _compiled(text: str, names: frozenset[str]) -> Condition:
    return compile_condition(text, names)


def condition_context(
    scenario: Scenario,
    stats: Mapping[str, int],
    mood: str,
    location: str,
    time: str,
    turn: int,
) -> dict[str, object]:
    """The evaluation context: every stat (missing ones at their start value) and the rest."""
    context: dict[str, object] = {s.name: s.start for s in scenario.stats}
    context.update({k: v for k, v in stats.items() if k in context})
    context.update(mood=mood, location=location, time=time, turn=turn)
    return context


def ending_reached(
    scenario: Scenario,
    stats: Mapping[str, int],
    mood: str,
    location: str,
    time: str,
    turn: int,
) -> Ending | None:
    """The first ending (in file order) whose condition holds, or None.

    Conditions were checked when the scenario loaded (load_scenario / load_scenario_dict);
    one that does not compile raises ConditionError here.
    """
    context = condition_context(scenario, stats, mood, location, time, turn)
    names = frozenset(s.name for s in scenario.stats)
    for ending in scenario.endings:
        if _compiled(ending.condition, names).evaluate(context):
            return ending
    return None
