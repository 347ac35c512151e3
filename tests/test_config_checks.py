"""Issue 13.8/13.9/13.11/13.13: configuration is checked before anything runs (exit 2), and
config.yaml's settings are honoured by the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from qualia_cli.headless.runner import RunError
from qualia_cli.paths import get_paths
from qualia_cli.scenario import ScenarioError
from tests.support.cli import qualia
from tests.test_headless_eval import SCRIPT, SPEC, make_runner, provider


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        (
            "simulated: {goal: Be kind, turns: 2}",
            "simulated: {goal: Be, turns: 2, model: nonsense}",
            "player 1: model name 'nonsense' must look like provider/model",
        ),
        ("judges: [fake/judge]", "judges: [bogus]", "judge: model name 'bogus'"),
        ("model: fake/x, temperature", "model: nowhere/x, temperature", "nowhere"),
    ],
)
def test_an_eval_with_a_model_that_cannot_work_fails_before_playing(
    tmp_path: Path, old: str, new: str, needle: str
) -> None:
    runner, _ = make_runner(tmp_path, provider(), SPEC.replace(old, new))
    with pytest.raises(RunError) as info:
        runner.plan()
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_an_eval_with_an_unknown_scenario_fails_before_writing_a_run(tmp_path: Path) -> None:
    runner, _ = make_runner(tmp_path, provider(), SPEC.replace("[second_shelf]", "[no_such]"))
    with pytest.raises(ScenarioError, match="no_such"):
        runner.plan()


def test_eval_cli_exits_2_with_no_run_folder(tmp_path: Path) -> None:
    spec = tmp_path / "x.eval.yaml"
    spec.write_text(SPEC.replace("fake/", "nowhere/"))
    (tmp_path / "t.play.yaml").write_text(SCRIPT)
    out = qualia("eval", "run", str(spec))
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.startswith(f"error: {spec}: model set 'a' default: ")
    assert out.stderr.count("\n") == 1
    assert not list(get_paths().data_dir.rglob("run.json"))


def test_run_reports_a_bad_model_on_stderr_and_exits_2(tmp_path: Path) -> None:
    script = tmp_path / "t.play.yaml"
    script.write_text(SCRIPT.replace("fake/ignored", "nowhere/model"))
    out = qualia("run", str(script))
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.startswith(f"error: {script}: model for ") and "nowhere" in out.stderr


def test_images_enabled_false_in_config_is_honoured_by_new(qualia_home: Path) -> None:
    config = get_paths().config_file
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("images:\n  enabled: false\n")
    out = qualia("new", "fogbound_archive")
    assert out.returncode == 0, out.stderr
    images = get_paths().images_dir
    assert not images.exists() or not any(p.is_file() for p in images.rglob("*"))


def test_cassette_lint_finds_a_custom_endpoints_key(tmp_path: Path) -> None:
    config = get_paths().config_file
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        "endpoints:\n  mine:\n    base_url: http://127.0.0.1:9/v1\n    api_key_env: MY_LAB_KEY\n"
    )
    cassette = tmp_path / "c.cassette.yaml"
    cassette.write_text(
        "version: 1\ninteractions:\n- key: 0123456789abcdef0123\n  provider: mine\n  model: m\n"
        "  request:\n    messages:\n    - role: user\n      content: 'lab-secret-value-77'\n"
        "  response:\n    text: ok\n"
    )
    out = qualia("cassette", "lint", str(cassette), env={"MY_LAB_KEY": "lab-secret-value-77"})
    assert out.returncode == 1, out.stdout + out.stderr
    assert f"{cassette}:9:" in out.stderr and "$MY_LAB_KEY" in out.stderr


def test_an_include_cycle_is_reported_once(tmp_path: Path) -> None:
    from qualia_cli.headless.loader import load_playthrough
    from qualia_cli.scenario.file_errors import DocumentError

    script = tmp_path / "cyc.play.yaml"
    script.write_text(
        "scenario: fogbound_archive\ntests:\n  a:\n    turns:\n      - include: b\n"
        "  b:\n    turns:\n      - include: c\n  c:\n    turns:\n      - include: a\n"
    )
    with pytest.raises(DocumentError) as info:
        load_playthrough(script)
    cycles = [line for line in info.value.lines() if "include cycle" in line]
    assert len(cycles) == 1, cycles
