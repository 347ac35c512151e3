"""Partner state changes: deltas clamped to a per-turn maximum and to each stat's bounds."""

from __future__ import annotations

from dataclasses import replace

from qualia_cli.scenario.models import MOODS, Scenario
from qualia_cli.store.records import PartnerState


def initial_state(scenario: Scenario) -> PartnerState:
    p = scenario.partner
    return PartnerState(
        name=p.name,
        stats={s.name: s.start for s in scenario.stats},
        mood=scenario.starting_mood,
        location=scenario.setting.start_location,
        time=scenario.setting.start_time,
        profile={
            "age": p.age,
            "gender": p.gender,
            "occupation": p.occupation,
            "appearance": p.appearance.model_dump(),
            "personality": list(p.personality),
        },
    )


def apply_deltas(
    scenario: Scenario,
    state: PartnerState,
    deltas: dict[str, int],
    *,
    max_delta: int,
    mood: str | None = None,
    location: str | None = None,
    time: str | None = None,
) -> tuple[PartnerState, dict[str, int]]:
    """Return the new state and the deltas actually applied (after clamping)."""
    stats = dict(state.stats)
    applied: dict[str, int] = {}
    for stat in scenario.stats:
        raw = deltas.get(stat.name, 0)
        try:
            step = int(raw)
        except (TypeError, ValueError):
            step = 0
        step = max(-max_delta, min(max_delta, step))
        before = stats.get(stat.name, stat.start)
        after = max(stat.min, min(stat.max, before + step))
        stats[stat.name] = after
        if after != before:
            applied[stat.name] = after - before
    new = replace(
        state,
        stats=stats,
        mood=mood if mood in MOODS else state.mood,
        location=(location or state.location).strip() or state.location,
        time=(time or state.time).strip() or state.time,
    )
    return new, applied
