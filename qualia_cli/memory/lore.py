"""The lorebook: which scenario entries the current moment triggers, within a token budget.

Semantics follow SillyTavern's world info / character book:

- only the last ``scan_depth`` messages (plus what is being said now) are scanned, so a long
  story costs the same as a short one;
- an entry fires when one of its ``keys`` matches (whole words, case-insensitive, unless
  ``extensions.case_sensitive`` / ``extensions.match_whole_words`` say otherwise; regex keys
  with ``regex: true`` or written ``/pattern/flags``); ``constant`` entries always fire;
- a ``selective`` entry also needs its secondary keys, combined by
  ``extensions.selectiveLogic``: 0 = any (default), 1 = not all, 2 = none, 3 = all;
- entries are admitted by priority (constant first, then higher ``insertion_order``) until
  the budget is spent, and inserted in ascending ``insertion_order`` (the highest lands last,
  closest to the conversation).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from qualia_cli.scenario.lore_keys import compile_key
from qualia_cli.scenario.models import Lorebook, LoreEntry

MAX_SCAN_CHARS = 20_000  # the scanned text is bounded whatever the messages hold


@dataclass(frozen=True)
class LoreHit:
    index: int  # position of the entry in the lorebook
    entry: LoreEntry
    key: str  # the key that matched ("" for a constant entry)


def _patterns(entry: LoreEntry, keys: list[str]) -> list[tuple[str, re.Pattern[str]]]:
    ext = entry.extensions
    return [
        (
            k,
            compile_key(
                k,
                regex=entry.regex,
                case_sensitive=bool(ext.get("case_sensitive", False)),
                whole_words=bool(ext.get("match_whole_words", True)),
            ),
        )
        for k in keys
        if k.strip()
    ]


def _first_match(entry: LoreEntry, keys: list[str], text: str) -> str | None:
    for key, pattern in _patterns(entry, keys):
        if pattern.search(text):
            return key
    return None


def _secondary_ok(entry: LoreEntry, text: str) -> bool:
    if not entry.selective or not entry.secondary_keys:
        return True
    hits = [bool(p.search(text)) for _, p in _patterns(entry, entry.secondary_keys)]
    logic = int(entry.extensions.get("selectiveLogic", 0) or 0)
    if logic == 1:  # NOT ALL
        return not all(hits)
    if logic == 2:  # NOT ANY
        return not any(hits)
    if logic == 3:  # AND ALL
        return all(hits)
    return any(hits)  # AND ANY


def triggered(book: Lorebook, text: str) -> list[LoreHit]:
    """Entries that ``text`` triggers, highest priority first (before any budget)."""
    text = text[-MAX_SCAN_CHARS:]
    hits: list[LoreHit] = []
    for i, entry in enumerate(book.entries):
        if not entry.enabled:
            continue
        if entry.constant:
            hits.append(LoreHit(i, entry, ""))
            continue
        key = _first_match(entry, entry.keys, text)
        if key is not None and _secondary_ok(entry, text):
            hits.append(LoreHit(i, entry, key))
    hits.sort(key=lambda h: (not h.entry.constant, -h.entry.insertion_order, h.index))
    return hits


def select(
    hits: list[LoreHit], budget: int, cost: Callable[[str], int]
) -> tuple[list[LoreHit], int]:
    """Admit hits in priority order while they fit; returns them in insertion order and the
    tokens they use (``cost`` counts one rendered line)."""
    chosen: list[LoreHit] = []
    used = 0
    for hit in hits:
        c = cost(hit.entry.content)
        if used + c > budget:
            continue  # a smaller, lower-priority entry may still fit
        chosen.append(hit)
        used += c
    chosen.sort(key=lambda h: (h.entry.insertion_order, h.index))
    return chosen, used
