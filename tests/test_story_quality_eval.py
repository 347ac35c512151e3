"""The story-quality evaluation (issue 11) replays from its cassette, as CI runs it."""

from __future__ import annotations

import json
from pathlib import Path

from support.cli import qualia

ROOT = Path(__file__).resolve().parent.parent


def test_story_quality_eval_replays_and_reports_its_metrics() -> None:
    out = qualia("eval", "playthroughs/story_quality.eval.yaml", "--json", cwd=ROOT, timeout=900)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr
    report = json.loads(out.stdout)
    assert report["status"] == "passed" and not report["errors"]
    row = report["model_sets"][0]
    assert row["turns"] >= 12 and row["failed_turns"] == 0
    for metric in ("copy_rate", "junk_rate", "suggestions_per_turn", "good_suggestions_rate"):
        assert row[metric] is not None
    assert row["copy_rate"] <= 0.35 and row["good_suggestions_rate"] >= 0.9
    agents = {(a["agent"], a["model"]) for a in report["agents"]}
    assert ("director", "rules") in agents and ("partner", "local/smollm2") in agents
    assert {t["metric"] for t in report["thresholds"]} >= {"junk_rate", "copy_rate"}
