"""`qualia eval` orchestration on a scripted model: the matrix, saved transcripts, resume,
judging with mean ± standard error, rescore without replaying, thresholds; and the metrics."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from fakes import ScriptedProvider

from qualia_cli.config import Settings
from qualia_cli.engine import Engine
from qualia_cli.headless.eval.metrics import REFUSAL, distinct_2, mean_se, percentile
from qualia_cli.headless.eval.rundir import RunDir
from qualia_cli.headless.eval.runner import EvalOptions, EvalRunner
from qualia_cli.headless.eval.spec import load_eval
from qualia_cli.llm.base import Request
from qualia_cli.scenario.file_errors import DocumentError

SPEC = """\
name: unit
model_sets:
  - {label: a, model: fake/x, temperature: 0.9}
  - {label: b, models: {default: fake/x, partner: fake/y}}
scenarios: [second_shelf]
players:
  - simulated: {goal: Be kind, turns: 2}
  - script: t.play.yaml
seeds: [1, 2]
judges: [fake/judge]
rubrics: [in_character, {warmth: "She is warm."}]
concurrency: 3
thresholds:
  - {metric: first_try_valid_rate, min: 0.9}
  - {metric: judge.warmth, min: 3, model_set: a}
"""
SCRIPT = """\
scenario: second_shelf
model: fake/ignored
tests:
  hello:
    turns:
      - say: Hello.
        expect: ["stranger", "!stranger"]
