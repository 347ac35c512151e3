"""Checks: parsed from shorthand strings or mappings, evaluated on one turn or a whole test.

Shorthand (regtest style): ``"text"`` (found anywhere in the turn, any case), ``"!text"``
(not found), ``"/re/i"`` (regex, flags i m s), modifiers in braces first:
``"{vital} text"`` (a failure stops the test), ``"{count=2} text"`` (at least twice),
``"{on=partner} text"`` (only her dialogue), ``"{case} Text"`` (case-sensitive).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from qualia_cli.engine.summary import TurnSummary
from qualia_cli.headless.script import TARGETS, TEXT_KINDS, CheckSpec
from qualia_cli.scenario.conditions import Condition, ConditionError, compile_condition
from qualia_cli.scenario.conditions import condition_context as _context
from qualia_cli.scenario.models import Scenario
from qualia_cli.scenario.validate import LocatedError

_CMP = re.compile(r"^\s*(<=|>=|==|!=|<|>)?\s*(-?\d+(?:\.\d+)?)\s*$")
_RANGE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*\.\.\s*(-?\d+(?:\.\d+)?)\s*$")
_MODS = re.compile(r"\{([^{}]*)\}\s*")
_REGEX = re.compile(r"^/(.*)/([a-z]*)$", re.S)
_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}
_SHOW = 90


@dataclass(frozen=True)
class Comparison:
    op: str  # < <= > >= == != or ".." (range)
    a: float
    b: float | None = None

    def holds(self, value: float) -> bool:
        if self.op == "..":
            assert self.b is not None
            return self.a <= value <= self.b
        return {
            "<": value < self.a,
            "<=": value <= self.a,
            ">": value > self.a,
            ">=": value >= self.a,
            "==": value == self.a,
            "!=": value != self.a,
        }[self.op]

    def __str__(self) -> str:
        if self.op == "..":
            return f"{_num(self.a)}..{_num(self.b or 0)}"
        return f"{self.op} {_num(self.a)}"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def parse_comparison(value: str | int | float) -> Comparison:
    if isinstance(value, bool):
        raise LocatedError("expected a number or a comparison like '>= 2', '< 3000', '2..4'")
    if isinstance(value, int | float):
        return Comparison("==", float(value))
    m = _RANGE.match(value)
    if m:
        lo, hi = float(m.group(1)), float(m.group(2))
        if lo > hi:
            raise LocatedError(f"empty range {value!r}: write low..high")
        return Comparison("..", lo, hi)
    m = _CMP.match(value)
    if not m:
        raise LocatedError(f"{value!r} is not a comparison: write e.g. '>= 2', '< 3000', '2..4'")
    return Comparison(m.group(1) or "==", float(m.group(2)))


@dataclass(frozen=True)
class Check:
    kind: str
    value: Any = None
    negate: bool = False
    on: str = "turn"
    vital: bool = False
    count: int | None = None
    case_sensitive: bool = False
    agent: str | None = None
    min_score: int = 3
    model: str | None = None
    source: str = ""  # as written, for reports
    where: str = ""  # file:line


@dataclass
class Outcome:
    passed: bool
    actual: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- parsing


def parse_shorthand(text: str, *, where: str = "") -> Check:
    """`"{vital,count=2} !text"` and friends. Errors carry the offset in `text`."""
    at = 0
    mods: dict[str, Any] = {}
    while m := _MODS.match(text, at):
        for part in m.group(1).split(","):
            name, _, arg = (p.strip() for p in part.partition("="))
            offset = m.start(1) + m.group(1).find(part.strip())
            if name == "vital" and not arg:
                mods["vital"] = True
            elif name == "case" and not arg:
                mods["case_sensitive"] = True
            elif name == "count" and arg.isdigit() and int(arg) >= 1:
                mods["count"] = int(arg)
            elif name == "on" and arg in TARGETS:
                mods["on"] = arg
            else:
                raise LocatedError(
                    f"unknown modifier '{{{part.strip()}}}' (use {{vital}}, {{count=N}}, "
                    f"{{on=…}} with one of {', '.join(TARGETS)}, {{case}})",
                    offset=offset,
                )
        at = m.end()
    body = text[at:]
    negate = body.startswith("!")
    if negate:
        body, at = body[1:], at + 1
    if not body.strip():
        raise LocatedError("the check has no text to look for", offset=at)
    m = _REGEX.match(body)
    if m and len(body) > 1:
        pattern = _compile_regex(m.group(1), m.group(2), offset=at + 1)
        return Check("regex", pattern, negate, source=text, where=where, **mods)
    return Check("contains", body, negate, source=text, where=where, **mods)


def _compile_regex(pattern: str, flags: str = "", *, offset: int = 0) -> re.Pattern[str]:
    bits = 0
    for f in flags:
        if f not in _FLAGS:
            raise LocatedError(f"unknown regex flag '{f}' (use i, m, s)", offset=offset)
        bits |= _FLAGS[f]
    try:
        return re.compile(pattern, bits)
    except re.error as err:
        raise LocatedError(f"bad regex: {err.msg}", offset=offset + (err.pos or 0)) from None


def compile_condition_for(text: str, scenario: Scenario) -> Condition:
    """A state/delta condition; `partner.` before a name is allowed (`partner.trust > 2`)."""
    cleaned = re.sub(r"\bpartner\.", " " * len("partner."), text)
    try:
        return compile_condition(cleaned, {s.name for s in scenario.stats})
    except ConditionError as err:
        raise LocatedError(err.message, offset=err.offset) from None


def compile_spec(spec: CheckSpec, scenario: Scenario, *, where: str = "") -> Check:
    """A mapping check, validated against the scenario. LocatedError loc is the kind key."""
    kind = spec.kind
    raw = spec.value
    base: dict[str, Any] = {"vital": spec.vital, "where": where, "source": _spec_source(spec)}
    key = (kind,)
    try:
        if kind in TEXT_KINDS:
            negate = kind.startswith("not-")
            plain = kind.removeprefix("not-")
            value: Any = raw
            if plain == "regex":
                m = _REGEX.match(raw)
                value = (
                    _compile_regex(m.group(1), m.group(2), offset=1) if m else _compile_regex(raw)
                )
            return Check(
                plain,
                value,
                negate,
                on=spec.on or "turn",
                count=spec.count,
                case_sensitive=bool(spec.case_sensitive),
                **base,
            )
        if kind in ("state", "delta"):
            return Check(kind, compile_condition_for(raw, scenario), **base)
        if kind in ("suggestions", "latency_ms", "tokens", "cost_usd"):
            return Check(kind, parse_comparison(raw), agent=spec.agent, **base)
        if kind == "ending":
            ids = [e.id for e in scenario.endings]
            if raw not in ("any", "none", *ids):
                raise LocatedError(f"'{raw}' is not an ending: use any, none or {', '.join(ids)}")
            return Check(kind, raw, **base)
        if kind == "judge":
            return Check(kind, raw, min_score=spec.min_score or 3, model=spec.model, **base)
        if kind == "image_tags":
            tags = spec.image_tags
            assert tags is not None
            if not tags.include and not tags.exclude:
                raise LocatedError("image_tags needs include and/or exclude")
            value = (tuple(t.lower() for t in tags.include), tuple(t.lower() for t in tags.exclude))
            return Check(kind, value, **base)
        return Check(kind, raw, **base)  # location, location_changed, scene_changed, …
    except LocatedError as err:
        raise LocatedError(str(err), key + err.loc, err.offset) from None


def _spec_source(spec: CheckSpec) -> str:
    data = spec.model_dump(by_alias=True, exclude_none=True, exclude_defaults=True)
    return json.dumps(data, ensure_ascii=False, separators=(", ", ": "))


# --------------------------------------------------------------------------- evaluation


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


def clip(text: str, limit: int = _SHOW) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
        return Outcome(check.value.holds(value), f"{who}{_num(round(value, 6))}{unit}")
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
