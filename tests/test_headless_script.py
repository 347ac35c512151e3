"""Playthrough scripts: parsing, setup and includes, and every problem as file:line:col."""

from __future__ import annotations

from pathlib import Path

import pytest

from qualia_cli.headless.loader import load_playthrough
from qualia_cli.scenario.file_errors import DocumentError

PLAYTHROUGHS = Path(__file__).resolve().parent.parent / "playthroughs"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "t.play.yaml"
    path.write_text(text)
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    path = write(tmp_path, text)
    with pytest.raises(DocumentError) as err:
        load_playthrough(path)
    return [line.removeprefix(str(path)) for line in err.value.lines()]


@pytest.mark.parametrize("name", ["fogbound_archive", "second_shelf", "halcyon_relay"])
def test_the_shipped_scripts_load(name: str) -> None:
    play = load_playthrough(PLAYTHROUGHS / f"{name}.play.yaml")
    assert play.scenario.id == name
    assert play.models == {"default": "local/smollm2"}
    assert play.cassette == PLAYTHROUGHS / f"{name}.cassette.yaml"
    assert play.tests and all(not t.name.startswith("_") for t in play.tests)
    assert all(1 <= len(t.steps) <= 3 for t in play.tests), "keep CI fast: 2-3 turns"


FULL = """\
scenario: fogbound_archive
models: {default: fake/x, judge: fake/judge}
seed: 9
setup:
  state: {stats: {trust: 40}, mood: curious}
  turns:
    - say: Good evening.
tests:
  _ask:
    turns:
      - say: Which ledgers?
        expect: "{vital} ledger"
  main:
    state: {stats: {clues: 10}, location: sea wall}
    seed: 4
    turns:
      - include: _ask
      - choose: 2
        expect:
          - "!As an AI"
          - {state: "partner.trust >= 30"}
      - choose: /tea/i
    final:
      - {judge: "stays in character", min_score: 4, model: fake/other}
  plain:
    turns:
      - say: Hello.
"""


