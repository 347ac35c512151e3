"""Image files: where they go, how they are written (WebP or PNG) and the metadata inside.

Files live under `<data>/images/<folder>/<request hash>.<ext>`; the name comes only from our own
hash and the folder from a session id or scenario id that is checked to be a plain name — never
from anything a server sent. PNG carries a `parameters` text chunk (the A1111 convention) and a
`qualia` JSON chunk; WebP carries the same JSON in its XMP packet.
"""

from __future__ import annotations

import html
import io
import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

from qualia_cli.images.errors import ImageError
from qualia_cli.paths import get_paths

_FOLDER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,80}$")
_XMP_ATTR = re.compile(rb'qualia:params="([^"]*)"')
EXTENSIONS = {"webp": ".webp", "png": ".png"}


def images_root() -> Path:
    return get_paths().images_dir


def image_path(folder: str, request_hash: str, fmt: str) -> Path:
    """The one place an image may be written: inside the images directory, named by hash."""
    if (
        not _FOLDER.match(folder)
        or ".." in folder
        or not re.fullmatch(r"[0-9a-f]{16,64}", request_hash)
    ):
        raise ImageError(
            f"refusing to write an image to an unsafe name: {folder!r}/{request_hash!r}"
        )
    root = images_root().resolve()
    path = (root / folder.replace(":", "_") / f"{request_hash[:24]}{EXTENSIONS[fmt]}").resolve()
    if root not in path.parents:
        raise ImageError(f"refusing to write outside {root}: {path}")
    return path


def _xmp(meta: dict[str, Any]) -> bytes:
    value = html.escape(json.dumps(meta, ensure_ascii=False, sort_keys=True), quote=True)
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:qualia="https://github.com/qualia-cli/ns/1.0/" '
        f'qualia:params="{value}"/></rdf:RDF></x:xmpmeta>'
    ).encode()


def _parameters(meta: dict[str, Any]) -> str:
    """The A1111-style text other tools read: prompt, negative prompt, then key: value pairs."""
    return (
        f"{meta.get('prompt', '')}\nNegative prompt: {meta.get('negative_prompt', '')}\n"
        f"Seed: {meta.get('seed')}, Model: {meta.get('model', '')}, "
        f"Workflow: {meta.get('workflow', '')}, Workflow hash: {meta.get('workflow_hash', '')}"
    )


def encode(image: Any, fmt: str, quality: int, meta: dict[str, Any]) -> bytes:
    """A PIL image as WebP or PNG bytes with `meta` embedded."""
    from PIL import PngImagePlugin

    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGB")
    buf = io.BytesIO()
    if fmt == "png":
        info = PngImagePlugin.PngInfo()
        info.add_text("parameters", _parameters(meta))
        info.add_itxt("qualia", json.dumps(meta, ensure_ascii=False, sort_keys=True))
        image.save(buf, "PNG", pnginfo=info, optimize=False)
    else:
        image.save(buf, "WEBP", quality=quality, method=4, xmp=_xmp(meta))
    return buf.getvalue()


def decode(data: bytes) -> Any:
    """Bytes from a server as a PIL image (raises ImageError if they are not one)."""
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except Image.DecompressionBombError as err:
        raise ImageError(f"the server sent an image too large to decode: {err}") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        raise ImageError(f"the server sent an unreadable image: {err}") from None
    return image


def write_atomic(path: Path, data: bytes) -> None:
    """Write via a temporary file and a rename; the file gets the usual mode (0666 less the
    umask, e.g. 0644) so other tools can read it (mkstemp would make it 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = str(path.parent / f".tmp-{uuid.uuid4().hex}{path.suffix}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_metadata(path: Path) -> dict[str, Any]:
    """The qualia metadata embedded in a WebP or PNG written by `encode` ({} if none)."""
    from PIL import Image

    with Image.open(path) as image:
        if image.format == "PNG":
            text = image.info.get("qualia")
            return json.loads(text) if isinstance(text, str) else {}
        xmp = image.info.get("xmp")
    if isinstance(xmp, str):
        xmp = xmp.encode()
    found = _XMP_ATTR.search(xmp or b"")
    return json.loads(html.unescape(found.group(1).decode())) if found else {}


def image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as image:
        return image.size
