"""Write a scenario as a character card: V3 (``ccv3``) plus V2 (``chara``) for older tools.

The card's standard fields are filled from the scenario so any card tool can use it, and the
whole scenario rides along in ``extensions.qualia`` (with a fingerprint of those fields), so
qualia restores it exactly unless the card was edited elsewhere in between.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

from qualia_cli.authoring.cards.errors import CardError
from qualia_cli.authoring.cards.importer import QUALIA_EXTENSION, card_fingerprint
from qualia_cli.authoring.cards.models import CardData
from qualia_cli.authoring.cards.png import with_text_chunks
from qualia_cli.authoring.cards.roundtrip import merged_data
from qualia_cli.scenario.models import LoreEntry, Scenario

CARD_SUFFIXES = (".png", ".json", ".charx")
_V2_KEYS = (
    "name",
    "description",
    "personality",
    "scenario",
    "first_mes",
    "mes_example",
    "creator_notes",
    "system_prompt",
    "post_history_instructions",
    "alternate_greetings",
    "character_book",
    "tags",
    "creator",
    "character_version",
    "extensions",
)
_V3_ONLY = (
    "group_only_greetings",
    "assets",
    "nickname",
    "creator_notes_multilingual",
    "source",
    "creation_date",
    "modification_date",
)
_V1_KEYS = ("name", "description", "personality", "scenario", "first_mes", "mes_example")


def _description(s: Scenario) -> str:
    p = s.partner
    if s.card is not None and p.backstory:
        return p.backstory  # an imported card's own description
    parts = [f"{p.name} is a {p.age}-year-old {p.gender}, {p.occupation}."]
    parts.append(f"Appearance: {p.appearance.description}")
    if p.backstory:
        parts.append(p.backstory)
    if p.speech_style:
        parts.append(f"Speech: {p.speech_style}")
    if p.likes:
        parts.append("Likes: " + ", ".join(p.likes) + ".")
    if p.dislikes:
        parts.append("Dislikes: " + ", ".join(p.dislikes) + ".")
    return "\n\n".join(parts)


def _scenario_text(s: Scenario, description: str) -> str:
    world = s.setting.world
    if s.card is not None:
        if description and world.endswith(description):
            world = world[: -len(description)].strip()
        return world
    return f"{world}\n\nThe player is {s.player.role}."


# V2/V3 entry fields that an import keeps in ``extensions`` (with the type the spec gives them)
_ENTRY_FIELDS: dict[str, Any] = {
    "id": (int, str),
    "name": str,
    "priority": int,
    "case_sensitive": bool,
    "position": str,
}


def _book_entry(i: int, e: LoreEntry) -> dict[str, Any]:
    extensions = dict(e.extensions)
    entry: dict[str, Any] = {
        "keys": list(e.keys),
        "content": e.content,
        "extensions": extensions,
        "enabled": e.enabled,
        "insertion_order": e.insertion_order,
        "case_sensitive": False,
        "constant": e.constant,
        "use_regex": e.regex,
        "name": e.comment,
        "priority": 10,
        "id": i,
        "comment": e.comment,
        "selective": e.selective,
        "secondary_keys": list(e.secondary_keys),
        "position": "before_char",
    }
    for key, kind in _ENTRY_FIELDS.items():
        value = extensions.get(key)
        fits = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if fits and (key != "position" or value in ("before_char", "after_char")):
            entry[key] = extensions.pop(key)
    return entry


def _character_book(s: Scenario) -> dict[str, Any] | None:
    book = s.lorebook
    if not book.entries and not book.name:
        return None
    out: dict[str, Any] = {
        "name": book.name or s.title,
        "scan_depth": book.scan_depth,
        "token_budget": book.token_budget,
        "extensions": {},
        "entries": [_book_entry(i, e) for i, e in enumerate(book.entries)],
    }
    extra = (s.card.fields.get("character_book") if s.card else None) or {}
    if isinstance(extra, dict):
        out.update({k: v for k, v in extra.items() if k not in ("entries", "name")})
    return out


def _from_original(s: Scenario, image_asset: bool) -> dict[str, Any]:
    """An imported card's data: its own fields back, the edited ones from the scenario."""
    data = merged_data(s)
    data.setdefault("group_only_greetings", [])
    if image_asset:
        data.setdefault(
            "assets", [{"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}]
        )
    else:
        data.setdefault("assets", [])
    extensions = data.get("extensions")
    data["extensions"] = dict(extensions) if isinstance(extensions, dict) else {}
    book = data.get("character_book")
    if isinstance(book, dict) and isinstance(book.get("entries"), list):
        entries = [  # V3 requires use_regex (a V1/V2 card's entries may lack it)
            {**e, "use_regex": False} if isinstance(e, dict) and "use_regex" not in e else e
            for e in book["entries"]
        ]
        data["character_book"] = {**book, "entries": entries}
    return data


def card_from_scenario(scenario: Scenario, *, image_asset: bool = True) -> dict[str, Any]:
    """The V3 card (``{"spec": "chara_card_v3", ...}``) for ``scenario``."""
    s = scenario
    extras = s.card
    if extras is not None and extras.original:
        data = _from_original(s, image_asset)
        return _with_qualia(s, data)
    description = _description(s)
    data: dict[str, Any] = {
        "name": s.partner.name,
        "description": description,
        "personality": ", ".join(s.partner.personality),
        "scenario": _scenario_text(s, description),
        "first_mes": s.first_message or s.opening,
        "mes_example": extras.example_dialogue if extras else "",
        "creator_notes": (extras.creator_notes if extras else "") or s.summary,
        "system_prompt": extras.system_prompt if extras else "",
        "post_history_instructions": extras.post_history_instructions if extras else "",
        "alternate_greetings": list(extras.alternate_greetings) if extras else [],
        "character_book": _character_book(s),
        "tags": list(extras.tags) if extras and extras.tags else [s.genre],
        "creator": extras.creator if extras else "",
        "character_version": extras.character_version if extras else "",
        "extensions": dict(extras.extensions) if extras else {},
        "group_only_greetings": [],
        "assets": (
            [{"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}]
            if image_asset
            else []
        ),
    }
    if data["character_book"] is None:
        del data["character_book"]
    if extras:
        for key, value in extras.fields.items():
            if (key != "character_book" and key not in data) or (
                key in ("group_only_greetings", "assets") and value
            ):
                data[key] = value
    return _with_qualia(s, data)


def _with_qualia(s: Scenario, data: dict[str, Any]) -> dict[str, Any]:
    fingerprint = card_fingerprint(CardData.model_validate(data))
    data["extensions"][QUALIA_EXTENSION] = {
        "version": 1,
        "fingerprint": fingerprint,
        "scenario": s.model_dump(mode="json"),
    }
    return {"spec": "chara_card_v3", "spec_version": "3.0", "data": data}


def v2_from_v3(card: dict[str, Any]) -> dict[str, Any]:
    """The V2 card for older tools (with the V1 fields at the top level, as they expect)."""
    data = card["data"]
    v2 = {"spec": "chara_card_v2", "spec_version": "2.0", "data": {}}
    v2["data"] = {k: v for k, v in data.items() if k in _V2_KEYS or k not in _V3_ONLY}
    return {**{k: data.get(k) or "" for k in _V1_KEYS}, **v2}


def _b64(obj: dict[str, Any]) -> bytes:
    return base64.b64encode(json.dumps(obj, ensure_ascii=False).encode("utf-8"))


def placeholder_portrait(scenario: Scenario) -> bytes:
    """A plain portrait (name on a colour from the id) for a scenario with no image."""
    from PIL import Image, ImageDraw, ImageFont

    h = hashlib.sha256(scenario.id.encode()).digest()
    im = Image.new("RGB", (512, 768), (40 + h[0] % 80, 40 + h[1] % 80, 60 + h[2] % 80))
    draw = ImageDraw.Draw(im)
    font = ImageFont.load_default(size=40)
    draw.text((256, 384), scenario.partner.name, fill=(240, 236, 228), font=font, anchor="mm")
    draw.text(
        (256, 440),
        scenario.title,
        fill=(200, 196, 190),
        font=font.font_variant(size=22),
        anchor="mm",
    )
    out = io.BytesIO()
    im.save(out, format="PNG")
    return out.getvalue()


def write_card(scenario: Scenario, out: Path, portrait: bytes | None = None) -> Path:
    """Write ``scenario`` as a card to ``out`` (.png, .json or .charx); returns ``out``."""
    suffix = out.suffix.lower()
    if suffix not in CARD_SUFFIXES:
        raise CardError(str(out), f"a card file must end in {', '.join(CARD_SUFFIXES)}")
    card = card_from_scenario(scenario, image_asset=suffix != ".json")
    if suffix == ".json":
        blob = json.dumps(card, ensure_ascii=False, indent=2).encode("utf-8")
    else:
        image = portrait or placeholder_portrait(scenario)
        if suffix == ".png":
            texts = {"chara": _b64(v2_from_v3(card)), "ccv3": _b64(card)}
            blob = with_text_chunks(image, texts, str(out))
        else:
            card["data"]["assets"] = [
                {
                    "type": "icon",
                    "uri": "embeded://assets/icon/images/main.png",
                    "name": "main",
                    "ext": "png",
                }
            ]
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
                zf.writestr("card.json", json.dumps(card, ensure_ascii=False, indent=2))
                zf.writestr("assets/icon/images/main.png", image)
            blob = buf.getvalue()
    _atomic_write(out, blob)
    return out


def _atomic_write(path: Path, blob: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        tmp.write_bytes(blob)
        tmp.replace(path)
    except OSError as err:
        raise CardError(str(path), f"cannot write: {err.strerror or err}") from None