def test_setup_includes_and_state_are_expanded(tmp_path: Path) -> None:
    play = load_playthrough(write(tmp_path, FULL))
    assert [t.name for t in play.tests] == ["main", "plain"]
    main = play.tests[0]
    assert [s.label for s in main.steps] == [
        "say: Good evening.",
        "say: Which ledgers?",
        "choose: 2",
        "choose: /tea/",
    ]
    assert main.state == {
        "stats": {"trust": 40, "clues": 10},
        "mood": "curious",
        "location": "sea wall",
    }
    assert main.seed == 4 and play.tests[1].seed == 9
    assert play.models == {"default": "fake/x", "judge": "fake/judge"}
    # where each step and check was written (the included turn keeps its own line)
    shown = str(play.path)
    assert [s.where for s in main.steps] == [f"{shown}:{n}" for n in (7, 11, 18, 22)]
    ask = main.steps[1].checks[0]
    assert (ask.kind, ask.vital, ask.where) == ("contains", True, f"{shown}:12")
    assert [c.where for c in main.steps[2].checks] == [f"{shown}:20", f"{shown}:21"]
    judge = main.final[0]
    assert (judge.kind, judge.min_score, judge.model) == ("judge", 4, "fake/other")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "scenario: fogbound_archive\ntests:\n  a:\n    turns:\n      - sya: hi\n",
            [
                ":5:9: tests.a.turns[0]: unknown key 'sya' (allowed: say, choose, include, "
                "expect); did you mean 'say'?",
            ],
        ),
        (
            "scenario: fogbound_archive\ntests:\n  a:\n    turns:\n"
            "      - say: hi\n        expect: ['{loud} x']\n",
            [
                ":6:20: tests.a.turns[0].expect[0]: unknown modifier '{loud}' (use {vital}, "
                "{count=N}, {on=…} with one of turn, partner, action, narration, director, "
                "visual, strategist, {case})"
            ],
        ),
        (
            "scenario: fogbound_archive\ntests:\n  a:\n    turns:\n"
            "      - say: hi\n        expect:\n          - {state: 'trust > 2 and courage < 3'}\n",
            [":7:36: tests.a.turns[0].expect[0].state: unknown name 'courage'"],
        ),
        (
            "scenario: fogbound_archive\ntests:\n  a:\n    state: {stats: {trust: 500}}\n"
            "    turns: [{say: hi}]\n",
            [":4:28: tests.a.state.stats.trust: trust = 500 is outside 0..100"],
        ),
        (
            "scenario: fogbound_archive\ntests:\n  a:\n    turns: [{include: _b}]\n"
            "  _b:\n    turns: [{include: a}]\n",
            [":6:23: tests._b.turns[0].include: include cycle: a → _b → a"],  # once (issue 13)
        ),
        (
            "scenario: fogbound_archive\ntests:\n  a:\n    turns: [{include: _greet}]\n",
            [":4:23: tests.a.turns[0].include: no test named '_greet' to include"],
        ),
        (
            "scenario: no_such_place\ntests:\n  a:\n    turns: [{say: hi}]\n",
            [":1:11: scenario: scenario 'no_such_place' not found"],
        ),
        (
            "scenario: fogbound_archive\nmodels: {narrator: x/y}\ntests:\n  a:\n"
            "    turns: [{say: hi}]\n",
            [":2:20: models.narrator: unknown agent 'narrator'"],
        ),
        (
            "scenario: fogbound_archive\ntests:\n  a:\n    turns: [{choose: 7}]\n",
            [":4:22: tests.a.turns[0].choose: the Strategist offers at most 4 moves"],
        ),
        (
            "scenario: fogbound_archive\ntests:\n  _only:\n    turns: [{say: hi}]\n",
            [":3:3: tests: every test is include-only (named _x): add a test to run"],
        ),
        (
            "scenario: fogbound_archive\ntests:\n  a:\n    turns: []\n",
            [":3:3: tests.a: test 'a' has no turns"],
        ),
        (
            "scenario: fogbound_archive\ntests:\n  a:\n    turns: [{say: hi}]\n  a:\n"
            "    turns: [{say: again}]\n",
            [":5:3: duplicate key 'a' (first given on line 3)"],
        ),
        ("- just\n- a list\n", [":1:1: the playthrough script holds a list: expected a mapping"]),
    ],
)
def test_problems_are_reported_with_file_line_col(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    got = problems(tmp_path, text)
    assert len(got) == len(expected), got
    for line, want in zip(got, expected, strict=True):
        assert line.startswith(want), (line, want)


def test_scenario_paths_are_relative_to_the_script(tmp_path: Path) -> None:
    scenario = Path("scenarios/second_shelf.yaml").resolve()
    (tmp_path / "scen").mkdir()
    (tmp_path / "scen" / "mine.yaml").write_text(scenario.read_text())
    play = load_playthrough(
        write(tmp_path, "scenario: scen/mine.yaml\ntests:\n  a:\n    turns: [{say: hi}]\n")
    )
    assert play.scenario.id == "second_shelf"
    assert play.scenario_path == tmp_path / "scen" / "mine.yaml"


def test_the_readme_examples_are_valid(tmp_path: Path) -> None:
    import re

    from qualia_cli.headless.eval.spec import load_eval

    readme = (PLAYTHROUGHS.parent / "README.md").read_text()
    script = re.search(r"## Playthrough scripts.*?```yaml\n(.*?)```", readme, re.S)
    assert script
    play = load_playthrough(write(tmp_path, script.group(1)))
    assert [t.name for t in play.tests] == ["asks_about_the_ledgers"]
    assert len(play.tests[0].steps) == 4  # setup + included + say + choose
    spec = re.search(r"## Evaluation.*?```yaml\n(.*?)```", readme, re.S)
    assert spec
    path = tmp_path / "x.eval.yaml"
    path.write_text(spec.group(1))
    assert [m.label for m in load_eval(path).model_sets] == ["warm", "mixed"]


def test_on_is_a_key_even_though_yaml_reads_it_as_true(tmp_path: Path) -> None:
    play = load_playthrough(
        write(
            tmp_path,
            "scenario: second_shelf\ntests:\n  a:\n    turns:\n      - say: hi\n"
            "        expect: {contains: x, on: partner}\n      - say: again\n"
            "        expect: '!y'\n    final: {no_agent_errors: true}\n",
        )
    )
    first, second = play.tests[0].steps
    assert [(c.kind, c.on) for c in first.checks] == [("contains", "partner")]
    assert [(c.kind, c.negate) for c in second.checks] == [("contains", True)]
    assert [c.kind for c in play.tests[0].final] == ["no_agent_errors"]
    got = problems(
        tmp_path,
        "scenario: second_shelf\ntests:\n  a:\n    turns:\n      - say: hi\n"
        "        expect: {contains: x, on: nowhere}\n",
    )
    assert len(got) == 1 and got[0].startswith(":6:17: tests.a.turns[0].expect.on: Input should be")
