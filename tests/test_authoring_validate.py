"""`qualia scenario validate|show` and the YAML writer: precise errors, useful warnings, and
YAML that loads back to the same scenario."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from support.cli import qualia as run_qualia

from qualia_cli.authoring.lint import validate_file
from qualia_cli.authoring.yaml_writer import scenario_yaml, write_scenario
from qualia_cli.scenario import load_scenario
from qualia_cli.scenario.models import Scenario

ROOT = Path(__file__).parent.parent
BUNDLED = sorted((ROOT / "scenarios").glob("*.yaml"))
BAD = Path(__file__).parent / "data" / "scenarios_bad"


def qualia(*args: str) -> subprocess.CompletedProcess[str]:
    return run_qualia(*args, env={"COLUMNS": "80"})


WEAK = """\
id: weak
title: Weak
genre: drama
setting:
  world: A room.
  start_location: the room
player:
  role: a visitor
partner:
  name: Ann
  age: 30
  gender: woman
  occupation: clerk
  appearance:
    description: Plain.
    tags: [1girl]
  personality: [quiet]
  speech_style: Short.
stats:
  - {name: trust, start: 10}
  - {name: mood_meter, start: 10}
opening: You come in.
endings:
  - id: instant
    title: Instant
    condition: trust >= 5
lorebook:
  token_budget: 50
  entries:
    - keys: [archive]
      content: "{LONG}"
