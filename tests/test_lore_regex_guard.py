"""Issue 13.1: a stranger's lorebook regex never freezes a turn.

Nested repetition (catastrophic backtracking) is refused at load with file:line:col; any other
slow pattern is cut by the per-scan time budget."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from qualia_cli.memory import lore
from qualia_cli.scenario import ScenarioError, load_scenario
from qualia_cli.scenario.models import LoreEntry
from tests.test_scenario_loader import MINIMAL


@pytest.mark.parametrize("key", [r"/(\w+\s?)+$/i", "(a+)+$", "(a*)*b", "(x|y+)*z"])
def test_nested_repetition_is_refused_at_load_with_its_line(tmp_path: Path, key: str) -> None:
    path = tmp_path / "s.yaml"
    quoted = key.replace("'", "''")
    path.write_text(
        MINIMAL + f"lorebook:\n  entries:\n    - keys: ['{quoted}']\n      regex: true\n"
        "      content: x\n",
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert message.startswith(f"{path}:24:14: lorebook.entries[0].keys[0]: ")
    assert "repeats a group that itself repeats" in message


@pytest.mark.parametrize("key", [r"manifests?", r"(\d{1,3}\.){3}\d+", "(ab)+c", "(?:x|y)+z"])
def test_ordinary_regex_keys_still_load(key: str) -> None:
    LoreEntry(keys=[key], regex=True, content="x")


_SCAN = """
import sys, time
from qualia_cli.memory import lore
from qualia_cli.scenario.models import Lorebook, LoreEntry
entries = [LoreEntry(keys=[k], regex=True, content=f"e{i}") for i, k in enumerate(sys.argv[2:])]
entries.append(LoreEntry(keys=["fog"], constant=True, content="always"))
started = time.monotonic()
hits = lore.triggered(Lorebook(entries=entries), sys.argv[1])
print(round(time.monotonic() - started, 2), ",".join(h.entry.content for h in hits))
"""


def _scan(text: str, *keys: str) -> tuple[float, list[str]]:
    """Scan in a child process: a regex that freezes holds the GIL, so only a process can be
    stopped (on old code this test fails by timeout instead of hanging the suite)."""
    try:
        out = subprocess.run(
            [sys.executable, "-c", _SCAN, text, *keys],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the lore scan was still running after 20 s")
    assert out.returncode == 0, out.stderr
    seconds, contents = out.stdout.split(" ", 1)
    return float(seconds), contents.strip().split(",")


def test_a_slow_pattern_costs_at_most_the_scan_budget() -> None:
    # (a|aa)+$ has no nested quantifier but backtracks exponentially on 'aaaa…b'.
    seconds, hits = _scan("a" * 60 + "b harbour", "(a|aa)+$", "harbour")
    assert seconds < lore.SCAN_BUDGET_S + 4  # generous for a loaded machine; unbounded runs 20 s+
    assert "always" in hits  # constant entries still fire


def test_the_budget_is_shared_by_all_keys_of_one_scan() -> None:
    seconds, _ = _scan("x" * 60, *[f"(x|xx)+y{i}$" for i in range(8)])
    assert seconds < lore.SCAN_BUDGET_S + 4  # generous for a loaded machine; unbounded runs 20 s+
