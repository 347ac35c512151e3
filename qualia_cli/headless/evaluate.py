"""Evaluate checks on one turn or, for `final:` checks, on every turn of a test."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qualia_cli.engine import TurnSummary
from qualia_cli.headless.checks import Check, Outcome, clip, fmt_number
from qualia_cli.scenario.conditions import Condition
from qualia_cli.scenario.conditions import condition_context as _context
from qualia_cli.scenario.models import Scenario


@dataclass
class Subject:
    """What checks look at: one turn, or every turn of a test (final checks)."""

    turns: list[TurnSummary]
    start: dict[str, Any]  # state snapshot before the first turn
    end: dict[str, Any]  # state snapshot after the last
    scenario: Scenario
    turn: int = 0  # the test's turn number (final checks: the number of turns)
    final: bool = False

    @property
    def last(self) -> TurnSummary | None:
        return self.turns[-1] if self.turns else None


def target_text(turn: TurnSummary, on: str) -> str:
    parts: list[str]
    if on == "partner":
        parts = [turn.reply]
    elif on == "action":
        parts = [turn.action]
    elif on == "narration":
        parts = [turn.narration]
    elif on == "director":
        parts = [f"{k}: {v}" for k, v in turn.plan.items() if v not in ("", [], None)]
    elif on == "visual":
        parts = [turn.visual["prompt"]] if turn.visual else []
    elif on == "strategist":
        parts = [s.get("text", "") for s in turn.suggestions]
    else:  # turn: everything the player sees
        parts = [
            turn.narration,
            turn.action,
            turn.reply,
            *(s.get("text", "") for s in turn.suggestions),
        ]
    return "\n".join(p for p in parts if p)


def _text_check(check: Check, subject: Subject) -> Outcome:
    text = "\n".join(target_text(t, check.on) for t in subject.turns)
    where = check.on if check.on != "turn" else "the turn"
    if check.kind == "equals":
        values = [target_text(t, check.on).strip() for t in subject.turns]
        want = str(check.value).strip()
        same = [v == want if check.case_sensitive else v.lower() == want.lower() for v in values]
        found = any(same)
        n = sum(same)
    elif check.kind == "regex":
        n = len(check.value.findall(text))
        found = n >= (check.count or 1)
    else:
        hay, needle = (
            (text, check.value)
            if check.case_sensitive
            else (
                text.lower(),
                str(check.value).lower(),
            )
        )
        n = hay.count(needle)
        found = n >= (check.count or 1)
    passed = found != check.negate
    if check.count and check.kind != "equals":
        actual = f"found {n} time{'s' if n != 1 else ''} in {where}: {clip(text)!r}"
    else:
        actual = f"{where}: {clip(text)!r}" if text else f"{where} is empty"
    return Outcome(passed, actual)


def _stat_line(state: dict[str, Any], names: set[str] | None = None) -> str:
    stats = state.get("stats") or {}
    shown = [f"{k}={v}" for k, v in stats.items() if names is None or k in names]
    for k in ("mood", "location", "time"):
        if names is None or k in names:
            shown.append(f"{k}={state.get(k)}")
    return ", ".join(shown)


def evaluate(check: Check, subject: Subject) -> Outcome:
    """Evaluate a check that needs no model (everything but `judge`)."""
    kind = check.kind
    if kind in ("contains", "regex", "equals"):
        return _text_check(check, subject)
    end, start = subject.end, subject.start
    if kind in ("state", "delta"):
        cond: Condition = check.value
        stats = end.get("stats") or {}
        if kind == "delta":
            before = start.get("stats") or {}
            stats = {k: v - before.get(k, v) for k, v in stats.items()}
        ctx = _context(
            subject.scenario,
            stats,
            str(end.get("mood", "")),
            str(end.get("location", "")),
            str(end.get("time", "")),
            subject.turn,
        )
        passed = cond.evaluate(ctx)
        if kind == "delta":
            shown = ", ".join(f"{k} {v:+d}" for k, v in stats.items() if k in cond.names)
        else:
            shown = _stat_line(end, set(cond.names))
        return Outcome(passed, shown or _stat_line(end))
    if kind == "location":
        here = str(end.get("location", ""))
        return Outcome(here.lower() == str(check.value).lower(), f"location={here}")
    if kind == "location_changed":
        moved = end.get("location") != start.get("location")
        return Outcome(moved == check.value, f"{start.get('location')} → {end.get('location')}")
    if kind == "scene_changed":
        changed = end.get("location") != start.get("location") or any(
            t.plan.get("scene_changed") for t in subject.turns
        )
        return Outcome(changed == check.value, f"scene changed: {'yes' if changed else 'no'}")
    if kind == "ending":
        reached = [t.ending["id"] for t in subject.turns if t.ending]
        got = reached[-1] if reached else "none"
        want = check.value
        passed = bool(reached) if want == "any" else got == want
        return Outcome(passed, f"ending: {got}")
    if kind == "image_tags":
        include, exclude = check.value
        tags = {
            tag.strip().lower()
            for t in subject.turns
            if t.visual
            for tag in t.visual["prompt"].split(",")
        }
        missing = [t for t in include if t not in tags]
        present = [t for t in exclude if t in tags]
        problems = [f"missing {', '.join(missing)}"] * bool(missing) + [
            f"has {', '.join(present)}"
        ] * bool(present)
        if not tags:
            return Outcome(False, "no image prompt")
        return Outcome(not problems, "; ".join(problems) or "tags ok")
    if kind == "suggestions":
        last = subject.last
        n = len(last.suggestions) if last else 0
        return Outcome(check.value.holds(n), f"{n} suggestion{'s' if n != 1 else ''}")
    if kind in ("latency_ms", "tokens", "cost_usd"):
        value = _measure(kind, check.agent, subject)
        unit = {"latency_ms": " ms", "tokens": " tokens", "cost_usd": " USD"}[kind]
        who = f"{check.agent} " if check.agent else ""
        return Outcome(check.value.holds(value), f"{who}{fmt_number(round(value, 6))}{unit}")
    if kind == "no_agent_errors":
        errors = [e for t in subject.turns for e in t.errors]
        shown = "; ".join(f"{e['agent']}: {e['code']}" for e in errors) or "no errors"
        return Outcome((not errors) == check.value, shown)
    raise ValueError(f"check {kind} needs the runner")  # judge


def _measure(kind: str, agent: str | None, subject: Subject) -> float:
    total = 0.0
    for t in subject.turns:
        if agent:
            calls = [a for a in t.agents if a["agent"] == agent]
            if kind == "latency_ms":
                total = max([total, *(a["latency_ms"] for a in calls)])
            elif kind == "tokens":
                total += sum(a["prompt_tokens"] + a["completion_tokens"] for a in calls)
            else:
                total += sum(a["cost_usd"] or 0.0 for a in calls)
        elif kind == "latency_ms":
            total = max(total, t.wall_ms)
        elif kind == "tokens":
            total += t.prompt_tokens + t.completion_tokens
        else:
            total += t.cost_usd or 0.0
    return total
