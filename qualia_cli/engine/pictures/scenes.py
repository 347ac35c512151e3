"""What an engine picture is of: scenes composed from a scenario and a turn's image prompt.

The prompt = scenario style tags + the partner's stable appearance tags + the scene's own
tags. A session's opening and a scenario batch draw from the scenario alone; a played turn
draws from the image prompt the turn stored with its message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from qualia_cli.images.request import Scene

if TYPE_CHECKING:
    from qualia_cli.scenario.models import Scenario


def join_tags(*groups: str | Iterable[Any]) -> str:
    """Comma-separated tags without blanks or (case-insensitive) repeats, in first-seen order."""
    seen: dict[str, None] = {}
    for group in groups:
        for tag in [group] if isinstance(group, str) else group:
            t = str(tag).strip().strip(",").strip()
            if t and t.lower() not in {k.lower() for k in seen}:
                seen[t] = None
    return ", ".join(seen)


def _scenario_scene(
    key: str, scenario: Scenario, rating: str, place: str, framing: str, *extra: str
) -> Scene:
    s = scenario
    return Scene(
        key=key,
        prompt=join_tags(s.images.style_tags, s.partner.appearance.tags, framing, place, *extra),
        negative_prompt=join_tags(s.images.negative_tags),
        location=place,
        time=s.setting.start_time,
        mood=s.starting_mood,
        framing=framing,
        partner=s.partner.name,
        title=s.title,
        rating=rating,
    )


def opening_scene(session_id: str, scenario: Scenario, rating: str) -> Scene:
    """The opening picture: style + her stable appearance + the starting place and time."""
    setting = scenario.setting
    return _scenario_scene(
        session_id, scenario, rating, setting.start_location, "upper body", setting.start_time
    )


def location_scene(key: str, scenario: Scenario, place: str) -> Scene:
    """A wide shot of one of the scenario's places (a scenario batch)."""
    return _scenario_scene(key, scenario, scenario.content_rating.value, place, "wide shot")


def turn_scene(
    key: str,
    image: Mapping[str, Any],
    scenario: Scenario,
    rating: str,
    *,
    location: str,
    time: str,
    mood: str,
    variant: int = 0,
) -> Scene:
    """A played moment: `image` is the prompt the turn stored with its message."""
    return Scene(
        key=key,
        prompt=image["prompt"],
        negative_prompt=image["negative_prompt"],
        location=location,
        time=time,
        mood=mood,
        framing=image.get("framing", "upper body"),
        scene_tags=tuple(image.get("scene_tags") or ()),
        partner=scenario.partner.name,
        title=scenario.title,
        rating=rating,
        variant=variant,
    )
