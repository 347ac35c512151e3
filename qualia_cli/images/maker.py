"""Make one image file for a resolved request: the sketch renderer or a ComfyUI server.

No database here: the caller decides about reuse (a finished file with the same hash) and
records provenance. The file is written atomically, named by the request hash, inside the
images directory, with the prompt, seed and workflow hash embedded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qualia_cli.images.comfy import ComfyClient, Progress
from qualia_cli.images.files import decode, encode, image_path, write_atomic
from qualia_cli.images.request import ImageRequest


@dataclass
class Made:
    path: Path
    width: int
    height: int
    server: str = ""
    prompt_id: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    via: str = ""


def _sketch_file(request: ImageRequest, path: Path) -> tuple[int, int]:
    from qualia_cli.images.sketch import render

    image = render(request.sketch)
    write_atomic(path, encode(image, request.format, request.quality, request.metadata()))
    return image.size


def _comfy_file(request: ImageRequest, data: bytes, path: Path) -> tuple[int, int]:
    image = decode(data)
    write_atomic(path, encode(image, request.format, request.quality, request.metadata()))
    return image.size


async def make_image(
    request: ImageRequest,
    folder: str,
    *,
    client: ComfyClient | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> Made:
    """Render or generate `request` into `<images>/<folder>/<hash>.<ext>`."""
    path = image_path(folder, request.request_hash, request.format)
    t0 = time.monotonic()
    if request.backend == "sketch":
        width, height = await asyncio.to_thread(_sketch_file, request, path)
        return Made(path, width, height, timings={"total_ms": (time.monotonic() - t0) * 1000})
    if client is None or request.graph is None:
        raise ValueError("a ComfyUI request needs a client and a resolved workflow")
    graph = request.graph
    for name, data in request.uploads.items():  # %char_avatar% / %user_avatar% pictures
        folder, _, base = name.rpartition("/")
        given = await client.upload_image(data, base, subfolder=folder)
        if given != name:
            from qualia_cli.images.workflows import replace_value

            graph = replace_value(graph, name, given)
    result = await client.generate(graph, on_progress)
    t_save = time.monotonic()
    width, height = await asyncio.to_thread(_comfy_file, request, result.image, path)
    timings: dict[str, Any] = dict(result.timings)
    timings["save_ms"] = (time.monotonic() - t_save) * 1000
    timings["total_ms"] = (time.monotonic() - t0) * 1000
    return Made(path, width, height, client.server, result.prompt_id, timings, result.via)
