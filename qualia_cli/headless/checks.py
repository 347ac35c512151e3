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

from qualia_cli.headless.script import TARGETS, TEXT_KINDS, CheckSpec
from qualia_cli.scenario.conditions import Condition, ConditionError, compile_condition
from qualia_cli.scenario.file_errors import LocatedError
from qualia_cli.scenario.models import Scenario

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
            return f"{fmt_number(self.a)}..{fmt_number(self.b or 0)}"
        return f"{self.op} {fmt_number(self.a)}"


def fmt_number(x: float) -> str:
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


def clip(text: str, limit: int = _SHOW) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
