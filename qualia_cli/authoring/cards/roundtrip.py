"""Lossless card round trips: a field goes back exactly as the card had it unless edited.

At import the card's ``data`` object is kept verbatim in ``scenario.card.original`` and, for
every card field, a fingerprint of what qualia derives for that field from the scenario
(:func:`derived_fields`) goes in ``scenario.card.derived``. At export the same derivation
runs on the scenario as it is now: a field whose derivation is unchanged is written from
``original`` (placeholders, whitespace, ``null`` s and all); an edited field is written from
the scenario, and only that field. Lore entries are compared one by one the same way.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from qualia_cli.memory.lore_import import CARD_ENTRY
from qualia_cli.scenario.models import LoreEntry, Scenario

BOOK = "character_book"
ENTRIES = "character_book.entries"  # derived: one fingerprint per lore entry
ENTRY_INDEX = "character_book.index"  # derived: each lore entry's index in the card's book


def digest(value: Any) -> str:
    blob = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def personality_text(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items)


def entry_fields(e: LoreEntry) -> dict[str, Any]:
    """A lore entry as a V2/V3 character-book entry (an imported entry's own fields back at
    the top level)."""
    extensions = dict(e.extensions)
    own = extensions.pop(CARD_ENTRY, None)
    entry: dict[str, Any] = {
        "keys": list(e.keys),
        "content": e.content,
        "extensions": extensions,
        "enabled": e.enabled,
        "insertion_order": e.insertion_order,
        "constant": e.constant,
        "selective": e.selective,
        "secondary_keys": list(e.secondary_keys),
        "comment": e.comment,
    }
    if isinstance(own, dict):
        entry = {**own, **entry}
        entry.setdefault("use_regex", e.regex)
    return entry


def derived_fields(s: Scenario) -> dict[str, Any]:
    """Each card field as qualia derives it from the scenario (imported-card scenarios)."""
    card = s.card
    assert card is not None
    book = s.lorebook
    return {
        "name": s.partner.name,
        "description": s.partner.backstory,
        "personality": personality_text(s.partner.personality),
        "scenario": s.setting.world,
        "first_mes": s.first_message,
        "mes_example": card.example_dialogue,
        "creator_notes": card.creator_notes,
        "system_prompt": card.system_prompt,
        "post_history_instructions": card.post_history_instructions,
        "alternate_greetings": list(card.alternate_greetings),
        "tags": list(card.tags),
        "creator": card.creator,
        "character_version": card.character_version,
        "extensions": dict(card.extensions),
        BOOK: {
            "name": book.name,
            "scan_depth": book.scan_depth,
            "token_budget": book.token_budget,
        },
        ENTRIES: [entry_fields(e) for e in book.entries],
    }


def fingerprints(s: Scenario) -> dict[str, Any]:
    """What :func:`derived_fields` gives now, as fingerprints (stored at import)."""
    fields = derived_fields(s)
    out: dict[str, Any] = {k: digest(v) for k, v in fields.items() if k != ENTRIES}
    out[ENTRIES] = [digest(e) for e in fields[ENTRIES]]
    return out


def _book(s: Scenario, fresh: dict[str, Any], original: Any) -> dict[str, Any] | None:
    card = s.card
    assert card is not None
    derived = card.derived
    orig = original if isinstance(original, dict) else {}
    orig_entries = orig.get("entries") if isinstance(orig.get("entries"), list) else []
    entries = fresh[ENTRIES]
    then = derived.get(ENTRIES) or []
    index = derived.get(ENTRY_INDEX) or []
    if not entries and not orig:
        return None
    if [digest(e) for e in entries] == then and orig_entries:
        out_entries = list(orig_entries)  # untouched: every entry as it was, skipped ones too
    else:
        by_digest = {d: index[i] for i, d in enumerate(then) if i < len(index)}
        out_entries = []
        for e in entries:
            i = by_digest.get(digest(e))
            ok = isinstance(i, int) and 0 <= i < len(orig_entries)
            out_entries.append(orig_entries[i] if ok else e)
    out: dict[str, Any] = dict(orig)
    head = fresh[BOOK]
    if digest(head) != derived.get(BOOK) or not orig:
        out.update(head)
        out.setdefault("extensions", {})
    out["entries"] = out_entries
    return out


def merged_data(s: Scenario) -> dict[str, Any]:
    """The card's ``data`` for export: the original fields, with the edited ones replaced."""
    card = s.card
    assert card is not None
    original = card.original
    fresh = derived_fields(s)
    out: dict[str, Any] = dict(original)
    for key, value in fresh.items():
        if key in (BOOK, ENTRIES):
            continue
        if key not in original or digest(value) != card.derived.get(key):
            out[key] = value
    book = _book(s, fresh, original.get(BOOK))
    if book is not None:
        out[BOOK] = book
    return out