"""


class Judges:
    """Judge answers that differ per call, so the mean and standard error mean something."""

    def __init__(self, scores: list[Any]) -> None:
        self.scores = itertools.cycle(scores)

    def __call__(self, request: Request) -> Any:
        score = next(self.scores)
        return score if isinstance(score, str) else {"explanation": "Warm.", "score": score}


def make_runner(
    tmp_path: Path, provider: ScriptedProvider, spec_text: str = SPEC
) -> tuple[EvalRunner, Path]:
    source = tmp_path / "unit.eval.yaml"
    source.write_text(spec_text)
    (tmp_path / "t.play.yaml").write_text(SCRIPT)

    def factory(settings: Settings, db_path: Path | None) -> Engine:
        engine = Engine(settings, db_path=db_path)
        engine.router.register("fake", provider)
        return engine

    runner = EvalRunner(load_eval(source), source, EvalOptions(mode="live"), engine_factory=factory)
    return runner, source


def provider(judge: Any = None) -> ScriptedProvider:
    return ScriptedProvider(
        answers={
            "player": {"say": "Can I help you carry the boxes?"},
            "judge": judge or Judges([4]),
        }
    )


async def run_all(runner: EvalRunner, source: Path) -> tuple[RunDir, dict[str, Any]]:
    cells = runner.plan()
    run = RunDir.create(runner.spec.name, source, source.read_text(), cells)
    try:
        await runner.play(run, cells)
        await runner.judge(run)
        return run, runner.report(run)
    finally:
        await runner.aclose()


async def test_the_matrix_is_played_saved_judged_and_reported(tmp_path: Path) -> None:
    fake = provider(Judges([4, 2, 5]))
    runner, source = make_runner(tmp_path, fake)
    run, report = await run_all(runner, source)
    # 2 model sets x (1 simulated player x 1 scenario + 1 script test) x 2 seeds
    ids = [c["id"] for c in run.info()["cells"]]
    assert len(ids) == 8 and all(run.cell_path(i).is_file() for i in ids)
    assert "a__second_shelf__simulated1__s1" in ids and "b__second_shelf__t.hello__s2" in ids
    cell = run.load_cell("a__second_shelf__simulated1__s1")
    assert cell is not None and cell["status"] == "ok" and cell["temperature"] == 0.9
    assert [t["player_text"] for t in cell["turns"]] == ["Can I help you carry the boxes?"] * 2
    scripted = run.load_cell("b__second_shelf__t.hello__s1")
    assert scripted is not None and scripted["checks"]["passed"] == 1
    assert scripted["checks"]["total"] == 2 and scripted["models"]["partner"] == "fake/y"

    rows = {r["model_set"]: r for r in report["model_sets"]}
    assert rows["a"]["turns"] == 6 and rows["a"]["failed_turns"] == 0  # 2x2 simulated + 2x1
    assert rows["a"]["first_try_valid_rate"] == 1.0 and rows["a"]["checks_pass_rate"] == 0.5
    assert rows["a"]["distinct_2"] < 0.5  # the scripted partner says the same thing every turn
    assert rows["a"]["refusals"] == 0
    agents = {(a["model_set"], a["agent"]): a for a in report["agents"]}
    assert agents[("b", "partner")]["model"] == "fake/y" and agents[("b", "partner")]["calls"] == 6
    judged = [j for j in report["judges"] if j["model_set"] == "a" and j["rubric"] == "warmth"]
    assert len(judged) == 1 and judged[0]["n"] == 4 and judged[0]["failures"] == 0
    assert judged[0]["se"] > 0  # scores differ between cells
    assert len(run.load_verdicts()) == 8 * 2
    # the judge saw the transcript of the cell it scored
    judge_calls = [r for r in fake.requests if r.agent == "judge"]
    assert any(
        "Player: Can I help you carry the boxes?" in r.messages[-1]["content"] for r in judge_calls
    )
    assert report["status"] in ("passed", "failed") and report["errors"] == []
    trajectory = rows["a"]["stat_trajectories"]["a__second_shelf__simulated1__s1"]
    assert trajectory == {"affection": [30, 30, 30], "trust": [25, 25, 25], "hope": [35, 35, 35]}

    from qualia_cli.headless.eval.report import html_report, markdown

    md = markdown(report)
    assert "| a | a__second_shelf__simulated1__s1 | affection 30→30→30; trust 25→25→25" in md
    mean = judged[0]["mean"]
    assert f"{mean:.2f} ± {judged[0]['se']:.2f}" in md
    page = html_report(report, {"x": "Player: <script>alert(1)</script>"})
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


async def test_an_interrupted_run_resumes_where_it_stopped(tmp_path: Path) -> None:
    runner, source = make_runner(tmp_path, provider())
    run, _ = await run_all(runner, source)
    gone = "b__second_shelf__simulated1__s2"
    run.cell_path(gone).unlink()
    again = provider()
    runner, _ = make_runner(tmp_path, again)
    cells = runner.plan()
    try:
        await runner.play(run, cells, resume=True)
        await runner.judge(run)
    finally:
        await runner.aclose()
    players = [r for r in again.requests if r.agent == "player"]
    assert len(players) == 2  # only the missing cell was played again
    assert run.load_cell(gone) is not None
    assert not [r for r in again.requests if r.agent == "judge"]  # verdicts were all kept


async def test_rescore_judges_again_without_replaying_and_unparseable_fails(
    tmp_path: Path,
) -> None:
    runner, source = make_runner(tmp_path, provider())
    run, report = await run_all(runner, source)
    assert all(t["passed"] for t in report["thresholds"] if t["metric"] == "judge.warmth")
    bad = provider(Judges(["no idea, sorry"]))
    runner, _ = make_runner(tmp_path, bad)
    try:
        await runner.judge(run, fresh=True)
        report = runner.report(run)
    finally:
        await runner.aclose()
    assert {r.agent for r in bad.requests} == {"judge"}  # nothing replayed
    warmth = [j for j in report["judges"] if j["rubric"] == "warmth"]
    assert all(j["n"] == 0 and j["failures"] == 4 and j["mean"] is None for j in warmth)
    failed = [t for t in report["thresholds"] if not t["passed"]]
    assert [(t["metric"], t["model_set"], t["value"]) for t in failed] == [
        ("judge.warmth", "a", None)
    ]
    assert report["status"] == "failed" and report["exit_code"] == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("model: fake/x, temperature", "models: {}, temperature"), "give model (every agent)"),
        (("rubrics: [in_character", "rubrics: [charm"), ":11:11: rubrics[0]: unknown rubric"),
        (
            ("metric: first_try_valid_rate", "metric: vibes"),
            ":14:14: thresholds[0].metric: unknown metric",
        ),
        (("model_set: a}", "model_set: c}"), "no model set 'c'"),
        (("scenarios: [second_shelf]\n", ""), "simulated players need scenarios"),
        (("judge.warmth", "judge.charm"), "no rubric 'charm'"),
    ],
)
def test_eval_files_are_validated_with_positions(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    path = tmp_path / "bad.eval.yaml"
    path.write_text(SPEC.replace(*change))
    with pytest.raises(DocumentError) as err:
        load_eval(path)
    assert message in str(err.value)
    assert str(err.value).startswith(f"{path}:")


def test_metric_helpers() -> None:
    assert percentile([], 50) is None
    assert percentile([10.0, 20.0, 30.0, 40.0], 50) == 25.0
    assert percentile([1.0, 2.0, 3.0, 4.0, 100.0], 95) == pytest.approx(80.8)
    assert distinct_2(["a b a b"]) == pytest.approx(2 / 3)
    assert distinct_2(["one two three", "four five"]) == 1.0
    assert distinct_2(["single"]) is None
    assert mean_se([3.0, 5.0]) == {"mean": 4.0, "se": 1.0, "n": 2}
    assert mean_se([4.0]) == {"mean": 4.0, "se": 0.0, "n": 1}
    assert REFUSAL.search("As an AI, I cannot do that.")
    assert REFUSAL.search("I'm sorry, I can't help with that request.")
    assert not REFUSAL.search("I can't believe the shop survived!")
