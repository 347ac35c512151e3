"""Build character cards in tests: real PNGs (Pillow), tEXt chunks, CHARX zips."""

from __future__ import annotations

import base64
import io
import json
import struct
import zipfile
import zlib
from typing import Any

from PIL import Image


def png_image(
    width: int = 64, height: int = 96, color: tuple[int, int, int] = (200, 80, 40)
) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


def chunk(ctype: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(ctype + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", crc)


def b64(card: dict[str, Any]) -> bytes:
    return base64.b64encode(json.dumps(card).encode("utf-8"))


def png_card(texts: dict[str, bytes], image: bytes | None = None) -> bytes:
    """A PNG with tEXt chunks (keyword -> raw text) inserted right after IHDR."""
    image = image or png_image()
    ihdr_end = 8 + 8 + 13 + 4
    extra = b"".join(chunk(b"tEXt", k.encode("latin-1") + b"\0" + v) for k, v in texts.items())
    return image[:ihdr_end] + extra + image[ihdr_end:]


def v1(name: str = "Mira", **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "description": "{{char}} is a 27-year-old lighthouse keeper. She has red hair.",
        "personality": "wry, patient, stubborn",
        "scenario": "{{user}} arrives at the lighthouse during a storm.",
        "first_mes": "*{{char}} opens the door.* Come in, {{user}}, before the wind takes you.",
        "mes_example": "<START>\n{{user}}: Hello?\n{{char}}: Mind the stairs. They bite.",
        **fields,
    }


def book() -> dict[str, Any]:
    return {
        "name": "Lighthouse lore",
        "scan_depth": 6,
        "token_budget": 300,
        "recursive_scanning": False,
        "extensions": {"custom_book_flag": 1},
        "entries": [
            {
                "keys": ["lamp", "lens"],
                "content": "The great lens was made in 1871 and never cracked.",
                "extensions": {"depth": 4, "probability": 100},
                "enabled": True,
                "insertion_order": 10,
                "case_sensitive": False,
                "constant": False,
                "use_regex": False,
                "name": "the lens",
                "priority": 5,
                "id": 0,
                "comment": "lens",
                "selective": True,
                "secondary_keys": ["light"],
                "position": "after_char",
            },
            {
                "keys": [r"ship(wreck)?s?"],
                "content": "Three ships sank here in the winter of 1902.",
                "extensions": {},
                "enabled": False,
                "insertion_order": 20,
                "use_regex": True,
                "constant": True,
                "id": 1,
                "comment": "wrecks",
            },
            {"keys": [], "content": "", "extensions": {}, "enabled": True, "insertion_order": 1},
        ],
    }


def v2(name: str = "Mira", **data: Any) -> dict[str, Any]:
    return {
        "spec": "chara_card_v2",
        "spec_version": "2.0",
        "data": {
            **v1(name),
            "creator_notes": "A slow-burn lighthouse story.",
            "system_prompt": "Write {{char}}'s next reply. {{original}}",
            "post_history_instructions": "Stay in character.",
            "alternate_greetings": ["Storm's up. You lost?", "Another one washed ashore."],
            "character_book": None,
            "tags": ["female", "romance", "lighthouse"],
            "creator": "someone",
            "character_version": "1.2",
            "extensions": {"talkativeness": "0.5", "fav": False, "depth_prompt": {"depth": 4}},
            **data,
        },
    }


def v3(name: str = "Mira", **data: Any) -> dict[str, Any]:
    card = v2(name, **data)
    card["spec"], card["spec_version"] = "chara_card_v3", "3.0"
    card["data"].setdefault("group_only_greetings", [])
    card["data"].setdefault(
        "assets", [{"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}]
    )
    card["data"].setdefault("nickname", "")
    card["data"].setdefault("creation_date", 1700000000)
    return card


def charx(
    card: dict[str, Any], image: bytes | None = None, extra: dict[str, bytes] | None = None
) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("card.json", json.dumps(card))
        if image is not None:
            zf.writestr("assets/icon/images/main.png", image)
        for name, blob in (extra or {}).items():
            zf.writestr(name, blob)
    return buf.getvalue()
