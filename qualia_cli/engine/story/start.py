"""A session's starting state set by a front end (playthrough tests, eval): stats, mood, place."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from qualia_cli.errors import QualiaError
from qualia_cli.scenario.models import MOODS, Scenario
from qualia_cli.store.records import PartnerState

START_KEYS = ("stats", "mood", "location", "time")


class StartStateError(QualiaError, ValueError):
    """A starting state that does not fit the scenario; `loc` names the offending key."""

    def __init__(self, message: str, loc: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.loc = loc


def start_state_problems(scenario: Scenario, start: Mapping[str, Any]) -> list[StartStateError]:
    """Every way `start` does not fit `scenario` (unknown stat, out of bounds, unknown mood)."""
    problems: list[StartStateError] = []
    for key in start:
        if key not in START_KEYS:
            problems.append(
                StartStateError(f"unknown key '{key}' (allowed: {', '.join(START_KEYS)})", (key,))
            )
    stats = start.get("stats") or {}
    for name, value in stats.items():
        stat = scenario.stat(name)
        if stat is None:
            known = ", ".join(s.name for s in scenario.stats)
            message = f"'{name}' is not a stat of {scenario.id} ({known})"
            problems.append(StartStateError(message, ("stats", name)))
        elif not isinstance(value, int) or isinstance(value, bool):
            problems.append(StartStateError(f"{name} must be a whole number", ("stats", name)))
        elif not stat.min <= value <= stat.max:
            problems.append(
                StartStateError(
                    f"{name} = {value} is outside {stat.min}..{stat.max}", ("stats", name)
                )
            )
    mood = start.get("mood")
    if mood is not None and mood not in MOODS:
        problems.append(
            StartStateError(f"'{mood}' is not a known mood ({', '.join(MOODS)})", ("mood",))
        )
    for key in ("location", "time"):
        value = start.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            problems.append(StartStateError(f"{key} must be non-empty text", (key,)))
    return problems


def apply_start_state(
    scenario: Scenario, state: PartnerState, start: Mapping[str, Any] | None
) -> PartnerState:
    """`state` with `start`'s stats, mood, location and time; raises StartStateError."""
    if not start:
        return state
    problems = start_state_problems(scenario, start)
    if problems:
        raise problems[0]
    return replace(
        state,
        stats={**state.stats, **dict(start.get("stats") or {})},
        mood=start.get("mood") or state.mood,
        location=(start.get("location") or state.location).strip(),
        time=(start.get("time") or state.time).strip(),
    )
