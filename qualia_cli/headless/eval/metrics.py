"""Objective metrics and judge statistics over an eval run's saved transcripts."""

from __future__ import annotations

import functools
import itertools
import math
import re
import statistics
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from qualia_cli.engine import TURN_AGENTS as _ALL_AGENTS
from qualia_cli.engine import Role
from qualia_cli.headless.eval.spec import EvalSpec

TURN_AGENTS = tuple(a for a in _ALL_AGENTS if a != Role.SUMMARIZER)  # called every turn
RULES = "rules"  # model name of a step done by rules (engine/turn/profile_steps)
REFUSAL = re.compile(
    r"\b(as an ai|language model|i can(?:no|')t (?:help|assist|continue|do that)|"
    r"i(?:'m| am) (?:not able|unable) to|i must decline|against my (?:guidelines|policy))\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"\w+", re.UNICODE)


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100); None for no values."""
    if not values:
        return None
    xs = sorted(values)
    k = (len(xs) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def distinct_2(texts: list[str]) -> float | None:
    """Distinct bigrams / all bigrams over the texts (1.0 = never repeats a word pair)."""
    grams: list[tuple[str, str]] = []
    for text in texts:
        words = [w.lower() for w in _WORD.findall(text)]
        grams += list(itertools.pairwise(words))
    return len(set(grams)) / len(grams) if grams else None


def mean_se(values: list[float]) -> dict[str, float | int | None]:
    """Mean ± standard error of the mean (stdev / sqrt(n); 0 for a single value)."""
    n = len(values)
    if not n:
        return {"mean": None, "se": None, "n": 0}
    se = statistics.stdev(values) / math.sqrt(n) if n > 1 else 0.0
    return {"mean": statistics.fmean(values), "se": se, "n": n}


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def agent_rows(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per model set, agent and model: calls, validity, repairs, failures, retries, latency."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for cell in cells:
        label = cell["cell"]["model_set"]
        models = cell.get("models", {})
        for turn in cell["turns"]:
            for call in turn.get("agents") or []:
                groups[(label, call["agent"], call["model"])].append(call)
            if not turn.get("ok"):  # a failed turn logs no calls: count its fatal errors
                for err in turn.get("errors") or []:
                    model = models.get(err["agent"]) or models.get("default", "?")
                    groups[(label, err["agent"], model)].append(
                        {"ok": False, "repairs": 0, "retries": 1, "latency_ms": None}
                    )
    rows = []
    for (label, agent, model), calls in sorted(groups.items()):
        n = len(calls)
        ok = [c for c in calls if c["ok"]]
        first = sum(1 for c in ok if not c.get("retries") and not c.get("repairs"))
        latencies = [c["latency_ms"] for c in calls if c.get("latency_ms") is not None]
        rows.append(
            {
                "model_set": label,
                "agent": agent,
                "model": model,
                "calls": n,
                "first_try_valid_rate": _ratio(first, n),
                "repairs": sum(c.get("repairs") or 0 for c in calls),
                "failures": n - len(ok),
                "retries": sum(c.get("retries") or 0 for c in calls),
                "latency_p50_ms": percentile(latencies, 50),
                "latency_p95_ms": percentile(latencies, 95),
            }
        )
    return rows


def model_set_metrics(label: str, cells: list[dict[str, Any]]) -> dict[str, Any]:
    mine = [c for c in cells if c["cell"]["model_set"] == label]
    turns = [t for c in mine for t in c["turns"]]
    played = [t for t in turns if t.get("ok")]
    calls = [
        a
        for t in turns
        for a in t.get("agents") or []
        if a["agent"] in TURN_AGENTS and a.get("model") != RULES  # steps done by rules: no call
    ]
    failed_calls = sum(1 for a in calls if not a["ok"]) + sum(
        1 for t in turns if not t.get("ok") for e in t.get("errors") or [] if e.get("fatal")
    )
    n_calls = len(calls) + sum(1 for t in turns if not t.get("ok"))
    ok_calls = [a for a in calls if a["ok"]]
    first = sum(1 for a in ok_calls if not a.get("retries") and not a.get("repairs"))
    partner_lat = [a["latency_ms"] for a in calls if a["agent"] == "partner"]
    replies = [t.get("reply", "") for t in played]
    checks = [c["checks"] for c in mine if c.get("checks")]
    endings = Counter(t["ending"]["id"] for t in played if t.get("ending"))
    costs = [t.get("cost_usd") for t in played]
    return {
        "model_set": label,
        "cells": len(mine),
        "cell_errors": sum(1 for c in mine if c["status"] == "error"),
        "turns": len(turns),
        "failed_turns": len(turns) - len(played),
        "first_try_valid_rate": _ratio(first, n_calls),
        "repair_rate": _ratio(sum(a.get("repairs") or 0 for a in calls), n_calls),
        "failure_rate": _ratio(failed_calls, n_calls),
        "retries": sum(a.get("retries") or 0 for a in calls),
        "latency_p50_ms": percentile(partner_lat, 50),
        "latency_p95_ms": percentile(partner_lat, 95),
        "tokens_per_turn": _ratio(
            sum(t.get("prompt_tokens", 0) + t.get("completion_tokens", 0) for t in played),
            len(played),
        ),
        "cost_per_turn": (
            _ratio(sum(c or 0.0 for c in costs), len(played))
            if any(c is not None for c in costs)
            else None
        ),
        "distinct_2": distinct_2(replies),
        **story_quality(mine),
        "refusals": sum(1 for r in replies if REFUSAL.search(r)),
        "endings": sum(endings.values()),
        "endings_by_id": dict(endings),
        "checks_pass_rate": _ratio(
            sum(c["passed"] for c in checks), sum(c["total"] for c in checks)
        ),
        "player_failures": sum(len(c.get("player_errors") or []) for c in mine),
        "stat_trajectories": {c["cell"]["id"]: trajectory(c) for c in mine},
    }


def trajectory(cell: dict[str, Any]) -> dict[str, list[int]]:
    """Each stat's value at the start and after every played turn of a cell."""
    played = [t for t in cell["turns"] if t.get("ok")]
    if not played:
        return {}
    states = [played[0]["state_before"], *(t["state_after"] for t in played)]
    names = list(states[0].get("stats", {}))
    return {n: [int(s.get("stats", {}).get(n, 0)) for s in states] for n in names}


