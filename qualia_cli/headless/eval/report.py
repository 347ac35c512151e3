"""Eval reports: rich tables for the terminal, and self-contained Markdown or HTML files."""

from __future__ import annotations

import html
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

METRIC_ROWS: list[tuple[str, str, str]] = [
    # (key, label, format)
    ("cells", "cells", "int"),
    ("turns", "turns", "int"),
    ("failed_turns", "failed turns", "int"),
    ("first_try_valid_rate", "valid on first try", "pct"),
    ("repair_rate", "repaired", "pct"),
    ("failure_rate", "failed calls", "pct"),
    ("retries", "corrective retries", "int"),
    ("latency_p50_ms", "partner latency p50", "ms"),
    ("latency_p95_ms", "partner latency p95", "ms"),
    ("tokens_per_turn", "tokens per turn", "int"),
    ("cost_per_turn", "cost per turn ($)", "usd"),
    ("distinct_2", "distinct-2 (her replies)", "ratio"),
    ("refusals", "refusals", "int"),
    ("endings", "endings reached", "int"),
    ("checks_pass_rate", "script checks passed", "pct"),
    ("player_failures", "simulated player failures", "int"),
]


def fmt(value: Any, kind: str) -> str:
    if value is None:
        return "–"
    if kind == "pct":
        return f"{value * 100:.0f}%"
    if kind == "ms":
        return f"{value / 1000:.1f}s" if value >= 1000 else f"{value:.0f}ms"
    if kind == "usd":
        return f"{value:.4f}"
    if kind == "ratio":
        return f"{value:.2f}"
    return f"{value:,.0f}" if isinstance(value, float) else str(value)


def score(judge: dict[str, Any]) -> str:
    if not judge["n"]:
        return f"– ({judge['failures']} failed)" if judge["failures"] else "–"
    text = f"{judge['mean']:.2f} ± {judge['se']:.2f}"
    return text + (f" ({judge['failures']} failed)" if judge["failures"] else "")


def _rubric_cell(report: dict[str, Any], label: str, rubric: str, judge: str) -> str:
    rows = [
        j
        for j in report["judges"]
        if j["model_set"] == label and j["rubric"] == rubric and j["judge"] == judge
    ]
    return score(rows[0]) if rows else "–"


