"""The library of saved sessions as one service: list, export (to text or a file), import,
delete, archive / unarchive, rename.

``Engine`` composes it as ``engine.library``; it needs only the store (given as a provider,
so the database opens on first use) and never the ``Engine`` itself. Every transcript comes
from one renderer (``transcript.py``): ``qualia sessions export`` and the TUI's ctrl+s write
the same text for the same session.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from qualia_cli.engine.library.portability import (
    PortabilityError,
    import_session,
    portable_session,
)
from qualia_cli.engine.library.transcript import render_html, render_markdown
from qualia_cli.engine.story.branching import SessionActionError
from qualia_cli.engine.story.tree import branch_turns
from qualia_cli.paths import get_paths

if TYPE_CHECKING:
    from qualia_cli.store import Store
    from qualia_cli.store.records import SessionRecord

Format = Literal["md", "html", "json"]
FORMATS: tuple[str, ...] = ("md", "html", "json")
MAX_TITLE = 200


def slug(text: str) -> str:
    """A file-name-safe version of a title."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "session"


class LibraryService:
    """Saved sessions: what the front ends list, export, import and tidy up."""

    def __init__(self, store: Callable[[], Store]) -> None:
        self._store = store

    @property
    def store(self) -> Store:
        return self._store()

    # -- listing ----------------------------------------------------------------------------

    def list_sessions(self, include_archived: bool = False) -> list[SessionRecord]:
        """Saved sessions, most recently played first (archived ones only when asked)."""
        return self.store.list_sessions(include_archived=include_archived)

    def branch_turns(self, record: SessionRecord) -> int:
        """How many turns the session's current branch holds (not counting other branches)."""
        return branch_turns(self.store, record)

    # -- export -----------------------------------------------------------------------------

    def portable(self, session_id: str, *, branch_only: bool = False) -> dict[str, Any]:
        """The portable document of a session (a plain dict, ready for ``json.dumps``)."""
        return portable_session(self.store, session_id, branch_only=branch_only)

    def export(self, session_id: str, fmt: Format = "json", *, branch_only: bool = False) -> str:
        """The session as text: a portable JSON copy, a Markdown or a self-contained HTML file
        (the whole tree, or ``branch_only``)."""
        if fmt not in FORMATS:
            raise PortabilityError(f"unknown export format '{fmt}' (use md, html or json)")
        doc = self.portable(session_id, branch_only=branch_only)
        if fmt == "md":
            return render_markdown(doc)
        if fmt == "html":
            return render_html(doc)
        return json.dumps(doc, ensure_ascii=False, indent=1) + "\n"

    @staticmethod
    def default_export_path(title: str, session_id: str, fmt: str) -> Path:
        """``<exports dir>/<title>-<id>.<fmt>`` (nothing is created)."""
        return get_paths().exports_dir / f"{slug(title)}-{session_id}.{fmt}"

    def export_to_file(
        self, session_id: str, fmt: str, path: Path, *, branch_only: bool = False
    ) -> Path:
        """Write ``export`` into ``path`` whole or not at all (a temporary file in the same
        folder, then renamed): a full disk or a cancelled write leaves no half transcript."""
        if fmt not in FORMATS:
            raise SessionActionError(
                f"unknown export format '{fmt}': use one of {', '.join(FORMATS)}"
            )
        path = path.expanduser()
        if path.is_dir():
            raise SessionActionError(f"{path} is a folder: give a file name")
        text = self.export(session_id, fmt, branch_only=branch_only)  # type: ignore[arg-type]
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".qualia-export-", dir=path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    out.write(text)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as err:
            raise SessionActionError(f"cannot write {path}: {err.strerror or err}") from err
        return path

    # -- import -----------------------------------------------------------------------------

    def import_file(self, path: Path) -> SessionRecord:
        """Import a portable copy as a new session (same id if free); returns its record."""
        return import_session(self.store, path)

    # -- housekeeping -----------------------------------------------------------------------

    def delete(self, session_id: str) -> str:
        """Delete a session and its own image folder (``<images>/<id>/``); returns the full id.

        Images elsewhere (a scenario's shared opening picture, a file another session reuses)
        are left alone.
        """
        store = self.store
        full = store.resolve_session_id(session_id)
        store.delete_session(full)
        root = get_paths().images_dir.resolve()
        folder = (root / full).resolve()
        if folder.parent == root and folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
        return full

    def archive(self, session_id: str, archived: bool = True) -> str:
        """Hide a session from the list (or bring it back); nothing is deleted."""
        full = self.store.resolve_session_id(session_id)
        self.store.set_archived(full, archived)
        return full

    def rename(self, session_id: str, title: str) -> str:
        title = " ".join(title.split())
        if not title:
            raise PortabilityError("a session title cannot be empty")
        if len(title) > MAX_TITLE:
            raise PortabilityError(f"a session title can be at most {MAX_TITLE} characters")
        full = self.store.resolve_session_id(session_id)
        self.store.rename(full, title)
        return full
