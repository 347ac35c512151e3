"""One translator of Pydantic errors for every user file: the same mistake reads the same way.

Each case writes a file with one mistake; `»` in the text marks where the error must point
(it is removed before writing). Every kind of file must give one line of the same shape,
`file:line:col: <field path>: message`, with the position of the offending node.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from qualia_cli.errors import QualiaError

MARK = "»"

SCENARIO = """\
id: tiny
title: Tiny Test
genre: test
setting:
  world: A small room.
  start_location: room
  locations: [room, hall]
player:
  role: a visitor
partner:
  name: Ada
  age: 30
  gender: woman
  occupation: host
  speech_style: plain
  appearance:
    description: A woman.
    tags: [1girl, adult woman]
  personality: [kind, warm]
stats:
  - name: trust
    start: 10
opening: You enter the room.
endings:
  - id: friends
    title: Friends
    condition: trust >= 80
"""

CONFIG = """\
models:
  default: local/smollm2
temperature: 0.5
endpoints:
  lms:
    base_url: http://127.0.0.1:1234/v1
agents:
  partner:
    max_tokens: 200
"""

SCRIPT = """\
scenario: fogbound_archive
seed: 3
tests:
  a:
    turns:
      - say: hello
      - say: there
"""

EVAL = """\
name: smoke
concurrency: 2
model_sets:
  - label: small
    model: local/smollm2
players:
  - script: a.play.yaml
seeds: [1, 2]
"""

CASSETTE = """\
version: 1
interactions:
- key: 5d0c5d0c5d0c5d0c
  provider: local
  model: m
  request:
    messages:
    - role: system
      content: be kind
    - role: user
      content: hi
  response:
    text: ok
    latency_ms: 12.5
"""

SIDECAR = """\
name: W
kind: scene
placeholders:
  - find: "%mood%"
    replace: calm
  - find: "%light%"
    replace: dim
