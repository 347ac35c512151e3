"""PNG text chunks: read the ones cards use, and write them back before IEND.

Only the chunk framing is parsed (length, type, CRC); pixel data is never decoded here, so a
card's image cannot be a decompression bomb for this code. Compressed text chunks (zTXt,
compressed iTXt) are inflated with a hard output limit.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator, Mapping

from qualia_cli.authoring.cards.errors import (
    MAX_PNG_CHUNKS,
    MAX_TEXT_CHUNK_BYTES,
    CardError,
)

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CARD_KEYWORDS = ("chara", "ccv3")
_TEXT_TYPES = (b"tEXt", b"zTXt", b"iTXt")


def is_png(data: bytes) -> bool:
    return data.startswith(SIGNATURE)


def _chunks(data: bytes, source: str) -> Iterator[tuple[bytes, bytes, int, int]]:
    """(type, body, start, end) of every chunk up to and including IEND."""
    if not is_png(data):
        raise CardError(source, "not a PNG file (bad signature)")
    pos = len(SIGNATURE)
    for _ in range(MAX_PNG_CHUNKS):
        if pos + 8 > len(data):
            raise CardError(source, "truncated PNG: the file ends before its IEND chunk")
        length, ctype = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 12 + length
        if length > 0x7FFFFFFF or end > len(data):
            name = ctype.decode("latin-1", "replace")
            raise CardError(source, f"truncated PNG: the {name!r} chunk is cut short")
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[end - 4 : end])
        if zlib.crc32(ctype + body) & 0xFFFFFFFF != crc:
            name = ctype.decode("latin-1", "replace")
            raise CardError(source, f"corrupt PNG: bad checksum in the {name!r} chunk")
        yield ctype, body, pos, end
        if ctype == b"IEND":
            return
        pos = end
    raise CardError(source, f"PNG has more than {MAX_PNG_CHUNKS} chunks")


def _inflate(blob: bytes, source: str) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(blob, MAX_TEXT_CHUNK_BYTES + 1)
    except zlib.error as err:
        raise CardError(source, f"corrupt compressed text chunk: {err}") from None
    if len(out) > MAX_TEXT_CHUNK_BYTES or inflater.unconsumed_tail:
        raise CardError(source, "a compressed text chunk inflates beyond the size limit")
    return out


def _text(ctype: bytes, body: bytes, source: str) -> tuple[str, bytes]:
    keyword, sep, rest = body.partition(b"\0")
    if not sep:
        raise CardError(source, "corrupt PNG text chunk (no keyword separator)")
    name = keyword.decode("latin-1")
    if ctype == b"tEXt":
        return name, rest
    if ctype == b"zTXt":
        return name, _inflate(rest[1:], source)
    # iTXt: flag, method, language\0, translated keyword\0, text
    if len(rest) < 2:
        raise CardError(source, "corrupt PNG iTXt chunk")
    flag, rest = rest[0], rest[2:]
    _lang, _, rest = rest.partition(b"\0")
    _translated, _, text = rest.partition(b"\0")
    return name, _inflate(text, source) if flag else text


def read_text_chunks(data: bytes, source: str) -> dict[str, bytes]:
    """The text chunks named like card payloads (``chara``, ``ccv3``), by keyword."""
    found: dict[str, bytes] = {}
    for ctype, body, _, _ in _chunks(data, source):
        if ctype not in _TEXT_TYPES:
            continue
        if len(body) > MAX_TEXT_CHUNK_BYTES:
            raise CardError(source, f"a PNG text chunk is larger than {MAX_TEXT_CHUNK_BYTES} bytes")
        keyword = body.partition(b"\0")[0].decode("latin-1").lower()
        if keyword in CARD_KEYWORDS:
            name, text = _text(ctype, body, source)
            found[name.lower()] = text
    return found


def _chunk(ctype: bytes, body: bytes) -> bytes:
    return (
        struct.pack(">I", len(body))
        + ctype
        + body
        + struct.pack(">I", zlib.crc32(ctype + body) & 0xFFFFFFFF)
    )


def with_text_chunks(data: bytes, texts: Mapping[str, bytes], source: str = "") -> bytes:
    """``data`` (a PNG) without its card chunks, plus ``texts`` as tEXt chunks before IEND."""
    out = [SIGNATURE]
    for ctype, body, start, end in _chunks(data, source):
        if ctype in _TEXT_TYPES:
            keyword = body.partition(b"\0")[0].decode("latin-1").lower()
            if keyword in CARD_KEYWORDS:
                continue
        if ctype == b"IEND":
            for keyword, text in texts.items():
                out.append(_chunk(b"tEXt", keyword.encode("latin-1") + b"\0" + text))
        out.append(data[start:end])
    return b"".join(out)
