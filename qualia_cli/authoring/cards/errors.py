"""Limits on untrusted card files, and the one-line error every reader raises."""

from __future__ import annotations

from qualia_cli.authoring.errors import AuthoringError

MAX_CARD_FILE_BYTES = 32 * 1024 * 1024  # a PNG card with its portrait, or a CHARX archive
MAX_CARD_JSON_BYTES = 8 * 1024 * 1024  # the card's JSON, decoded
MAX_PNG_CHUNKS = 10_000
MAX_TEXT_CHUNK_BYTES = 12 * 1024 * 1024  # one tEXt/zTXt/iTXt chunk (base64 of the JSON)
MAX_ZIP_MEMBERS = 500
MAX_ZIP_MEMBER_BYTES = 16 * 1024 * 1024  # one file inside a CHARX, uncompressed
MAX_ZIP_TOTAL_BYTES = 64 * 1024 * 1024  # everything we read from a CHARX, uncompressed
MAX_ZIP_RATIO = 100  # uncompressed / compressed, for members above 1 MiB
MAX_IMAGE_PIXELS = 40_000_000  # portraits decoded with Pillow


class CardError(AuthoringError):
    """A card that cannot be read or written; ``str()`` is one line naming the file."""