"""


def edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


# (file kind, mistake, the file's text with », the field path, how the message starts)
CASES: list[tuple[str, str, str, str, str]] = [
    # an unknown key: at the key, under its mapping's path
    ("scenario", "unknown", edit(SCENARIO, "  gender", "  »colour: red\n  gender"), "partner",
     "unknown key 'colour' (allowed: name, age, "),
    ("config", "unknown", edit(CONFIG, "temperature", "  »partnr: x/y\ntemperature"), "models",
     "unknown setting 'partnr' (allowed: default, director, "),
    ("script", "unknown", edit(SCRIPT, "    turns", "    »turnz: 1\n    turns"), "tests.a",
     "unknown key 'turnz' (allowed: description, state, "),
    ("eval", "unknown", edit(EVAL, "    model:", "    »colour: red\n    model:"),
     "model_sets[0]", "unknown key 'colour' (allowed: label, model, "),
    ("cassette", "unknown", edit(CASSETTE, "  model: m", "  model: m\n  »colour: red"),
     "interactions[0]", "unknown key 'colour' (allowed: key, provider, "),
    ("workflow", "unknown", edit(SIDECAR, "    replace: calm", "    replace: calm\n    »colour: x"),
     "placeholders[0]", "unknown key 'colour' (allowed: find, replace)"),
    # a value of the wrong type: at the value
    ("scenario", "type", edit(SCENARIO, "age: 30", "age: »old"), "partner.age",
     "Input should be a valid integer"),
    ("config", "type", edit(CONFIG, "temperature: 0.5", "temperature: »hot"), "temperature",
     "Input should be a valid number"),
    ("script", "type", edit(SCRIPT, "seed: 3", "seed: »lots"), "seed",
     "Input should be a valid integer"),
    ("eval", "type", edit(EVAL, "concurrency: 2", "concurrency: »many"), "concurrency",
     "Input should be a valid integer"),
    ("cassette", "type", edit(CASSETTE, "latency_ms: 12.5", "latency_ms: »slow"),
     "interactions[0].response.latency_ms", "Input should be a valid number"),
    ("workflow", "type", edit(SIDECAR, "name: W", "name: »[a, b]"), "name",
     "expected text, found a list"),
    # a required key left out: at the mapping that lacks it
    ("scenario", "missing", edit(SCENARIO, "  name: Ada\n  age: 30", "  »age: 30"), "partner",
     "missing required key 'name'"),
    ("config", "missing", edit(CONFIG, "    base_url: http://127.0.0.1:1234/v1",
                               "    »api_key_env: LMS_KEY"),
     "endpoints.lms", "missing required setting 'base_url'"),
    ("script", "missing", "»" + edit(SCRIPT, "scenario: fogbound_archive\n", ""), "",
     "missing required key 'scenario'"),
    ("eval", "missing", edit(EVAL, "  - label: small\n    model:", "  - »model:"),
     "model_sets[0]", "missing required key 'label'"),
    ("cassette", "missing", edit(CASSETTE, "- key: 5d0c5d0c5d0c5d0c\n  provider: local\n",
                                 "- »key: 5d0c5d0c5d0c5d0c\n"),
     "interactions[0]", "missing required key 'provider'"),
    ("workflow", "missing", edit(SIDECAR, '  - find: "%light%"\n    replace: dim',
                                 "  - »replace: dim"),
     "placeholders[1]", "missing required key 'find'"),
    # a bad value in the second item of a list (a map entry in config.yaml, which has no list)
    ("scenario", "item", edit(SCENARIO, "[kind, warm]", "[kind, »7]"),
     "partner.personality[1]", "expected text, found a number (7)"),
    ("config", "item", edit(CONFIG, "max_tokens: 200", "max_tokens: »lots"),
     "agents.partner.max_tokens", "Input should be a valid integer"),
    ("script", "item", edit(SCRIPT, "      - say: there", "      - »5"), "tests.a.turns[1]",
     "expected a mapping of keys, found a number (5)"),
    ("eval", "item", edit(EVAL, "[1, 2]", "[1, »two]"), "seeds[1]",
     "Input should be a valid integer"),
    ("cassette", "item", edit(CASSETTE, "role: user", "role: »robot"),
     "interactions[0].request.messages[1].role", "Input should be 'system', 'user' or"),
    ("workflow", "item", edit(SIDECAR, '"%light%"', '»"bad find!"'), "placeholders[1].find",
     "String should match pattern"),
]  # fmt: skip


def _scenario(tmp: Path, text: str) -> tuple[Path, Callable[[], object]]:
    from qualia_cli.scenario.loader import load_scenario

    path = tmp / "tiny.yaml"
    path.write_text(text)
    return path, lambda: load_scenario(path)


def _config(tmp: Path, text: str) -> tuple[Path, Callable[[], object]]:
    from qualia_cli.config import load_settings
    from qualia_cli.paths import get_paths

    path = get_paths().config_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path, load_settings


def _script(tmp: Path, text: str) -> tuple[Path, Callable[[], object]]:
    from qualia_cli.headless.loader import load_playthrough

    path = tmp / "a.play.yaml"
    path.write_text(text)
    return path, lambda: load_playthrough(path)


def _eval(tmp: Path, text: str) -> tuple[Path, Callable[[], object]]:
    from qualia_cli.headless.eval.spec import load_eval

    path = tmp / "smoke.eval.yaml"
    path.write_text(text)
    return path, lambda: load_eval(path)


def _cassette(tmp: Path, text: str) -> tuple[Path, Callable[[], object]]:
    from qualia_cli.llm.cassette_file import load_cassette

    path = tmp / "c.yaml"
    path.write_text(text)
    return path, lambda: load_cassette(path)


def _workflow(tmp: Path, text: str) -> tuple[Path, Callable[[], object]]:
    from qualia_cli.images.workflows import load_workflow

    graph = load_workflow("sd15_txt2img").graph
    (tmp / "w.json").write_text(json.dumps(graph, indent=2))
    path = tmp / "w.yaml"
    path.write_text(text)
    return path, lambda: load_workflow(tmp / "w.json")


LOADERS = {
    "scenario": _scenario,
    "config": _config,
    "script": _script,
    "eval": _eval,
    "cassette": _cassette,
    "workflow": _workflow,
}
LINE = re.compile(r"(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?:(?P<where>[^\s:]+): )?(?P<msg>.+)")


def marked(text: str) -> tuple[str, tuple[int, int]]:
    """The text without its mark, and the 1-based line and column of the mark."""
    index = text.index(MARK)
    before = text[:index]
    line, col = before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1
    return text.replace(MARK, "", 1), (line, col)


def error_line(tmp: Path, kind: str, text: str) -> tuple[Path, str]:
    path, load = LOADERS[kind](tmp, text)
    with pytest.raises(QualiaError) as info:
        load()
    return path, str(info.value)


@pytest.mark.parametrize(
    ("kind", "mistake", "text", "where", "start"),
    CASES,
    ids=[f"{c[0]}-{c[1]}" for c in CASES],
)
def test_the_same_mistake_reads_the_same_in_every_kind_of_file(
    tmp_path: Path, kind: str, mistake: str, text: str, where: str, start: str
) -> None:
    clean, (line, col) = marked(text)
    path, got = error_line(tmp_path, kind, clean)
    assert "\n" not in got
    m = LINE.fullmatch(got)
    assert m, got
    assert (m["path"], int(m["line"]), int(m["col"])) == (str(path), line, col), got
    assert (m["where"] or "") == where, got
    assert m["msg"].startswith(start), got


def test_every_kind_and_every_mistake_is_covered() -> None:
    kinds = {c[0] for c in CASES}
    assert kinds == set(LOADERS)
    for kind in kinds:
        assert sorted(c[1] for c in CASES if c[0] == kind) == ["item", "missing", "type", "unknown"]


@pytest.mark.parametrize("mistake", ["unknown", "type", "missing", "item"])
def test_a_json_cassette_points_at_the_same_node_as_the_yaml_one(
    tmp_path: Path, mistake: str
) -> None:
    """JSON is located too (through the YAML node loader, JSON being YAML)."""
    text = next(c[2] for c in CASES if c[:2] == ("cassette", mistake))
    clean, _ = marked(text)
    data = yaml.safe_load(clean)
    wanted = yaml_error = error_line(tmp_path, "cassette", clean)[1]
    path = tmp_path / "c.json"
    path.write_text(json.dumps(data, indent=2))
    from qualia_cli.llm.cassette_file import load_cassette

    with pytest.raises(QualiaError) as info:
        load_cassette(path)
    got = LINE.fullmatch(str(info.value))
    want = LINE.fullmatch(wanted)
    assert got and want, (str(info.value), yaml_error)
    assert (got["where"], got["msg"]) == (want["where"], want["msg"])
    line, col = int(got["line"]), int(got["col"])
    at = path.read_text().splitlines()[line - 1][col - 1 :]
    key = (want["msg"].split("'")[1]) if mistake in ("unknown",) else None
    if key:
        assert at.startswith(f'"{key}"'), at  # the unknown key itself
    else:
        assert line > 1, got.group(0)


def test_a_json_card_names_the_line_of_its_bad_field(tmp_path: Path) -> None:
    from qualia_cli.authoring.cards.read import read_card

    card = {"spec": "chara_card_v2", "data": {"description": "x", "name": ""}}
    path = tmp_path / "ada.json"
    path.write_text(json.dumps(card, indent=2))
    with pytest.raises(QualiaError) as info:
        read_card(path)
    got = str(info.value)
    line = path.read_text().splitlines().index('    "name": ""') + 1
    assert got.startswith(f"{path}:{line}:13: data.name: String should have at least 1"), got


def test_json_the_yaml_loader_refuses_is_still_named_by_its_field_path(tmp_path: Path) -> None:
    """A duplicate key is valid JSON (the last wins) but the position loader refuses it: the
    line then names the file and the field path, without a made-up position."""
    from qualia_cli.authoring.cards.read import read_card

    path = tmp_path / "dup.json"
    path.write_text('{"spec": "chara_card_v2", "data": {"name": "Ada", "name": ""}}')
    with pytest.raises(QualiaError) as info:
        read_card(path)
    assert str(info.value) == f"{path}: data.name: String should have at least 1 character"
