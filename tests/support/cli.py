"""Run the real `qualia` command in a child process (it inherits the test's QUALIA_HOME)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def qualia(
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 600,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python -m qualia_cli ARGS`` with ``env`` added to this process's environment."""
    return subprocess.run(
        [sys.executable, "-m", "qualia_cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