"""


# --------------------------------------------------------------------------- writer


@pytest.mark.parametrize("path", BUNDLED, ids=[p.stem for p in BUNDLED])
def test_written_yaml_loads_back_identical(path: Path, tmp_path: Path) -> None:
    scenario = load_scenario(path)
    out = write_scenario(scenario, tmp_path / path.name)
    assert load_scenario(out) == scenario
    text = out.read_text()
    assert text.startswith("# ") and "\n# The character the player talks to." in text
    assert "qualia scenario validate " + path.name in text


def test_awkward_strings_survive_the_writer(tmp_path: Path) -> None:
    base = load_scenario(BUNDLED[0])
    awkward = [
        "yes",
        "null",
        "123",
        "  leading spaces",
        "trailing spaces   ",
        "colon: inside",
        "# not a comment",
        "- not a list",
        "quotes ' and \" both",
        "line one\nline two\n\nline four",
        "ünïcödé — “smart quotes” ✓",
        "x" * 300,
        "word " * 60 + "end",
        "tab\tinside",
    ]
    data = base.model_dump(mode="json")
    data["partner"].update(likes=awkward, backstory="\n".join(awkward))
    data["lorebook"] = {
        "entries": [
            {"keys": ["a: b", "{c}"], "content": "* star", "extensions": {"n": [1, {"k": None}]}}
        ]
    }
    data["card"] = {"spec": "v3", "extensions": {"deep": {"list": [1, 2, {"x": "y"}]}, "empty": {}}}
    scenario = Scenario.model_validate(data)  # as loaded: strings stripped
    out = write_scenario(scenario, tmp_path / "awkward.yaml")
    assert load_scenario(out) == scenario


def test_defaults_are_left_out_but_the_key_choices_stay(tmp_path: Path) -> None:
    scenario = load_scenario(BUNDLED[0])
    data = yaml.safe_load(scenario_yaml(scenario))
    assert "card" not in data  # a default section is left out…
    assert ("lorebook" in data) == bool(scenario.lorebook.entries)  # …a filled one stays
    assert {"narrative_pace", "content_rating", "starting_mood"} <= set(data)


# --------------------------------------------------------------------------- validate


def test_bundled_scenarios_are_clean() -> None:
    for path in BUNDLED:
        report = validate_file(path)
        assert report.ok and report.warnings == [], (path, report.warnings)


def test_weak_content_gets_located_warnings(tmp_path: Path) -> None:
    path = tmp_path / "weak.yaml"
    path.write_text(WEAK.replace("{LONG}", "word " * 100))
    report = validate_file(path)
    assert report.ok
    lines = [str(w) for w in report.warnings]
    expect = {
        "ending 'instant' already holds at the first turn": (26, 16),
        "stat 'mood_meter' is never read by an ending": (21, 12),
        "only 1 appearance tag": (16, 11),
        "the opening is short": (22, 10),
        "no first_message": (1, 1),
        "no setting.locations": (5, 3),
        "a one-trait personality": (17, 16),
        "never fits lorebook.token_budget (50)": (31, 16),
    }
    for needle, (line, col) in expect.items():
        hit = [w for w in report.warnings if needle in w.message]
        assert hit, (needle, lines)
        assert (hit[0].line, hit[0].col) == (line, col), (needle, hit[0])
        assert str(hit[0]).startswith(f"{path}:{line}:{col}: warning: ")


def test_a_bad_regex_lore_key_is_an_error_at_its_position(tmp_path: Path) -> None:
    path = tmp_path / "regex.yaml"
    path.write_text(
        WEAK.replace("    - keys: [archive]", '    - keys: ["(unclosed"]\n      regex: true')
    )
    report = validate_file(path)
    assert not report.ok
    assert str(report.errors[0]).startswith(f"{path}:30:14: lorebook.entries[0].keys[0]: ")
    assert "bad regular expression" in report.errors[0].message


def test_no_endings_is_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "open.yaml"
    path.write_text(WEAK.split("endings:")[0])
    messages = [w.message for w in validate_file(path).warnings]
    assert any("no endings" in m for m in messages)
    assert not any("never read" in m for m in messages)


def test_validate_cli_reports_errors_and_exits_1(tmp_path: Path) -> None:
    weak = tmp_path / "weak.yaml"
    weak.write_text(WEAK)
    bad = BAD / "multiple_problems.yaml"
    out = qualia("scenario", "validate", str(BUNDLED[0]), str(weak), str(bad))
    assert out.returncode == 1, out.stderr
    lines = out.stdout.splitlines()
    errors = [ln for ln in lines if ln.startswith(str(bad) + ":")]
    assert len(errors) >= 2
    for ln in errors:  # every error is one line: file:line:col: message
        parts = ln.split(":", 3)
        assert parts[1].isdigit() and parts[2].isdigit(), ln
    assert any(ln.startswith(f"{weak}:26:16: warning: ending 'instant'") for ln in lines)
    assert f"{BUNDLED[0]}: ok" in lines
    assert "3 files:" in lines[-1]


def test_validate_exit_codes_for_warnings(tmp_path: Path) -> None:
    weak = tmp_path / "weak.yaml"
    weak.write_text(WEAK)
    assert qualia("scenario", "validate", str(weak)).returncode == 0
    assert qualia("scenario", "validate", "--strict", str(weak)).returncode == 1


def test_validate_json_and_missing_file(tmp_path: Path) -> None:
    out = qualia("scenario", "validate", "--json", str(tmp_path / "nope.yaml"), str(BUNDLED[0]))
    assert out.returncode == 1
    reports = json.loads(out.stdout)
    assert reports[0]["ok"] is False and "file not found" in reports[0]["errors"][0]["text"]
    assert reports[1]["ok"] is True and reports[1]["id"] == BUNDLED[0].stem


def test_show_by_id_and_as_json() -> None:
    out = qualia("scenario", "show", "fogbound_archive", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["scenario"]["partner"]["name"] == "Maren Voss" and data["warnings"] == []
    text = qualia("scenario", "show", "fogbound_archive")
    assert "Maren Voss" in text.stdout and "truth_in_the_margins" in text.stdout


def test_show_unknown_is_a_one_line_error() -> None:
    out = qualia("scenario", "show", "no_such_thing")
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "no_such_thing" in out.stderr


def test_a_typo_in_card_extras_lists_the_allowed_keys(tmp_path: Path) -> None:
    text = (ROOT / "scenarios" / "second_shelf.yaml").read_text()
    path = tmp_path / "typo.yaml"
    path.write_text(text + "card:\n  spec: chara_card_v2\n  sytem_prompt: Be brief.\n")
    report = validate_file(path)
    line = len(text.splitlines()) + 3
    assert str(report.errors[0]).startswith(f"{path}:{line}:3: card: unknown key 'sytem_prompt'")
    assert "did you mean 'system_prompt'?" in report.errors[0].message
