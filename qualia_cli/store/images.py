"""Image provenance rows (the `images` table): what was asked, how it was made, where it is.

Functions take a `Store` and use its connection under its lock, like the Store's own methods.
A row is written when a job is queued and updated as it runs; a ready row with a given
`request_hash` is how the same request is never generated twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from qualia_cli.store.codec import dumps, loads, now_iso, rows
from qualia_cli.store.db import Store
from qualia_cli.store.errors import StoreError

_SECRET_KEY = re.compile(r"api[_-]?key|secret|password|authorization|bearer|token", re.I)
_COLUMNS = (
    "session_id",
    "message_id",
    "turn_id",
    "status",
    "path",
    "prompt",
    "negative_prompt",
    "seed",
    "workflow",
    "workflow_json",
    "server",
    "request_hash",
    "timings",
    "error",
    "backend",
    "model",
    "variant",
    "format",
    "width",
    "height",
)


@dataclass
class ImageRecord:
    id: int
    session_id: str
    message_id: int | None
    turn_id: str | None
    status: str  # queued | running | ready | failed
    path: str | None
    prompt: str | None
    negative_prompt: str | None
    seed: int | None
    workflow: str | None
    workflow_json: dict[str, Any] | None
    server: str | None
    request_hash: str | None
    timings: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    backend: str | None = None
    model: str | None = None
    variant: int = 0
    format: str | None = None
    width: int | None = None
    height: int | None = None
    created_at: str = ""
    updated_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def scrub(value: Any) -> Any:
    """A copy with credential-like fields masked (a workflow must never bring a key to disk)."""
    if isinstance(value, dict):
        return {
            k: "***" if _SECRET_KEY.search(str(k)) and isinstance(v, str) else scrub(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def _record(row: dict[str, Any]) -> ImageRecord:
    values = {k: row.get(k) for k in ImageRecord.__dataclass_fields__ if k in row}
    values["workflow_json"] = loads(row.get("workflow_json"))
    values["timings"] = loads(row.get("timings"), {}) or {}
    values["variant"] = row.get("variant") or 0
    return ImageRecord(**values)


def add_image(store: Store, **values: Any) -> int:
    """Insert a row (keys from the table's columns); returns its id."""
    unknown = set(values) - set(_COLUMNS)
    if unknown:
        raise StoreError(f"unknown image columns: {', '.join(sorted(unknown))}")
    now = now_iso()
    values = _encode(values) | {"created_at": now, "updated_at": now}
    names = ", ".join(values)
    marks = ", ".join("?" * len(values))
    with store._lock, store.db.atomic():
        cur = store.db.execute(
            f"INSERT INTO images ({names}) VALUES ({marks})", list(values.values())
        )
        assert cur.lastrowid is not None
        return cur.lastrowid


def update_image(store: Store, image_id: int, **values: Any) -> None:
    unknown = set(values) - set(_COLUMNS)
    if unknown:
        raise StoreError(f"unknown image columns: {', '.join(sorted(unknown))}")
    values = _encode(values) | {"updated_at": now_iso()}
    assignments = ", ".join(f"{k} = ?" for k in values)
    with store._lock, store.db.atomic():
        store.db.execute(
            f"UPDATE images SET {assignments} WHERE id = ?", [*values.values(), image_id]
        )
        if values.get("status") == "ready" and values.get("path"):
            found = store.conn.execute(
                "SELECT message_id FROM images WHERE id = ?", [image_id]
            ).fetchone()
            if found and found[0] is not None:
                store.db.execute(
                    "UPDATE messages SET image_path = ? WHERE id = ?", [values["path"], found[0]]
                )


def _encode(values: dict[str, Any]) -> dict[str, Any]:
    out = dict(values)
    for key in ("workflow_json", "timings"):
        if key in out and not isinstance(out[key], str | None):
            out[key] = dumps(scrub(out[key]))
    return out


def get_image(store: Store, image_id: int) -> ImageRecord | None:
    with store._lock:
        found = rows(store.db.execute("SELECT * FROM images WHERE id = ?", [image_id]))
    return _record(found[0]) if found else None


def find_ready(store: Store, request_hash: str) -> ImageRecord | None:
    """The newest finished image made from exactly this request, if any."""
    with store._lock:
        found = rows(
            store.db.execute(
                "SELECT * FROM images WHERE request_hash = ? AND status = 'ready' "
                "AND path IS NOT NULL ORDER BY id DESC LIMIT 1",
                [request_hash],
            )
        )
    return _record(found[0]) if found else None


def list_images(store: Store, session_id: str) -> list[ImageRecord]:
    with store._lock:
        found = rows(
            store.db.execute("SELECT * FROM images WHERE session_id = ? ORDER BY id", [session_id])
        )
    return [_record(r) for r in found]


def images_for_message(store: Store, message_id: int) -> list[ImageRecord]:
    with store._lock:
        found = rows(
            store.db.execute("SELECT * FROM images WHERE message_id = ? ORDER BY id", [message_id])
        )
    return [_record(r) for r in found]
