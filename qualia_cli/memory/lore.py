"""The lorebook: which scenario entries the current moment triggers, within a token budget.

Semantics follow SillyTavern's world info / character book:

- only the last ``scan_depth`` messages (plus what is being said now) are scanned, so a long
  story costs the same as a short one;
- an entry fires when one of its ``keys`` matches (whole words, case-insensitive, unless
  ``extensions.case_sensitive`` / ``extensions.match_whole_words`` say otherwise, or the
  same fields of an imported card entry in ``extensions.card_entry``; ``null`` means the
  default, as in SillyTavern; regex keys with ``regex: true`` or written ``/pattern/flags``);
  ``constant`` entries always fire;
- ``{{char}}`` / ``{{user}}`` in keys and content are filled at use (``names``);
- a ``selective`` entry also needs its secondary keys, combined by
  ``extensions.selectiveLogic``: 0 = any (default), 1 = not all, 2 = none, 3 = all;
- entries are admitted by priority (constant first, then higher ``insertion_order``) until
  the budget is spent, and inserted in ascending ``insertion_order`` (the highest lands last,
  closest to the conversation).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from qualia_cli.scenario.lore_keys import KeyTimeout, Pattern, compile_key, search
from qualia_cli.scenario.macros import fill_macros
from qualia_cli.scenario.models import Lorebook, LoreEntry

log = logging.getLogger("qualia.memory")

MAX_SCAN_CHARS = 20_000  # the scanned text is bounded whatever the messages hold
SCAN_BUDGET_S = 0.5  # all the keys of one scan together; a slow key is skipped, not waited for


class _Budget:
    """The time left for one scan; a search that runs out counts as no match."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds
        self.spent = False

    def found(self, pattern: Pattern[str], text: str) -> bool:
        left = self.end - time.monotonic()
        if self.spent or left <= 0:
            self.spent = True
            return False
        try:
            return search(pattern, text, left)
        except KeyTimeout:
            self.spent = True
            log.warning("lorebook scan budget spent on key %r; other keys skipped", pattern.pattern)
            return False


@dataclass(frozen=True)
class LoreHit:
    index: int  # position of the entry in the lorebook
    entry: LoreEntry
    key: str  # the key that matched ("" for a constant entry)


Names = tuple[str, str] | None  # (char, user) for {{char}} / {{user}}; None: leave them


def setting(entry: LoreEntry, key: str, default: object) -> object:
    """An entry option from its extensions, else from an imported card entry's own fields;
    ``null`` (SillyTavern: "use the global setting") is the default."""
    for where in (entry.extensions, entry.extensions.get("card_entry")):
        if isinstance(where, dict) and where.get(key) is not None:
            return where[key]
    return default


def content(entry: LoreEntry, names: Names = None) -> str:
    """The entry's text as it enters a prompt (macros filled)."""
    return fill_macros(entry.content, *names) if names else entry.content


def _patterns(
    entry: LoreEntry, keys: list[str], names: Names = None
) -> list[tuple[str, Pattern[str]]]:
    return [
        (
            k,
            compile_key(
                fill_macros(k, *names) if names else k,
                regex=entry.regex,
                case_sensitive=bool(setting(entry, "case_sensitive", False)),
                whole_words=bool(setting(entry, "match_whole_words", True)),
            ),
        )
        for k in keys
        if k.strip()
    ]


def _first_match(
    entry: LoreEntry, keys: list[str], text: str, names: Names, budget: _Budget
) -> str | None:
    for key, pattern in _patterns(entry, keys, names):
        if budget.found(pattern, text):
            return key
    return None


def _secondary_ok(entry: LoreEntry, text: str, names: Names, budget: _Budget) -> bool:
    if not entry.selective or not entry.secondary_keys:
        return True
    hits = [budget.found(p, text) for _, p in _patterns(entry, entry.secondary_keys, names)]
    logic = int(setting(entry, "selectiveLogic", 0) or 0)  # type: ignore[call-overload]
    if logic == 1:  # NOT ALL
        return not all(hits)
    if logic == 2:  # NOT ANY
        return not any(hits)
    if logic == 3:  # AND ALL
        return all(hits)
    return any(hits)  # AND ANY


def triggered(
    book: Lorebook, text: str, names: Names = None, *, budget_s: float = SCAN_BUDGET_S
) -> list[LoreHit]:
    """Entries that ``text`` triggers, highest priority first (before any token budget);
    ``names`` fills ``{{char}}`` / ``{{user}}`` in keys.

    All the searches of one scan share ``budget_s`` seconds: once they are spent, the
    remaining keys count as not matching (constant entries still fire)."""
    text = text[-MAX_SCAN_CHARS:]
    budget = _Budget(budget_s)
    hits: list[LoreHit] = []
    for i, entry in enumerate(book.entries):
        if not entry.enabled:
            continue
        if entry.constant:
            hits.append(LoreHit(i, entry, ""))
            continue
        key = _first_match(entry, entry.keys, text, names, budget)
        if key is not None and _secondary_ok(entry, text, names, budget):
            hits.append(LoreHit(i, entry, key))
    hits.sort(key=lambda h: (not h.entry.constant, -h.entry.insertion_order, h.index))
    return hits


def select(
    hits: list[LoreHit], budget: int, cost: Callable[[str], int], names: Names = None
) -> tuple[list[LoreHit], int]:
    """Admit hits in priority order while they fit; returns them in insertion order and the
    tokens they use (``cost`` counts one rendered line)."""
    chosen: list[LoreHit] = []
    used = 0
    for hit in hits:
        c = cost(content(hit.entry, names))
        if used + c > budget:
            continue  # a smaller, lower-priority entry may still fit
        chosen.append(hit)
        used += c
    chosen.sort(key=lambda h: (h.entry.insertion_order, h.index))
    return chosen, used