def judge_rows(spec: EvalSpec, verdicts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean ± standard error per model set, judge model and rubric; failures counted apart."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for v in verdicts:
        groups[(v["model_set"], v["judge"], v["rubric"])].append(v)
    rows = []
    for (label, judge, rubric), vs in sorted(groups.items()):
        scores = [float(v["score"]) for v in vs if v.get("score") is not None and not v["error"]]
        rows.append(
            {
                "model_set": label,
                "judge": judge,
                "rubric": rubric,
                **mean_se(scores),
                "failures": len(vs) - len(scores),
            }
        )
    return rows


def metric_value(name: str, row: dict[str, Any], judges: list[dict[str, Any]]) -> float | None:
    if name.startswith("judge."):
        rubric = name.split(".", 1)[1]
        scores = [
            j["mean"]
            for j in judges
            if j["model_set"] == row["model_set"] and j["rubric"] == rubric and j["n"]
        ]
        return statistics.fmean(scores) if scores else None
    if name == "judge_failures":
        return float(sum(j["failures"] for j in judges if j["model_set"] == row["model_set"]))
    value = row.get(name)
    return None if value is None else float(value)


def check_thresholds(
    spec: EvalSpec, rows: list[dict[str, Any]], judges: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    out = []
    for t in spec.thresholds:
        for row in rows:
            if t.model_set is not None and row["model_set"] != t.model_set:
                continue
            value = metric_value(t.metric, row, judges)
            ok = value is not None
            if ok and t.min is not None:
                ok = value >= t.min  # type: ignore[operator]
            if ok and t.max is not None:
                ok = value <= t.max  # type: ignore[operator]
            out.append(
                {
                    "metric": t.metric,
                    "model_set": row["model_set"],
                    "value": value,
                    "min": t.min,
                    "max": t.max,
                    "passed": ok,
                }
            )
    return out


def build_report(
    spec: EvalSpec, run_id: str, cells: list[dict[str, Any]], verdicts: list[dict[str, Any]]
) -> dict[str, Any]:
    rows = [model_set_metrics(m.label, cells) for m in spec.model_sets]
    judges = judge_rows(spec, verdicts)
    thresholds = check_thresholds(spec, rows, judges)
    errors = [
        {"cell": c["cell"]["id"], "error": c.get("error")} for c in cells if c["status"] == "error"
    ]
    status = (
        "error" if errors else ("failed" if any(not t["passed"] for t in thresholds) else "passed")
    )
    return {
        "version": 1,
        "run": run_id,
        "name": spec.name,
        "status": status,
        "exit_code": {"passed": 0, "failed": 1, "error": 2}[status],
        "rubrics": spec.rubric_texts(),
        "model_sets": rows,
        "agents": agent_rows(cells),
        "judges": judges,
        "thresholds": thresholds,
        "errors": errors,
        "cells": [
            {
                "id": c["cell"]["id"],
                **c["cell"],
                "status": c["status"],
                "turns": len(c["turns"]),
                "error": c.get("error"),
            }
            for c in cells
        ],
    }


@functools.cache
def _scenario_texts(path: str) -> dict[str, str]:
    """The opening and first message of a cell's scenario (what a reply must not copy)."""
    from qualia_cli.scenario import load_scenario

    try:
        sc = load_scenario(Path(path))
    except Exception:  # a moved or broken file: compare with the replies only
        return {}
    return {"opening": sc.opening, "first message": sc.first_message}


def story_quality(cells: list[dict[str, Any]]) -> dict[str, float | None]:
    """Copy and junk rates of her replies, suggestions per turn, and how often the quality
    gate regenerated a reply (agents/quality.py has the rules)."""
    from qualia_cli.engine import copy_reason, is_echo, junk_reason

    played = copies = junk = regenerated = good_turns = 0
    offered: list[int] = []
    walls: list[float] = []
    for cell in cells:
        earlier = dict(_scenario_texts(cell.get("scenario_path") or ""))
        recent: list[str] = []
        for t in cell["turns"]:
            if not t.get("ok"):
                continue
            played += 1
            reply = t.get("reply", "")
            compare = {**earlier, **{f"reply {i}": r for i, r in enumerate(recent[-4:])}}
            if t.get("player_text"):
                compare["player's line"] = str(t["player_text"])
            bad_junk = junk_reason(reply) is not None
            junk += bad_junk
            copies += (not bad_junk) and copy_reason(reply, compare) is not None
            recent.append(reply)
            texts = [str(s.get("text", "")) for s in t.get("suggestions") or []]
            good = {x.lower() for x in texts if not is_echo(x, t.get("player_text", ""))}
            offered.append(len(texts))
            good_turns += len(good) >= 2
            walls.append(float(t.get("wall_ms") or 0.0))
            regenerated += any(
                (a.get("context") or {}).get("quality_gate")
                for a in t.get("agents") or []
                if a["agent"] == "partner"
            )
    return {
        "copy_rate": _ratio(copies, played),
        "junk_rate": _ratio(junk, played),
        "regenerated_rate": _ratio(regenerated, played),
        "suggestions_per_turn": statistics.fmean(offered) if offered else None,
        "good_suggestions_rate": _ratio(good_turns, played),
        "turn_p50_ms": percentile(walls, 50),
    }
