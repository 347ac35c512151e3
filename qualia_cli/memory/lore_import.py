"""Import SillyTavern lorebooks: V2/V3 character cards, bare character books, world-info files.

Fields with a place in :class:`Lorebook` map onto it. The entry's own ``extensions`` are kept
verbatim, and its other fields (position, id, name, priority, case_sensitive, use_regex,
unknown ones) verbatim under ``extensions.card_entry``, so the entry exports unchanged. Case
sensitivity, whole-word matching and the selective logic are honoured by the scanner
(memory/lore.py), from either place.

As in SillyTavern: ``{{char}}`` / ``{{user}}`` stay in the entries and are filled when the
entry is used; ``use_regex`` does not make plain keys regular expressions (SillyTavern marks
every entry ``use_regex: true`` and treats only keys written ``/pattern/flags`` as regexes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from qualia_cli.errors import QualiaError
from qualia_cli.scenario.file_errors import validation_problems
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
CARD_ENTRY = "card_entry"  # extensions key holding the entry's other top-level fields
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
}


class LorebookImportError(QualiaError, ValueError):
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


def _same(text: str) -> str:
    return text


def _from_world_info(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A world-info entry (``key``, ``uid``, numeric ``position``, ``disable``) in the
    character-book shape, as SillyTavern converts one (its numeric position kept in
    ``extensions.position``)."""
    e = {_WORLD_INFO.get(k, k): v for k, v in raw.items()}
    ext = dict(e.get("extensions") or {})
    if "uid" in e:
        e.setdefault("id", e.pop("uid"))
    if isinstance(e.get("position"), int) and not isinstance(e.get("position"), bool):
        ext.setdefault("position", e["position"])
        e["position"] = "before_char" if e["position"] == 0 else "after_char"
    if "disable" in e:
        e["enabled"] = not bool(e.pop("disable"))
    for key in ("case_sensitive", "match_whole_words", "selectiveLogic"):
        if key in e:
            ext.setdefault(key, e.pop(key))
    if ext:
        e["extensions"] = ext
    return e


def _entry(raw: Mapping[str, Any], index: int, fill: Callable[[str], str]) -> dict[str, Any] | None:
    world_info = "key" in raw or "uid" in raw
    e = _from_world_info(raw) if world_info else dict(raw)
    content = fill(str(e.get("content") or "")).strip()
    if not content:
        return None
    keys = _strings(e.get("keys"))
    constant = bool(e.get("constant", False))
    if not keys:
        if not constant:
            return None
        keys = [str(e.get("comment") or e.get("name") or f"entry {index}")]
    extensions = dict(e.get("extensions") or {})
    own = {k: v for k, v in e.items() if k not in _OWN}
    if own:
        extensions[CARD_ENTRY] = own
    order = e.get("insertion_order")
    return {
        "keys": keys,
        "secondary_keys": _strings(e.get("secondary_keys")),
        "content": content,
        "regex": False,  # use_regex (kept in card_entry) is ignored, as SillyTavern does
        "constant": constant,
        "selective": bool(e.get("selective", False)),
        "insertion_order": 100 if order is None else int(order),
        "enabled": bool(e.get("enabled", True)),
        "comment": str(e.get("comment") or e.get("name") or ""),
        "extensions": extensions,
    }


@dataclass
class MappedLorebook:
    """A character book / world-info file as the fields of a :class:`Lorebook` (not validated)."""

    fields: dict[str, Any]  # name, and token_budget / scan_depth when the book sets them
    entries: list[dict[str, Any]]
    indexes: list[int]  # each entry's position in the source book
    skipped: int = 0  # entries without text or keys

    def as_dict(self) -> dict[str, Any]:
        return {**self.fields, "entries": self.entries}


def map_lorebook(book: Mapping[str, Any], fill: Callable[[str], str] = _same) -> MappedLorebook:
    """The one mapping of a SillyTavern character book or world-info file onto a Lorebook.

    Used by ``qualia memory lore import`` (:func:`lorebook_from_json`) and by the card importer
    (authoring/cards). ``fill`` is applied to each entry's text (by default nothing: macros
    are filled when the entry is used).
    Entries without text, or without keys unless constant, are skipped (and counted).
    """
    entries: list[dict[str, Any]] = []
    indexes: list[int] = []
    skipped = 0
    for i, raw in enumerate(_entries(book)):
        try:
            entry = _entry(raw, i, fill)
        except (TypeError, ValueError) as err:
            raise LorebookImportError(f"entry {i}: {err}") from None
        if entry is None:
            skipped += 1
            continue
        entries.append(entry)
        indexes.append(i)
    fields: dict[str, Any] = {"name": str(book.get("name") or "")}
    budget, depth = book.get("token_budget"), book.get("scan_depth")
    try:
        if budget:
            fields["token_budget"] = max(MIN_BUDGET, min(MAX_BUDGET, int(budget)))
        if depth:
            fields["scan_depth"] = max(1, min(MAX_DEPTH, int(depth)))
    except (TypeError, ValueError) as err:
        raise LorebookImportError(f"token_budget / scan_depth: {err}") from None
    return MappedLorebook(fields, entries, indexes, skipped)


def lorebook_from_json(data: Any) -> Lorebook:
    """A :class:`Lorebook` from a parsed SillyTavern card, character book or world-info file."""
    mapped = map_lorebook(_book(data))
    entries: list[LoreEntry] = []
    for i, entry in zip(mapped.indexes, mapped.entries, strict=True):
        try:
            entries.append(LoreEntry.model_validate(entry))
        except ValidationError as err:
            problem = validation_problems("", err, model=LoreEntry, data=entry)[0]
            raise LorebookImportError(f"entry {i}: {problem.message}") from None
    return Lorebook.model_validate({**mapped.fields, "entries": entries})
