"""Shared set-up for benchmarks: a throwaway QUALIA_HOME and an engine on a given router."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # fakes.py and support/ (the stub server)


def temp_home() -> Path:
    home = Path(tempfile.mkdtemp(prefix="qualia-bench-"))
    os.environ["QUALIA_HOME"] = str(home)
    return home


def table(title: str, rows: list[tuple[str, str]]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table("metric", "value", title=title)
    for k, v in rows:
        t.add_row(k, v)
    Console().print(t)


# what the scripted model answers the Summarizer (its defaults have no summary, and a failing
# summarizer would retry every turn and skew the timings)
SUMMARIZER_ANSWER = {
    "summary": "They talked in the rain.",
    "facts": ["The player came in from the rain."],
}
