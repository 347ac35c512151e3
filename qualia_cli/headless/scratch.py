"""Scratch databases for playthrough runs, swept up after runs that were killed.

Each run plays in ``<cache>/runs/<pid>-<id>/`` and removes it when it ends. A run killed before
it could (SIGKILL, a power cut) leaves its directory behind; the next run removes every
directory whose process is gone (on Windows, where a process cannot be probed safely, those
older than two days).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
import uuid
from pathlib import Path

from qualia_cli.paths import get_paths

STALE_SECONDS = 2 * 24 * 3600


def runs_dir() -> Path:
    return get_paths().cache_dir / "runs"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    except OSError:
        return False
    return True


def _stale(path: Path) -> bool:
    pid_text, _, rest = path.name.partition("-")
    if not rest or not pid_text.isdigit():
        return False  # not ours
    if sys.platform == "win32":  # os.kill(pid, 0) would send CTRL_C_EVENT there
        try:
            return time.time() - path.stat().st_mtime > STALE_SECONDS
        except OSError:
            return False
    pid = int(pid_text)
    return pid != os.getpid() and not _alive(pid)


def sweep() -> list[Path]:
    """Remove the scratch directories of runs whose process is gone; returns them."""
    root = runs_dir()
    if not root.is_dir():
        return []
    removed = []
    for path in root.iterdir():
        if path.is_dir() and _stale(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def new_scratch() -> Path:
    """A fresh scratch directory name for this process (created by whoever writes into it)."""
    sweep()
    return runs_dir() / f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
