"""Scratch databases of killed playthrough runs are swept up by the next run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from qualia_cli.headless.scratch import new_scratch, runs_dir, sweep


@pytest.mark.skipif(sys.platform == "win32", reason="processes are probed with os.kill on POSIX")
def test_sweep_removes_only_dead_runs(qualia_home: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(done.stdout)
    root = runs_dir()
    dead = root / f"{dead_pid}-abc123"
    mine = root / f"{os.getpid()}-def456"
    parent = root / f"{os.getppid()}-0a0a0a"  # a live process that is not this one
    other = root / "notes"
    for path in (dead, mine, parent, other):
        (path).mkdir(parents=True)
        (path / "sessions.db").write_bytes(b"x")

    assert sweep() == [dead]
    assert not dead.exists()
    assert mine.exists() and parent.exists() and other.exists()


def test_new_scratch_is_per_process_and_unique(qualia_home: Path) -> None:
    a, b = new_scratch(), new_scratch()
    assert a != b
    assert a.parent == b.parent == runs_dir()
    assert a.name.startswith(f"{os.getpid()}-")
    assert not a.exists()  # created by the engine that writes its database there
