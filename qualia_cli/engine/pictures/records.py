"""Provenance of engine pictures: the `images` row of a request, and a finished file to reuse.

Shared by the background jobs (engine/pictures/jobs.py) and batches (engine/pictures/batches.py),
so a request is recorded the same way and never generated twice, whoever asks for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from qualia_cli.store import images as image_rows

if TYPE_CHECKING:
    from qualia_cli.images.request import ImageRequest
    from qualia_cli.store import Store
    from qualia_cli.store.images import ImageRecord


def add_request_row(store: Store, req: ImageRequest, **values: Any) -> int:
    """Insert the row of `req` (what was asked) plus `values` (session, status, results…)."""
    return image_rows.add_image(
        store,
        **values,
        prompt=req.prompt,
        negative_prompt=req.negative_prompt,
        seed=req.seed,
        workflow=req.workflow,
        workflow_json=req.graph or req.sketch,
        request_hash=req.request_hash,
        backend=req.backend,
        model=req.model,
        variant=req.scene.variant,
        format=req.format,
    )


def find_existing(
    store: Store, req: ImageRequest, folder: str
) -> tuple[Path, ImageRecord | None] | None:
    """A finished file for exactly `req`: from its ready row, else already in `folder`.

    The row is None when the file was made before but its row is gone (or a batch made it).
    """
    from qualia_cli.images.files import image_path

    found = image_rows.find_ready(store, req.request_hash)
    if found and found.path and Path(found.path).is_file():
        return Path(found.path), found
    path = image_path(folder, req.request_hash, req.format)
    return (path, None) if path.is_file() else None
