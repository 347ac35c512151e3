"""Write an export of a session to a file: the same renderer as `qualia sessions export`.

Used by the TUI's export dialog (ctrl+s). The file is written whole or not at all (a temporary
file in the same folder, then renamed), so a full disk or a cancelled write never leaves half a
transcript behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from qualia_cli.engine.library.export import slug
from qualia_cli.engine.story.branching import SessionActionError

if TYPE_CHECKING:
    from qualia_cli.engine import Engine

FORMATS = ("md", "html", "json")


def default_export_path(title: str, session_id: str, fmt: str) -> Path:
    """``<exports dir>/<title>-<id>.<fmt>`` (nothing is created)."""
    from qualia_cli.paths import get_paths

    return get_paths().exports_dir / f"{slug(title)}-{session_id}.{fmt}"


def export_to_file(
    engine: Engine, session_id: str, fmt: str, path: Path, *, branch_only: bool = False
) -> Path:
    """Render the session (the whole tree, or ``branch_only``) as ``fmt`` into ``path``."""
    from qualia_cli.engine.library.portability import export_session

    if fmt not in FORMATS:
        raise SessionActionError(f"unknown export format '{fmt}': use one of {', '.join(FORMATS)}")
    path = path.expanduser()
    if path.is_dir():
        raise SessionActionError(f"{path} is a folder: give a file name")
    text = export_session(engine, session_id, fmt, branch_only=branch_only)  # type: ignore[arg-type]
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