def comparison_rows(report: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """One column per model set, one row per metric and per rubric (and judge)."""
    sets = report["model_sets"]
    headers = ["", *(r["model_set"] for r in sets)]
    rows = [[label, *(fmt(r.get(key), kind) for r in sets)] for key, label, kind in METRIC_ROWS]
    judges = sorted({j["judge"] for j in report["judges"]})
    for rubric in report["rubrics"]:
        for judge in judges:
            name = f"{rubric} (judge {judge})" if len(judges) > 1 else rubric
            rows.append(
                [name, *(_rubric_cell(report, r["model_set"], rubric, judge) for r in sets)]
            )
    return headers, rows


def agent_table_rows(report: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    headers = ["set", "agent", "model", "calls", "1st ok", "rep.", "fail", "retry", "p50", "p95"]
    rows = [
        [
            a["model_set"],
            a["agent"],
            a["model"],
            str(a["calls"]),
            fmt(a["first_try_valid_rate"], "pct"),
            str(a["repairs"]),
            str(a["failures"]),
            str(a["retries"]),
            fmt(a["latency_p50_ms"], "ms"),
            fmt(a["latency_p95_ms"], "ms"),
        ]
        for a in report["agents"]
    ]
    return headers, rows


def trajectory_rows(report: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    rows = []
    for row in report["model_sets"]:
        for cell, stats in row.get("stat_trajectories", {}).items():
            shown = "; ".join(f"{k} {'→'.join(map(str, v))}" for k, v in stats.items())
            rows.append([row["model_set"], cell, shown or "–"])
    return ["model set", "cell", "stats (start → after each turn)"], rows


def print_report(console: Console, report: dict[str, Any]) -> None:
    headers, rows = comparison_rows(report)
    judges = sorted({j["judge"] for j in report["judges"]})
    table = Table(title=f"eval {report['name']} — run {report['run']}")
    for i, h in enumerate(headers):
        table.add_column(h, justify="left" if i == 0 else "right")
    for r in rows:
        table.add_row(*r)
    console.print(table)
    if judges:
        console.print(
            f"[dim]judge scores 1–5, mean ± standard error; judges: {', '.join(judges)}[/]"
        )
    headers, rows = agent_table_rows(report)
    agents = Table(title="per agent and model")
    for h in headers:
        text = h in ("set", "agent", "model")
        agents.add_column(h, justify="left" if text else "right", overflow="fold")
    for r in rows:
        agents.add_row(*r)
    console.print(agents)
    for t in report["thresholds"]:
        mark = "[green]✓[/]" if t["passed"] else "[red]✗[/]"
        bounds = " and ".join(
            f"{op} {v:g}" for op, v in ((">=", t["min"]), ("<=", t["max"])) if v is not None
        )
        value = "–" if t["value"] is None else f"{t['value']:.3g}"
        console.print(f"{mark} {t['model_set']}: {t['metric']} = {value} (needs {bounds})")
    for e in report["errors"]:
        console.print(Text(f"error: {e['cell'] or 'run'}: {e['error']}", "bold red"))
    style = {"passed": "green", "failed": "red", "error": "bold red"}[report["status"]]
    console.print(f"[{style}]{report['status']}[/] ({len(report['cells'])} cells)")


def markdown(report: dict[str, Any]) -> str:
    def table(headers: list[str], rows: list[list[str]]) -> list[str]:
        lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
        return lines

    out = [
        f"# Eval `{report['name']}` — run `{report['run']}`",
        "",
        f"Status: **{report['status']}**",
    ]
    out += ["", "## Comparison", "", *table(*comparison_rows(report))]
    out += ["", "Judge scores are 1–5, mean ± standard error over cells.", ""]
    out += ["## Rubrics", ""] + [f"- **{k}**: {v}" for k, v in report["rubrics"].items()]
    out += ["", "## Per agent and model", "", *table(*agent_table_rows(report))]
    out += ["", "## Stat trajectories", "", *table(*trajectory_rows(report))]
    if report["thresholds"]:
        out += ["", "## Thresholds", ""]
        for t in report["thresholds"]:
            mark = "pass" if t["passed"] else "FAIL"
            out.append(f"- {mark}: {t['model_set']} {t['metric']} = {t['value']}")
    if report["errors"]:
        out += ["", "## Errors", ""] + [f"- {e['cell']}: {e['error']}" for e in report["errors"]]
    return "\n".join(out) + "\n"


_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:4px 8px}
th{background:#f3f3f3}td{text-align:right}td:first-child{text-align:left}
.passed{color:#176f2c}.failed,.error{color:#b00020}details{margin:.3em 0}
pre{white-space:pre-wrap;background:#fafafa;padding:.6em;border:1px solid #eee}
"""


def html_report(report: dict[str, Any], transcripts: dict[str, str] | None = None) -> str:
    """One self-contained HTML file (inline CSS, no scripts, everything escaped)."""
    e = html.escape

    def table(headers: list[str], rows: list[list[str]]) -> str:
        head = "".join(f"<th>{e(h)}</th>" for h in headers)
        body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows)
        return f"<table><tr>{head}</tr>{body}</table>"

    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>eval {e(report['name'])}</title><style>{_CSS}</style></head><body>",
        f"<h1>Eval {e(report['name'])}</h1><p>run {e(report['run'])}: ",
        f"<b class='{e(report['status'])}'>{e(report['status'])}</b></p>",
        "<h2>Comparison</h2>",
        table(*comparison_rows(report)),
        "<p>Judge scores 1–5, mean ± standard error over cells.</p><h2>Rubrics</h2><ul>",
        *(f"<li><b>{e(k)}</b>: {e(v)}</li>" for k, v in report["rubrics"].items()),
        "</ul><h2>Per agent and model</h2>",
        table(*agent_table_rows(report)),
        "<h2>Stat trajectories</h2>",
        table(*trajectory_rows(report)),
    ]
    if report["thresholds"]:
        parts.append("<h2>Thresholds</h2><ul>")
        for t in report["thresholds"]:
            cls = "passed" if t["passed"] else "failed"
            parts.append(
                f"<li class='{cls}'>{e(t['model_set'])}: {e(t['metric'])} = {e(str(t['value']))}"
                f" (min {e(str(t['min']))}, max {e(str(t['max']))})</li>"
            )
        parts.append("</ul>")
    if report["errors"]:
        parts.append("<h2>Errors</h2><ul>")
        parts += [
            f"<li class='error'>{e(str(x['cell']))}: {e(str(x['error']))}</li>"
            for x in report["errors"]
        ]
        parts.append("</ul>")
    if transcripts:
        parts.append("<h2>Transcripts</h2>")
        for cell_id, text in transcripts.items():
            parts.append(f"<details><summary>{e(cell_id)}</summary><pre>{e(text)}</pre></details>")
    parts.append("</body></html>")
    return "".join(parts)
