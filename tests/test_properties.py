"""Issue 13: property tests (hypothesis) on every reader of strangers' data.

Each property runs 1,000 examples with cheap strategies (100 in the quick loop: the hypothesis
profile in tests/conftest.py): whatever the input, a reader either returns its value or raises
its own one-line error — never another exception, never a hang. Together they take a few
seconds (measured: see the issue note)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from qualia_cli.authoring.cards.errors import CardError
from qualia_cli.authoring.cards.read import parse_card_bytes
from qualia_cli.images.errors import WorkflowError
from qualia_cli.images.workflows import load_workflow
from qualia_cli.llm.cassette_file import load_cassette
from qualia_cli.llm.parsing import ParseError, parse_as
from qualia_cli.scenario import ScenarioError, compile_condition, load_scenario
from qualia_cli.scenario.condition_tokens import ConditionError
from tests.test_scenario_loader import MINIMAL

MANY = settings(  # max_examples: the profile (full: 1,000; quick: 100)
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    database=None,
)
_DIR = Path(tempfile.mkdtemp(prefix="qualia-props-"))

# Pieces that hit the readers' edges: YAML/JSON syntax, tags, aliases, huge numbers, escapes.
_YAML_BITS = st.sampled_from(
    [
        "a: 1\n",
        "- x\n",
        "{",
        "}",
        "[",
        "]",
        "&a ",
        "*a ",
        "!!int ",
        "!!python/name:os ",
        "<<: *a\n",
        "'",
        '"',
        "\\u0000",
        "\x00",
        "\x1b",
        "9" * 40,
        "---\n",
        ": ",
        "\n  ",
        "stats: [\n",
        "opening: |\n  x\n",
        "~",
        "-1e999",
        ".nan",
        "yes",
        "\t",
        "#",
        "%YAML 1.1\n",
    ]
)
_JSON_BITS = st.sampled_from(
    [
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        '"a"',
        '"%seed%"',
        '"%seed"',
        "NaN",
        "Infinity",
        "1e999",
        "9" * 40,
        "-",
        "true",
        "null",
        '"class_type"',
        '"inputs"',
        '"\\ud800"',
        " ",
        "\n",
    ]
)


def _yaml_text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.lists(_YAML_BITS, max_size=12).map("".join),
        st.text(max_size=60),
        st.lists(_YAML_BITS, max_size=6).map(lambda bits: MINIMAL + "".join(bits)),
    )


def _json_text() -> st.SearchStrategy[str]:
    return st.one_of(st.lists(_JSON_BITS, max_size=16).map("".join), st.text(max_size=60))


def _file(name: str, data: str | bytes) -> Path:
    path = _DIR / name
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8", errors="surrogatepass")
    return path


def _one_line(err: Exception) -> None:
    assert "\n" not in str(err), str(err)


class _Answer(BaseModel):
    dialogue: str = ""
    mood: str = "calm"


@MANY
@given(st.one_of(_json_text(), st.text(max_size=80)))
def test_parse_and_repair_never_crash(text: str) -> None:
    try:
        parse_as(text, _Answer)
    except ParseError as err:
        assert str(err)


@MANY
@given(_yaml_text())
def test_scenario_loader_gives_a_located_line_or_a_scenario(text: str) -> None:
    try:
        load_scenario(_file("s.yaml", text))
    except ScenarioError as err:
        _one_line(err)


@MANY
@given(
    st.one_of(
        st.text(max_size=30),
        st.lists(
            st.sampled_from(
                [
                    "trust",
                    ">=",
                    "<",
                    "==",
                    "and",
                    "or",
                    "not",
                    "(",
                    ")",
                    "²",
                    "3",
                    "9" * 30,
                    "-",
                    "flag",
                    "'x'",
                    " ",
                    "in",
                    "mood",
                ]
            ),
            max_size=10,
        ).map(" ".join),
    )
)
def test_condition_parser_never_crashes(text: str) -> None:
    try:
        compile_condition(text, ["trust", "flag"])
    except ConditionError as err:
        _one_line(err)


@MANY
@given(
    st.one_of(
        _json_text().map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.binary(max_size=64),
        st.binary(max_size=32).map(lambda b: b"\x89PNG\r\n\x1a\n" + b),
        st.binary(max_size=32).map(lambda b: b"PK\x03\x04" + b),
        _json_text().map(lambda t: ('{"name": "A", "description": ' + t + "}").encode()),
    )
)
def test_card_readers_never_crash(raw: bytes) -> None:
    try:
        parse_card_bytes(raw, "card")
    except CardError as err:
        _one_line(err)


_CASSETTE = (
    "version: 1\ninteractions:\n- key: 0123456789abcdef0123\n  provider: p\n  model: m\n"
    "  request:\n    messages: []\n  response:\n    text: {}\n"
)


@MANY
@given(st.one_of(_yaml_text(), _yaml_text().map(lambda t: _CASSETTE.format(json.dumps(t)))))
def test_cassette_loader_never_crashes(text: str) -> None:
    try:
        load_cassette(_file("c.cassette.yaml", text))
    except ScenarioError as err:
        _one_line(err)


@MANY
@given(
    st.one_of(
        _json_text(),
        _json_text().map(
            lambda t: '{"3": {"class_type": "KSampler", "inputs": {"seed": ' + t + "}}}"
        ),
    )
)
def test_workflow_loading_never_crashes(text: str) -> None:
    try:
        load_workflow(_file("w.json", text))
    except WorkflowError as err:
        _one_line(err)
