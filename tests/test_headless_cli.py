"""`qualia run`, `qualia eval` and `qualia cassette lint` as CI runs them: real processes, the
shipped scripts replayed from cassettes recorded on the embedded model, and one live run."""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

from support.cli import qualia as run_qualia
from support.junit_schema import validate_junit

ROOT = Path(__file__).resolve().parent.parent
PLAYTHROUGHS = ROOT / "playthroughs"
SCRIPTS = ("fogbound_archive", "second_shelf", "halcyon_relay")


def qualia(
    *args: str, env: dict[str, str] | None = None, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    return run_qualia(*args, env=env, timeout=timeout, cwd=ROOT)


def copy_script(tmp_path: Path, name: str, *changes: tuple[str, str]) -> Path:
    """The shipped script in tmp_path, edited, still pointing at the shipped cassette."""
    text = (PLAYTHROUGHS / f"{name}.play.yaml").read_text()
    text = text.replace(f"cassette: {name}", f"cassette: {PLAYTHROUGHS}/{name}")
    text = text.replace(f"scenario: {name}", f"scenario: {ROOT}/scenarios/{name}.yaml")
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / f"{name}.play.yaml"
    path.write_text(text)
    return path


def left_behind() -> list[Path]:
    """Files a headless run left in the user's data and cache (its log aside)."""
    from qualia_cli.paths import get_paths

    paths = get_paths()
    found = [p for d in (paths.images_dir, paths.cache_dir) if d.exists() for p in d.rglob("*")]
    return [p for p in found if p.is_file()]


def test_the_shipped_playthroughs_pass_offline_on_their_cassettes(tmp_path: Path) -> None:
    junit = tmp_path / "out.xml"
    out = qualia("run", "playthroughs", "--junit", str(junit))
    assert out.returncode == 0, out.stdout + out.stderr
    assert left_behind() == []  # no scratch database, no pictures of scratch sessions
    assert "0 failed, 0 errors in 3 files" in out.stdout
    root = ET.parse(junit).getroot()
    validate_junit(root)
    assert root.tag == "testsuites" and root.get("failures") == "0" and root.get("errors") == "0"
    suites = {Path(s.get("name") or "").name: s for s in root.findall("testsuite")}
    assert set(suites) == {f"{n}.play.yaml" for n in SCRIPTS}
    for suite in suites.values():
        cases = suite.findall("testcase")
        assert cases and suite.get("tests") == str(len(cases))
        for case in cases:
            assert not case.findall("failure") and not case.findall("error")
            assert "Player:" in (case.findtext("system-out") or "")


def test_a_wrong_expectation_fails_with_file_and_line(tmp_path: Path) -> None:
    path = copy_script(
        tmp_path, "fogbound_archive", ('- "!language model"', '- "{on=partner} lighthouse keeper"')
    )
    line = path.read_text().splitlines().index('          - "{on=partner} lighthouse keeper"') + 1
    out = qualia("run", str(path), "--json")
    assert out.returncode == 1, out.stderr
    data = json.loads(out.stdout)
    assert data["version"] == 1 and data["status"] == "failed"
    test = data["files"][0]["tests"][0]
    assert test["name"] == "asks_about_the_ledgers" and test["status"] == "failed"
    assert test["failures"][0].startswith(f"{path}:{line} {{on=partner}} lighthouse keeper → ")
    # the table shows the same first failure
    table = qualia("run", str(path), "asks_*", env={"COLUMNS": "250"})
    assert table.returncode == 1 and f"{path.name}:{line} {{on=partner}} lighthouse" in table.stdout
    assert "0 passed, 1 failed, 0 errors" in table.stdout
    assert "not used" not in table.stdout  # a filtered run leaves the other tests' calls


def test_a_stale_cassette_is_an_error_that_says_what_changed(tmp_path: Path) -> None:
    path = copy_script(
        tmp_path,
        "halcyon_relay",
        ("What does the repeating part", "What does the looping part"),
    )
    out = qualia("run", str(path), "--json")
    assert out.returncode == 2
    test = json.loads(out.stdout)["files"][0]["tests"][0]
    assert test["status"] == "error"
    assert "cassette miss" in test["error"] and "user message changed" in test["error"]
    # the small profile asks no Director: the first call that differs is the Partner's
    assert "+ What does the looping part of the signal say?" in test["error"]


def test_bad_scripts_and_flags_are_one_line_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.play.yaml"
    bad.write_text(
        "scenario: second_shelf\ntests:\n  a:\n    turns:\n      - say: hi\n"
        "        expect: [{vibe: ok}]\n"
    )
    out = qualia("run", str(bad))
    assert out.returncode == 2
    assert out.stderr.startswith(
        f"error: {bad}:6:19: tests.a.turns[0].expect[0]: unknown key 'vibe'"
    )
    assert "Traceback" not in out.stderr
    out = qualia("run", str(PLAYTHROUGHS / "second_shelf.play.yaml"), "--record", "--live")
    assert out.returncode == 2 and "choose one of" in out.stderr
    out = qualia("run", str(PLAYTHROUGHS / "second_shelf.play.yaml"), "no_such_test")
    assert out.returncode == 2 and "no test matches no_such_test" in out.stderr


def test_cassette_lint(tmp_path: Path) -> None:
    shipped = [str(PLAYTHROUGHS / f"{n}.cassette.yaml") for n in SCRIPTS]
    out = qualia("cassette", "lint", *shipped, "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    files = json.loads(out.stdout)["files"]
    assert all(f["calls"] > 0 and f["findings"] == [] for f in files)
    leaky = tmp_path / "leaky.cassette.yaml"
    text = Path(shipped[1]).read_text().replace("Deal.", "Deal. sk-or-v1-abcdef0123456789abcdef", 1)
    leaky.write_text(text)
    out = qualia("cassette", "lint", str(leaky))
    assert out.returncode == 1 and f"{leaky}:" in out.stderr and "key-shaped" in out.stderr


def test_eval_on_replayed_cassettes_reports_metrics_and_rescores(tmp_path: Path) -> None:
    html = tmp_path / "report.html"
    md = tmp_path / "report.md"
    out = qualia(
        "eval", "playthroughs/smoke.eval.yaml", "--json", "--html", str(html), "--md", str(md)
    )
    assert out.returncode == 0, out.stdout + out.stderr
    report = json.loads(out.stdout)
    assert report["status"] == "passed" and not report["errors"]
    assert left_behind() == []
    rows = {r["model_set"]: r for r in report["model_sets"]}
    assert set(rows) == {"warm", "cool"}
    for row in rows.values():
        assert row["turns"] >= 2 and row["first_try_valid_rate"] is not None
        assert row["latency_p50_ms"] > 0 and row["tokens_per_turn"] > 0
        assert row["distinct_2"] is not None and row["endings"] >= 1
    assert {a["agent"] for a in report["agents"]} >= {"director", "partner", "visual", "strategist"}
    judged = [j for j in report["judges"] if j["n"]]
    assert judged and all(1 <= j["mean"] <= 5 for j in judged)
    page = html.read_text()
    assert page.startswith("<!doctype html>") and "<script" not in page
    assert "src=" not in page and "href=" not in page and "<link" not in page  # self-contained
    assert "warm" in page and "cool" in page and md.read_text().startswith("# Eval `smoke`")
    # transcripts were saved first: rescoring judges them again from the cassette
    again = qualia("eval", "rescore", report["run"], "--json")
    assert again.returncode == 0, again.stderr
    rescored = json.loads(again.stdout)
    assert rescored["judges"] == report["judges"] and rescored["model_sets"] == report["model_sets"]


def test_one_script_live_on_the_embedded_model(tmp_path: Path) -> None:
    # one short test (a single turn) of a shipped script, on the real model, no cassette
    out = qualia(
        "run",
        str(PLAYTHROUGHS / "second_shelf.play.yaml"),
        "saved_shop",
        "--live",
        "--json",
        env={"QUALIA_REQUEST_TIMEOUT_S": "1200"},  # a shared, busy machine is slow
        timeout=2400,
    )
    # its checks hold whatever the model says: the start state puts the ending in reach
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr
    data = json.loads(out.stdout)
    test = data["files"][0]["tests"][0]
    assert data["files"][0]["cassette"] is None
    turn = test["turns"][0]["turn"]
    assert turn["ok"] and turn["reply"].strip()
    assert {a["agent"] for a in turn["agents"]} == {"director", "partner", "visual", "strategist"}
    # the embedded model runs the small profile: the Director and Visual Director are rules
    models = {a["agent"]: a["model"] for a in turn["agents"]}
    assert models == {
        "director": "rules",
        "partner": "local/smollm2",
        "visual": "rules",
        "strategist": "local/smollm2",
    }
    # the starting state was applied and the ending condition is met on the first turn
    assert turn["state_after"]["stats"]["hope"] >= 95
    assert turn["ending"]["id"] == "still_open"


def test_recording_needs_a_cassette(tmp_path: Path) -> None:
    path = copy_script(tmp_path, "second_shelf", ("cassette: ", "# cassette: "))
    out = qualia("run", str(path), "--record")
    assert out.returncode == 2 and "needs a cassette" in out.stderr
    shutil.rmtree(tmp_path, ignore_errors=True)


# a user's own settings that change every recorded call's key (issue 18)
CUSTOM_CONFIG = {
    "QUALIA_TEMPERATURE": "0.8",
    "QUALIA_FREQUENCY_PENALTY": "0.1",
    "QUALIA_AGENTS__PARTNER__MAX_TOKENS": "120",
    "QUALIA_MEMORY__RECALL_TOKENS": "20",
}


def test_replay_does_not_depend_on_the_users_config(tmp_path: Path) -> None:
    out = qualia("run", "playthroughs/fogbound_archive.play.yaml", env=CUSTOM_CONFIG)
    assert out.returncode == 0, out.stdout + out.stderr
    out = qualia("eval", "playthroughs/smoke.eval.yaml", "--json", env=CUSTOM_CONFIG)
    assert out.returncode == 0, out.stdout + out.stderr
    assert json.loads(out.stdout)["status"] == "passed"


def test_a_script_pins_what_its_cassette_was_recorded_with(tmp_path: Path) -> None:
    script = copy_script(
        tmp_path,
        "fogbound_archive",
        (
            "seed: 7\n",
            "seed: 7\nsampling: {temperature: 0.3, agents: {partner: {max_tokens: 99}}}\n",
        ),
    )
    out = qualia("run", str(script), "asks_about_the_ledgers", "--json")
    assert out.returncode == 2, out.stdout + out.stderr
    error = json.loads(out.stdout)["files"][0]["tests"][0]["error"]
    assert "temperature: recorded 0.7, now 0.3" in error
    bad = copy_script(
        tmp_path, "fogbound_archive", ("seed: 7\n", "seed: 7\nsampling: {tempo: 1}\n")
    )
    out = qualia("run", str(bad))
    assert out.returncode == 2 and f"{bad}:" in out.stderr and "tempo" in out.stderr
