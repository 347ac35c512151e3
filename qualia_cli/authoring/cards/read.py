"""Read a character card from a PNG (``chara`` / ``ccv3`` chunks), a JSON file or a CHARX zip."""

from __future__ import annotations

import base64
import binascii
import io
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from qualia_cli.authoring.cards.errors import (
    MAX_CARD_FILE_BYTES,
    MAX_CARD_JSON_BYTES,
    MAX_IMAGE_PIXELS,
    MAX_ZIP_MEMBER_BYTES,
    MAX_ZIP_MEMBERS,
    MAX_ZIP_RATIO,
    MAX_ZIP_TOTAL_BYTES,
    CardError,
)
from qualia_cli.authoring.cards.models import V1_ALIASES, CardData
from qualia_cli.authoring.cards.png import is_png, read_text_chunks, with_text_chunks
from qualia_cli.scenario.errors import ScenarioError
from qualia_cli.scenario.file_errors import json_positions, validation_problems
from qualia_cli.scenario.safe_read import parse_json, read_bytes

V2 = "chara_card_v2"
V3 = "chara_card_v3"
V1 = "chara_card_v1"


@dataclass
class LoadedCard:
    data: CardData
    spec: str  # chara_card_v1 | chara_card_v2 | chara_card_v3
    source: str
    container: str  # png | json | charx
    portrait: bytes | None = None  # PNG bytes, card chunks removed
    notes: list[str] = field(default_factory=list)


def read_card(path: str | Path) -> LoadedCard:
    """Read and validate a card file; raises CardError (one line) for anything malformed."""
    p = Path(path)
    source = str(path)
    try:
        raw = read_bytes(p, limit=MAX_CARD_FILE_BYTES, what="card file")
    except ScenarioError as err:
        raise CardError(source, err.problems[0].message) from None
    return parse_card_bytes(raw, source)


def parse_card_bytes(raw: bytes, source: str) -> LoadedCard:
    if len(raw) > MAX_CARD_FILE_BYTES:
        raise CardError(source, f"file is too large for a card ({len(raw)} bytes)")
    if is_png(raw):
        return _from_png(raw, source)
    if raw.startswith(b"PK\x03\x04") or raw.startswith(b"PK\x05\x06"):
        return _from_charx(raw, source)
    if not raw.strip():
        raise CardError(source, "the file is empty")
    if raw.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] not in (b"{", b"["):
        raise CardError(source, "not a card: neither a PNG, a CHARX archive nor JSON")
    data, spec = parse_card_json(raw, source)
    return LoadedCard(data, spec, source, "json")


# --------------------------------------------------------------------------- JSON


def parse_card_json(raw: bytes, source: str) -> tuple[CardData, str]:
    if len(raw) > MAX_CARD_JSON_BYTES:
        raise CardError(source, f"card JSON is too large ({len(raw)} bytes)")
    try:
        text = raw.decode("utf-8-sig")
        obj = parse_json(text, source)
    except UnicodeDecodeError:
        raise CardError(source, "not a card: neither PNG, CHARX nor UTF-8 JSON") from None
    except ScenarioError as err:
        problem = err.problems[0]
        where = f"{source}:{problem.line}:{problem.col}" if problem.line else source
        raise CardError(where, problem.message) from None
    if not isinstance(obj, dict):
        raise CardError(source, "a card must be a JSON object")
    spec = obj.get("spec")
    data: Any
    base: tuple[str, ...] = ()  # where the card's fields sit in the JSON
    if spec in (V2, V3) or (isinstance(obj.get("data"), dict) and "name" in obj["data"]):
        data, base = obj.get("data"), ("data",)
        if not isinstance(data, dict):
            raise CardError(source, f"a {spec} card needs a 'data' object")
        spec = spec if spec in (V2, V3) else V2
    else:
        data = {V1_ALIASES.get(k, k): v for k, v in obj.items() if k not in ("spec", "data")}
        spec = V1
    try:
        card = CardData.model_validate(data)
        card._raw = data
        return card, spec
    except ValidationError as err:
        positions = json_positions(text, source)
        problem = validation_problems(source, err, positions, model=CardData, data=data, base=base)[
            0
        ]
        where = f"{source}:{problem.line}:{problem.col}" if problem.line else source
        raise CardError(where, problem.message) from None


