"""Session housekeeping the front ends offer: delete (with the session's own images),
archive / unarchive, rename."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from qualia_cli.engine.library.portability import PortabilityError
from qualia_cli.paths import get_paths

if TYPE_CHECKING:
    from qualia_cli.engine.facade import Engine


def delete_session(engine: Engine, session_id: str) -> str:
    """Delete a session and its own image folder (``<images>/<id>/``); returns the full id.

    Images elsewhere (a scenario's shared opening picture, a file another session reuses) are
    left alone.
    """
    full = engine.store.resolve_session_id(session_id)
    engine.store.delete_session(full)
    root = get_paths().images_dir.resolve()
    folder = (root / full).resolve()
    if folder.parent == root and folder.is_dir():
        shutil.rmtree(folder, ignore_errors=True)
    return full


def archive_session(engine: Engine, session_id: str, archived: bool = True) -> str:
    full = engine.store.resolve_session_id(session_id)
    engine.store.set_archived(full, archived)
    return full


def rename_session(engine: Engine, session_id: str, title: str) -> str:
    title = " ".join(title.split())
    if not title:
        raise PortabilityError("a session title cannot be empty")
    if len(title) > 200:
        raise PortabilityError("a session title can be at most 200 characters")
    full = engine.store.resolve_session_id(session_id)
    engine.store.rename(full, title)
    return full
