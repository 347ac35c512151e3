"""Write a scenario as tidy, commented YAML that loads back to the same scenario.

Keys come in the model's order, one commented section each; prose is folded (``>-``) at
88 columns, short lists and small records are written on one line, defaults are left out.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from qualia_cli.authoring.errors import AuthoringError
from qualia_cli.scenario.models import Scenario

WIDTH = 88
_KEEP = ("narrative_pace", "content_rating", "starting_mood")  # shown even when default

HEADER = """\
# {title} — a qualia scenario{origin}.
# Check it with `qualia scenario validate {filename}`; play it with `qualia new {id}`.
# Keys are checked (unknown keys are errors). Ending conditions use stat names plus
# mood, location, time and turn, e.g.  trust >= 60 and turn >= 8
"""

SECTIONS: dict[str, str] = {
    "id": "Identity: the id is how `qualia new` finds this file.",
    "setting": "The world, read by every agent each turn: keep it short.",
    "player": "Who the player is in this story.",
    "partner": "The character the player talks to. Appearance tags go into every image prompt.",
    "stats": "Bounded numbers the partner's replies move (default range 0..100).",
    "starting_mood": "Her mood at the start, and the scene before the first turn.",
    "endings": "The first ending whose condition holds ends the story.",
    "images": "Image style for every scene picture.",
    "lorebook": "Lore entries: inserted into the prompts when one of their keys comes up.",
    "card": "Character-card extras, kept so the card can be exported again.",
}


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)  # indent lists under their key


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    if len(value) > 70:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=">")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


def _short(value: Any) -> bool:
    if isinstance(value, str):
        return "\n" not in value and len(value) <= 60
    return isinstance(value, int | float | bool) or value is None


class _FlowList(list[Any]):
    pass


class _FlowDict(dict[str, Any]):
    pass


def _flat_dict(value: dict[str, Any]) -> bool:
    size = sum(len(str(k)) + len(str(v)) + 4 for k, v in value.items())
    return all(_short(v) for v in value.values()) and size <= 76


def _styled(value: Any) -> Any:
    """Mark what goes on one line: short flat lists, and lists of small flat records."""
    if isinstance(value, dict):
        if not value:
            return _FlowDict()
        return {k: _styled(v) for k, v in value.items()}
    if isinstance(value, list):
        if not value:
            return _FlowList()
        if all(_short(v) for v in value) and sum(len(str(v)) + 2 for v in value) <= 70:
            return _FlowList(value)
        if all(isinstance(v, dict) and _flat_dict(v) for v in value):
            return [_FlowDict(v) for v in value]
        return [_styled(v) for v in value]
    return value


def _seq(flow: bool):  # type: ignore[no-untyped-def]
    def represent(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.SequenceNode:
        return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flow)

    return represent


def _map(flow: bool):  # type: ignore[no-untyped-def]
    def represent(dumper: yaml.SafeDumper, value: dict[str, Any]) -> yaml.MappingNode:
        return dumper.represent_mapping("tag:yaml.org,2002:map", value.items(), flow_style=flow)

    return represent


_Dumper.add_representer(str, _str)
_Dumper.add_representer(list, _seq(False))
_Dumper.add_representer(dict, _map(False))
_Dumper.add_representer(_FlowList, _seq(True))
_Dumper.add_representer(_FlowDict, _map(True))


def _dump(data: dict[str, Any]) -> str:
    return yaml.dump(
        _styled(data), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=WIDTH
    )


def scenario_yaml(scenario: Scenario, *, filename: str = "FILE", origin: str = "") -> str:
    """The YAML text of ``scenario`` (``origin`` goes into the header, e.g. ', from a card')."""
    full = scenario.model_dump(mode="json")
    data = scenario.model_dump(mode="json", exclude_defaults=True)
    for key in _KEEP:
        data[key] = full[key]
    header = HEADER.format(title=scenario.title, origin=origin, filename=filename, id=scenario.id)
    parts = [header.rstrip("\n")]
    for key in Scenario.model_fields:
        if key not in data:
            continue
        comment = SECTIONS.get(key)
        if comment:
            parts.append(f"\n# {comment}")
        parts.append(_dump({key: data[key]}).rstrip("\n"))
    return "\n".join(parts) + "\n"


def write_scenario(scenario: Scenario, path: Path, *, origin: str = "") -> Path:
    """Write atomically (a temporary file renamed into place)."""
    text = scenario_yaml(scenario, filename=path.name, origin=origin)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as err:
        raise AuthoringError(str(path), f"cannot write: {err.strerror or err}") from None
    return path