def _b64_json(text: bytes, keyword: str, source: str) -> tuple[CardData, str]:
    try:
        raw = base64.b64decode(b"".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise CardError(source, f"the '{keyword}' chunk is not valid base64") from None
    where = f"{source} ('{keyword}' chunk)"
    return parse_card_json(raw, where)


# --------------------------------------------------------------------------- PNG


def _from_png(raw: bytes, source: str) -> LoadedCard:
    chunks = read_text_chunks(raw, source)
    notes: list[str] = []
    parsed: tuple[CardData, str] | None = None
    if "ccv3" in chunks:
        try:
            parsed = _b64_json(chunks["ccv3"], "ccv3", source)
        except CardError as err:
            if "chara" not in chunks:
                raise
            notes.append(f"the ccv3 chunk is unreadable ({err.message}); used the chara chunk")
    if parsed is None:
        if "chara" not in chunks:
            raise CardError(source, "this PNG holds no character card (no 'chara' or 'ccv3' chunk)")
        parsed = _b64_json(chunks["chara"], "chara", source)
    data, spec = parsed
    portrait = with_text_chunks(raw, {}, source)
    return LoadedCard(data, spec, source, "png", portrait, notes)


# --------------------------------------------------------------------------- CHARX


class _ZipReader:
    """Reads members of an untrusted zip with per-member, total and ratio limits."""

    def __init__(self, zf: zipfile.ZipFile, source: str) -> None:
        self.zf = zf
        self.source = source
        self.total = 0

    def read(self, info: zipfile.ZipInfo, limit: int = MAX_ZIP_MEMBER_BYTES) -> bytes:
        name = info.filename
        if info.file_size > limit:
            raise CardError(self.source, f"'{name}' in the archive is too large")
        big = info.file_size > 1024 * 1024
        if big and info.file_size > MAX_ZIP_RATIO * max(1, info.compress_size):
            raise CardError(self.source, f"'{name}' compresses suspiciously well (zip bomb?)")
        try:
            with self.zf.open(info) as f:
                data = f.read(limit + 1)  # the header may lie: never read past the limit
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as err:
            raise CardError(self.source, f"corrupt archive member '{name}': {err}") from None
        except (RuntimeError, NotImplementedError) as err:  # encrypted, unknown compression
            raise CardError(self.source, f"cannot read '{name}': {err}") from None
        if len(data) > limit:
            raise CardError(self.source, f"'{name}' in the archive is too large")
        self.total += len(data)
        if self.total > MAX_ZIP_TOTAL_BYTES:
            raise CardError(self.source, "the archive unpacks to more than the size limit")
        return data


def _from_charx(raw: bytes, source: str) -> LoadedCard:
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as err:
        raise CardError(source, f"not a valid CHARX (zip) archive: {err}") from None
    if len(infos) > MAX_ZIP_MEMBERS:
        raise CardError(source, f"the archive has more than {MAX_ZIP_MEMBERS} files")
    by_name = {i.filename: i for i in infos if not i.is_dir()}
    if "card.json" not in by_name:
        raise CardError(source, "this CHARX archive has no card.json")
    reader = _ZipReader(zf, source)
    card_json = reader.read(by_name["card.json"], MAX_CARD_JSON_BYTES)
    data, spec = parse_card_json(card_json, f"{source} (card.json)")
    notes: list[str] = []
    portrait = None
    asset = _main_icon(data)
    if asset and asset in by_name:
        image = reader.read(by_name[asset])  # a zip bomb is an error, not a missing portrait
        try:
            portrait = to_png(image, source)
        except CardError as err:
            notes.append(f"portrait skipped: {err.message}")
    return LoadedCard(data, spec, source, "charx", portrait, notes)


def _main_icon(data: CardData) -> str | None:
    assets = data.unknown_fields().get("assets")
    if not isinstance(assets, list):
        return None
    icons = [a for a in assets if isinstance(a, dict) and a.get("type") == "icon"]
    icons.sort(key=lambda a: a.get("name") != "main")
    for icon in icons:
        uri = str(icon.get("uri") or "")
        for scheme in ("embeded://", "embedded://"):
            if uri.startswith(scheme):
                return uri[len(scheme) :]
    return None


def to_png(image: bytes, source: str) -> bytes:
    """Image bytes as PNG (converted with Pillow, pixel count bounded)."""
    if is_png(image):
        with_text_chunks(image, {}, source)  # validates the framing
        return image
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(image), formats=["JPEG", "WEBP", "GIF", "BMP"]) as im:
            if im.width * im.height > MAX_IMAGE_PIXELS:
                raise CardError(source, f"image is too large ({im.width}x{im.height})")
            out = io.BytesIO()
            im.convert("RGBA").save(out, format="PNG")
            return out.getvalue()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as err:
        raise CardError(source, f"unreadable image: {err}") from None
