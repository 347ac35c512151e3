"""Issue 13.1: a stranger's lorebook regex never freezes a turn.

Nested repetition (catastrophic backtracking) is refused at load with file:line:col; any other
slow pattern is cut by the per-scan time budget."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from qualia_cli.memory import lore
from qualia_cli.scenario import ScenarioError, load_scenario
from qualia_cli.scenario.models import Lorebook, LoreEntry
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


def _scan_in_thread(book: Lorebook, text: str) -> tuple[threading.Thread, list[object]]:
    out: list[object] = []
    worker = threading.Thread(target=lambda: out.append(lore.triggered(book, text)), daemon=True)
    worker.start()
    return worker, out


def test_a_slow_pattern_costs_at_most_the_scan_budget() -> None:
    # (a|aa)+$ has no nested quantifier but backtracks exponentially on 'aaaa…b'.
    book = Lorebook(
        entries=[
            LoreEntry(keys=["(a|aa)+$"], regex=True, content="slow"),
            LoreEntry(keys=["harbour"], content="plain"),
            LoreEntry(keys=["fog"], constant=True, content="always"),
        ]
    )
    started = time.monotonic()
    worker, out = _scan_in_thread(book, "a" * 60 + "b harbour")
    worker.join(timeout=10)
    assert not worker.is_alive(), "the lore scan is still running after 10 s"
    assert time.monotonic() - started < 5
    hits = out[0]
    assert isinstance(hits, list)
    assert "always" in [h.entry.content for h in hits]  # constant entries still fire


def test_the_budget_is_shared_by_all_keys_of_one_scan() -> None:
    entries = [LoreEntry(keys=[f"(x|xx)+y{i}$"], regex=True, content=str(i)) for i in range(8)]
    started = time.monotonic()
    worker, _ = _scan_in_thread(Lorebook(entries=entries), "x" * 60)
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert time.monotonic() - started < lore.SCAN_BUDGET_S * 3 + 1
