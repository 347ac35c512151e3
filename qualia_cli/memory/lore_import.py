"""Import SillyTavern lorebooks: V2/V3 character cards, bare character books, world-info files.

Fields with a place in :class:`Lorebook` map onto it; the rest of each entry (position,
priority, probability, case sensitivity, …) is kept under ``extensions`` so nothing is lost
and the entry can be exported again. Case sensitivity, whole-word matching and the
selective logic kept there are honoured by the lorebook scanner.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from qualia_cli.scenario.models import Lorebook, LoreEntry

MIN_BUDGET, MAX_BUDGET = 50, 8000
MAX_DEPTH = 100

# SillyTavern world-info names -> character-book names
_WORLD_INFO = {
    "key": "keys",
    "keysecondary": "secondary_keys",
    "order": "insertion_order",
    "caseSensitive": "case_sensitive",
    "matchWholeWords": "match_whole_words",
}
_OWN = {
    "keys",
    "secondary_keys",
    "content",
    "constant",
    "selective",
    "insertion_order",
    "enabled",
    "comment",
    "extensions",
    "use_regex",
    "disable",
}


class LorebookImportError(ValueError):
    """The file holds no lorebook we can read."""


def _book(data: Any) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise LorebookImportError("expected a JSON object (a character card or a lorebook)")
    inner = data.get("data")
    if isinstance(inner, Mapping) and "character_book" in inner:
        book = inner["character_book"]
        if not isinstance(book, Mapping):
            raise LorebookImportError("the card's character_book is empty")
        return book
    if "entries" in data:
        return data
    raise LorebookImportError("no lorebook found (expected data.character_book or entries)")


def _entries(book: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    raw = book.get("entries")
    if isinstance(raw, Mapping):  # world-info files key entries by uid
        items = list(raw.values())
    elif isinstance(raw, list):
        items = raw
    else:
        raise LorebookImportError("the lorebook's entries are neither a list nor an object")
    return [e for e in items if isinstance(e, Mapping)]


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        return []
    return [str(v).strip() for v in value if str(v).strip()]


def _entry(raw: Mapping[str, Any], index: int) -> LoreEntry | None:
    e = {_WORLD_INFO.get(k, k): v for k, v in raw.items()}
    content = str(e.get("content") or "").strip()
    if not content:
        return None
    keys = _strings(e.get("keys"))
    constant = bool(e.get("constant", False))
    if not keys:
        if not constant:
            return None
        keys = [str(e.get("comment") or e.get("name") or f"entry {index}")]
    extensions = dict(e.get("extensions") or {})
    for k, v in e.items():
        if k not in _OWN and v is not None and k not in extensions:
            extensions[k] = v
    enabled = bool(e.get("enabled", True)) and not bool(e.get("disable", False))
    return LoreEntry(
        keys=keys,
        secondary_keys=_strings(e.get("secondary_keys")),
        content=content,
        regex=bool(e.get("use_regex", False)),
        constant=constant,
        selective=bool(e.get("selective", False)),
        insertion_order=int(e.get("insertion_order") or 100),
        enabled=enabled,
        comment=str(e.get("comment") or e.get("name") or ""),
        extensions=extensions,
    )


def lorebook_from_json(data: Any) -> Lorebook:
    """A :class:`Lorebook` from a parsed SillyTavern card, character book or world-info file."""
    book = _book(data)
    entries: list[LoreEntry] = []
    for i, raw in enumerate(_entries(book)):
        try:
            entry = _entry(raw, i)
        except (ValidationError, TypeError, ValueError) as err:
            first = err.errors()[0]["msg"] if isinstance(err, ValidationError) else str(err)
            raise LorebookImportError(f"entry {i}: {first}") from None
        if entry is not None:
            entries.append(entry)
    budget = int(book.get("token_budget") or 400)
    depth = int(book.get("scan_depth") or 4)
    return Lorebook(
        name=str(book.get("name") or ""),
        token_budget=max(MIN_BUDGET, min(MAX_BUDGET, budget)),
        scan_depth=max(1, min(MAX_DEPTH, depth)),
        entries=entries,
    )
