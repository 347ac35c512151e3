"""Issue 13.5/7/12/13: one safe reader for every YAML/JSON file from a user or a stranger.

Bounded alias expansion, integer size, nesting depth; no explicit tags; regular files only,
size checked before reading; every problem one `file:line:col` line (exit 2 from the CLI)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from qualia_cli.authoring.cards.errors import CardError
from qualia_cli.authoring.cards.read import read_card
from qualia_cli.config import ConfigError, load_settings
from qualia_cli.engine.memory import MemoryAdmin
from qualia_cli.headless.loader import load_playthrough
from qualia_cli.images.errors import WorkflowError
from qualia_cli.images.workflows import load_workflow
from qualia_cli.llm.cassette_file import load_cassette
from qualia_cli.memory.lore_import import LorebookImportError
from qualia_cli.paths import get_paths
from qualia_cli.scenario import ScenarioError, compile_condition, load_scenario
from tests.support.cli import qualia
from tests.test_scenario_loader import MINIMAL

CASSETTE = (
    "version: 1\ninteractions:\n- key: 0123456789abcdef0123\n  provider: p\n  model: m\n"
    "  request:\n    messages: []\n  response:\n    text: {text}\n"
)
WORKFLOW = {
    "3": {"class_type": "KSampler", "inputs": {"seed": "%seed%", "model": ["4", 0]}},
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "x.safetensors"}},
}


def _laughs(levels: int = 9) -> str:
    """A 'billion laughs' block: 9 ** levels values from a few hundred bytes."""
    lines = ["  lol0: &l0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        refs = ", ".join([f"*l{i - 1}"] * 9)
        lines.append(f"  lol{i}: &l{i} [{refs}]")
    return "\n".join(lines) + "\n"


def _one_line(err: BaseException, path: Path) -> str:
    message = str(err)
    assert "\n" not in message
    assert message.startswith(str(path)), message
    return message[len(str(path)) :]


# --------------------------------------------------------------------------- 13.5 aliases


def test_billion_laughs_in_card_extensions_is_refused_fast(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(MINIMAL + "card:\n  extensions:\n" + _laughs().replace("  ", "    ", 1))
    started = time.monotonic()
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert time.monotonic() - started < 5
    assert "aliases expand to more than" in _one_line(info.value, path)


def test_billion_laughs_in_a_lore_entry_fails_scenario_validate(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    bomb = "".join("      " + line.strip() + "\n" for line in _laughs().splitlines())
    path.write_text(
        MINIMAL + "lorebook:\n  entries:\n    - keys: [cat]\n      content: c\n"
        "      extensions:\n" + bomb
    )
    out = qualia("scenario", "validate", str(path), timeout=120)
    assert out.returncode == 1, out.stdout + out.stderr  # validate: 1 = the file has errors
    assert "ok" not in out.stdout
    assert out.stdout.startswith(f"{path}:32:13: its aliases expand to more than 200000 values")
    assert "1 file: 1 error" in out.stdout


# --------------------------------------------------------------------------- 13.7 parsers


def _huge() -> str:
    return "1" + "0" * 5000


def test_explicit_tags_are_refused_everywhere_with_their_position(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(MINIMAL + "summary: !!int abc\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(scenario)
    assert _one_line(info.value, scenario) == (
        ":22:10: explicit YAML tags like '!!int' are not allowed; remove it"
    )

    script = tmp_path / "x.play.yaml"
    script.write_text("scenario: fogbound_archive\nseed: !!int nine\ntests: {}\n")
    with pytest.raises(ScenarioError) as info:
        load_playthrough(script)
    assert _one_line(info.value, script).startswith(":2:7: explicit YAML tags")

    cassette = tmp_path / "c.cassette.yaml"
    cassette.write_text(CASSETTE.format(text="!!int hello"))
    with pytest.raises(ScenarioError) as info:
        load_cassette(cassette)
    assert _one_line(info.value, cassette).startswith(":9:11: explicit YAML tags")

    config = get_paths().config_file
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("log_level: !!int debug\n")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert _one_line(info.value, config).startswith(":1:12: explicit YAML tags")


def test_integers_past_the_bound_are_located_not_crashes(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(MINIMAL.replace("  age: 30", f"  age: {_huge()}"))
    with pytest.raises(ScenarioError) as info:
        load_scenario(scenario)
    assert _one_line(info.value, scenario) == ":11:8: number too large (more than 30 digits)"

    card = tmp_path / "card.json"
    card.write_text('{"name": "A",\n "description": "d", "x": ' + _huge() + "}")
    with pytest.raises(CardError) as info:
        read_card(card)
    assert _one_line(info.value, card).startswith(":2:27: not valid JSON: number too large")

    workflow = tmp_path / "w.json"
    graph = json.dumps(WORKFLOW, indent=1).replace('"x.safetensors"', _huge())
    workflow.write_text(graph)
    with pytest.raises(WorkflowError) as info:
        load_workflow(workflow)
    assert "number too large" in _one_line(info.value, workflow)

    script = tmp_path / "x.play.yaml"
    script.write_text(f"scenario: fogbound_archive\nseed: {_huge()}\ntests: {{}}\n")
    with pytest.raises(ScenarioError) as info:
        load_playthrough(script)
    assert _one_line(info.value, script).startswith(":2:7: number too large")


@pytest.mark.parametrize("digit", ["²", "١", "𝟗"])
def test_non_ascii_digits_in_a_condition_are_a_condition_error(digit: str) -> None:
    with pytest.raises(ValueError, match="unexpected character"):
        compile_condition(f"trust >= {digit}", ["trust"])


def _deep_json(depth: int = 5000) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


def test_deep_json_is_refused_by_workflow_lorebook_and_cassette_readers(tmp_path: Path) -> None:
    cases: list[tuple[str, Callable[[Path], Any], type[Exception]]] = [
        ("w.json", load_workflow, WorkflowError),
        ("book.json", MemoryAdmin.import_lorebook, LorebookImportError),
        ("c.cassette.json", load_cassette, ScenarioError),
        ("card.json", read_card, CardError),
    ]
    for name, read, error in cases:
        path = tmp_path / name
        path.write_text(_deep_json())
        with pytest.raises(error) as info:
            read(path)
        assert (
            _one_line(info.value, path) == ":1:385: JSON is nested too deeply (more than 64 levels)"
        )


def test_deep_yaml_is_located(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(MINIMAL + "summary: " + "[" * 3000 + "]" * 3000 + "\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert _one_line(info.value, path) == ":22:73: nested too deeply (more than 64 levels)"


# --------------------------------------------------------------------------- 13.12 special files


def _fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe.yaml"
    os.mkfifo(path)
    return path


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifos_and_devices_are_refused_before_reading(tmp_path: Path) -> None:
    fifo = _fifo(tmp_path)
    readers: list[tuple[Callable[[Path], Any], type[Exception]]] = [
        (load_scenario, ScenarioError),
        (load_cassette, ScenarioError),
        (load_playthrough, ScenarioError),
        (read_card, CardError),
        (MemoryAdmin.import_lorebook, LorebookImportError),
    ]
    for target in (fifo, Path("/dev/zero")):
        for read, error in readers:
            started = time.monotonic()
            with pytest.raises(error, match="not a regular file"):
                read(target)
            assert time.monotonic() - started < 2


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_cli_refuses_a_fifo_with_exit_2(tmp_path: Path) -> None:
    fifo = _fifo(tmp_path)
    out = qualia("scenario", "validate", str(fifo), timeout=60)
    assert out.returncode == 1  # validate's "the file has errors"
    assert out.stdout.startswith(f"{fifo}: is not a regular file (a device, pipe or socket)")
    for args in (
        ["cassette", "lint", str(fifo)],
        ["sessions", "import", str(fifo)],
        ["memory", "import-lorebook", str(fifo)],
    ):
        out = qualia(*args, timeout=60)
        assert out.returncode == 2, (args, out.stderr)
        assert out.stderr.startswith(f"error: {fifo}: is not a regular file"), out.stderr


# --------------------------------------------------------------------------- 13.13 workflows


def test_workflow_nan_broken_placeholder_and_bad_utf8(tmp_path: Path) -> None:
    path = tmp_path / "w.json"
    path.write_text(json.dumps(WORKFLOW, indent=1).replace('"x.safetensors"', "NaN"))
    with pytest.raises(WorkflowError) as info:
        load_workflow(path)
    assert "'NaN' is not a JSON number" in _one_line(info.value, path)

    path.write_text(json.dumps(WORKFLOW, indent=1).replace('"%seed%"', '"%seed"'))
    with pytest.raises(WorkflowError) as info:
        load_workflow(path)
    assert "placeholder %seed is not closed; write %seed%" in _one_line(info.value, path)

    path.write_bytes(
        json.dumps(WORKFLOW, indent=1).replace("KSampler", "KS\xe4mpler").encode("latin-1")
    )
    with pytest.raises(WorkflowError) as info:
        load_workflow(path)
    assert (
        _one_line(info.value, path) == ":3:20: not valid UTF-8 (byte 0xe4); save the file as UTF-8"
    )
