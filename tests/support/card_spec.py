"""An independent character-card reader, written from the published specs, not from qualia:

- V2: https://github.com/malfoyslastname/character-card-spec-v2 (``chara`` tEXt chunk, base64
  JSON; ``spec: chara_card_v2``; the fields below, ``extensions`` free for tools);
- V3: https://github.com/kwaroran/character-card-spec-v3 (``ccv3`` chunk preferred over
  ``chara``; ``spec: chara_card_v3``; CHARX = a zip with ``card.json``; character-book entries
  gain ``use_regex``; unknown fields must be kept).

It shares no code with qualia_cli, so a qualia bug cannot hide itself from it.
"""

from __future__ import annotations

import base64
import io
import json
import struct
import zipfile
from pathlib import Path
from typing import Any

V2_FIELDS: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "description": str,
    "personality": str,
    "scenario": str,
    "first_mes": str,
    "mes_example": str,
    "creator_notes": str,
    "system_prompt": str,
    "post_history_instructions": str,
    "alternate_greetings": list,
    "tags": list,
    "creator": str,
    "character_version": str,
    "extensions": dict,
}
V3_FIELDS: dict[str, type | tuple[type, ...]] = {**V2_FIELDS, "group_only_greetings": list}
ENTRY_FIELDS: dict[str, type | tuple[type, ...]] = {
    "keys": list,
    "content": str,
    "extensions": dict,
    "enabled": bool,
    "insertion_order": (int, float),
}


def png_text(blob: bytes) -> dict[str, str]:
    """tEXt chunks of a PNG, keyword -> text (the chunk layout from the PNG spec)."""
    assert blob[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, out = 8, {}
    while pos < len(blob):
        (length,) = struct.unpack(">I", blob[pos : pos + 4])
        kind = blob[pos + 4 : pos + 8]
        body = blob[pos + 8 : pos + 8 + length]
        if kind == b"tEXt":
            key, _, text = body.partition(b"\0")
            out[key.decode("latin-1")] = text.decode("latin-1")
        if kind == b"IEND":
            break
        pos += 12 + length
    return out


def read(path: Path) -> dict[str, Any]:
    """The card JSON object in ``path`` (.json, .png, .charx) as a spec-following tool sees it."""
    blob = path.read_bytes()
    if blob.startswith(b"\x89PNG"):
        chunks = png_text(blob)
        key = "ccv3" if "ccv3" in chunks else "chara"
        return json.loads(base64.b64decode(chunks[key]))
    if blob.startswith(b"PK"):
        with zipfile.ZipFile(io.BytesIO(blob)) as zf:
            return json.loads(zf.read("card.json"))
    return json.loads(blob)


def check(card: dict[str, Any]) -> list[str]:
    """Where ``card`` breaks its spec (empty: conforms)."""
    problems: list[str] = []
    spec = card.get("spec")
    if spec not in ("chara_card_v2", "chara_card_v3"):
        return [f"spec is {spec!r}"]
    want_version = "2.0" if spec == "chara_card_v2" else "3.0"
    if card.get("spec_version") != want_version:
        problems.append(f"spec_version {card.get('spec_version')!r}")
    data = card.get("data")
    if not isinstance(data, dict):
        return [*problems, "no data object"]
    for key, kind in (V3_FIELDS if spec == "chara_card_v3" else V2_FIELDS).items():
        if not isinstance(data.get(key), kind):
            problems.append(f"data.{key} is {type(data.get(key)).__name__}")
    book = data.get("character_book")
    if book is not None:
        if not isinstance(book.get("entries"), list):
            problems.append("character_book.entries is not a list")
        for i, entry in enumerate(book.get("entries") or []):
            for key, kind in ENTRY_FIELDS.items():
                if not isinstance(entry.get(key), kind):
                    problems.append(f"character_book.entries[{i}].{key}")
            if spec == "chara_card_v3" and not isinstance(entry.get("use_regex"), bool):
                problems.append(f"character_book.entries[{i}].use_regex")
            if entry.get("position") not in (None, "before_char", "after_char"):
                problems.append(f"character_book.entries[{i}].position")
    return problems


def field_diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, str]:
    """Field by field, each ``data`` field of ``before``: "survives" or "changed"; fields only
    ``after`` has: "added"."""
    out: dict[str, str] = {}
    for key, value in before.items():
        out[key] = "survives" if after.get(key, object()) == value else "changed"
    for key in after:
        if key not in before:
            out[key] = "added"
    return out
