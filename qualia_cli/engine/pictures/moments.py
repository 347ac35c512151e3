"""The moments a picture is drawn of, read from the store or a scenario file.

A stored session's scenario and rating come from its row (as a `GameSession` reads them), a
message's scene from the image prompt its turn stored; a scenario file gives its opening and
one wide shot per place. Used by rerolls and batches (engine/pictures/service.py, batches.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from qualia_cli.engine.pictures.scenes import location_scene, opening_scene, turn_scene
from qualia_cli.images.errors import ImageError
from qualia_cli.images.request import Scene
from qualia_cli.scenario.loader import load_scenario_dict

if TYPE_CHECKING:
    from qualia_cli.scenario.models import Scenario
    from qualia_cli.store import Store
    from qualia_cli.store.records import SessionRecord

FindScenario = Callable[[str], tuple[Path, "Scenario"]]
Moment = tuple[str, Scene, int | None]  # label, scene, the message it belongs to


def stored_session(store: Store, session_id: str) -> tuple[SessionRecord, Scenario]:
    """A session's row (``session_id`` may be a prefix) and the scenario stored with it."""
    record = store.get_session(store.resolve_session_id(session_id))
    assert record is not None  # resolve_session_id raises for an unknown id
    source = record.scenario_path or record.scenario_id
    return record, load_scenario_dict(record.scenario, source=source)


def message_scene(store: Store, session_id: str, message_id: int, variant: int) -> Scene:
    """The scene of one stored message: its turn's image prompt, or the opening's."""
    record, scenario = stored_session(store, session_id)
    message = store.get_message(message_id)
    if message is None or message.session_id != record.id:
        raise ImageError(f"message {message_id} is not part of session {record.id}")
    image = message.line.image if message.sender == "partner" else None
    snap = message.partner_state_snapshot or {}
    if not image:
        scene = opening_scene(record.id, scenario, str(record.content_rating))
        return replace(scene, variant=variant)
    return turn_scene(
        record.id,
        image,
        scenario,
        str(record.content_rating),
        location=str(snap.get("location", "")),
        time=str(snap.get("time", "")),
        mood=str(snap.get("mood", "neutral")),
        variant=variant,
    )


def scenario_moments(find_scenario: FindScenario, target: str) -> tuple[str, list[Moment]]:
    """A scenario file's opening and each of its places; the folder is `scenario_ID`."""
    _, sc = find_scenario(target)
    key = f"scenario:{sc.id}"
    rating = sc.content_rating.value
    out: list[Moment] = [("opening", opening_scene(key, sc, rating), None)]
    places = [sc.setting.start_location, *sc.setting.locations]
    out += [(place, location_scene(key, sc, place), None) for place in dict.fromkeys(places)]
    return f"scenario_{sc.id}", out


def session_moments(store: Store, target: str) -> tuple[str, list[Moment]]:
    """A session's opening and every turn of its current branch that asked for a picture."""
    record, scenario = stored_session(store, target)
    out: list[Moment] = []
    head = record.head_message_id
    messages = store.branch(head) if head is not None else []
    opening = next((m for m in messages if m.turn_id is None), None)
    if opening is not None:
        scene = opening_scene(record.id, scenario, str(record.content_rating))
        last_opening = [m for m in messages if m.turn_id is None][-1]
        out.append(("opening", scene, last_opening.id))
    for m in messages:
        image = m.line.image if m.sender == "partner" else None
        if image and image.get("generate"):
            turn = (m.partner_state_snapshot or {}).get("turn", "?")
            out.append((f"turn {turn}", message_scene(store, record.id, m.id, 0), m.id))
    return record.id, out
