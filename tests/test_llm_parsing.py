"""The parse pipeline, schema_for, partial_field and complete_structured's corrective retry."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from qualia_cli.llm.base import Capabilities, Completion, Request, StreamDelta, Usage
from qualia_cli.llm.errors import ErrorCode, LLMError
from qualia_cli.llm.parsing import ParseError, extract_json_text, load_json, parse_as, partial_field
from qualia_cli.llm.structured import (
    StructuredOutputError,
    complete_structured,
    schema_for,
)


class Mood(StrEnum):
    CALM = "calm"
    ANGRY = "angry"


class Item(BaseModel):
    name: str = Field(max_length=20)
    qty: int = Field(ge=0, le=9)


class Reply(BaseModel):
    """The partner's answer."""

    mood: Mood
    line: str = Field(max_length=80, description="what she says")
    delta: int = Field(default=0, ge=-5, le=5)
    items: list[Item] = Field(default_factory=list, max_length=3)
    framing: Literal["close", "wide"] = "wide"
    note: str | None = None


GOOD = {"mood": "calm", "line": "Hello.", "delta": 1, "items": [], "framing": "wide", "note": None}
GOOD_TEXT = json.dumps(GOOD)


# -- extraction and repair -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD_TEXT, GOOD_TEXT),
        (f"```json\n{GOOD_TEXT}\n```", GOOD_TEXT),
        (f"Sure! Here it is:\n```JSON\n{GOOD_TEXT}\n```\nHope it helps.", GOOD_TEXT),
        (f"```\n{GOOD_TEXT}\n```", GOOD_TEXT),
        (f"```json\n{GOOD_TEXT}", GOOD_TEXT),  # unclosed fence (truncated answer)
        (f"`{GOOD_TEXT}`", GOOD_TEXT),
        (f"``{GOOD_TEXT}```", GOOD_TEXT),
        (f"json\n{GOOD_TEXT}", GOOD_TEXT),
        (f"The answer [see below] is {GOOD_TEXT} and more {{x}}", GOOD_TEXT),
        ('[{"a": 1}, {"b": "}"}] trailing', '[{"a": 1}, {"b": "}"}]'),
        ('{"a": "brace } in a string"} tail', '{"a": "brace } in a string"}'),
    ],
)
def test_extract_json_text(text: str, expected: str) -> None:
    assert extract_json_text(text) == expected


def test_clean_json_is_not_a_repair() -> None:
    assert load_json(f"```json\n{GOOD_TEXT}\n```") == (GOOD, False)


@pytest.mark.parametrize(
    "text",
    [
        '{"mood": "calm", "line": "Hello.", "delta": 1,}',  # trailing comma
        "{'mood': 'calm', 'line': 'Hello.', 'delta': 1}",  # single quotes
        '{"mood": "calm", "line": "Hello.", "delta": 1',  # truncated
        '{"mood": "calm", // hm\n"line": "Hello.", "delta": 1}',  # a comment
        '{mood: "calm", line: "Hello.", delta: 1}',  # bare keys
    ],
    ids=["trailing-comma", "single-quotes", "truncated", "comment", "bare-keys"],
)
def test_repairable_json(text: str) -> None:
    parsed = parse_as(text, Reply)
    assert parsed.value.mood is Mood.CALM and parsed.value.line == "Hello."
    assert parsed.value.delta == 1
    assert parsed.repaired


def test_truncated_inside_a_string_is_repaired() -> None:
    parsed = parse_as('{"mood": "angry", "line": "I told you no', Reply)
    assert parsed.repaired and parsed.value.line == "I told you no"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("I'd rather not answer.", "no JSON"),
        ('{"mood": "sleepy", "line": "hi"}', "mood"),
        ('{"mood": "calm", "line": "' + "x" * 100 + '"}', "line"),
        ('{"mood": "calm", "line": "hi", "delta": 50}', "delta"),
        ('{"line": "hi"}', "mood: Field required"),
    ],
)
def test_parse_errors_are_short(text: str, fragment: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_as(text, Reply)
    assert fragment in str(info.value)
    assert len(str(info.value)) < 400 and "\n" not in str(info.value)


# -- schema_for ------------------------------------------------------------------------------


def test_schema_for_is_self_contained_and_closed() -> None:
    schema = schema_for(Reply)
    text = json.dumps(schema)
    assert "$ref" not in text and "$defs" not in text and '"title"' not in text
    assert '"default"' not in text
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["mood", "line", "delta", "items", "framing", "note"]
    props = schema["properties"]
    assert props["mood"]["enum"] == ["calm", "angry"]
    assert props["line"]["maxLength"] == 80 and props["line"]["description"] == "what she says"
    assert (props["delta"]["minimum"], props["delta"]["maximum"]) == (-5, 5)
    assert props["items"]["maxItems"] == 3
    item = props["items"]["items"]
    assert item["additionalProperties"] is False and item["required"] == ["name", "qty"]
    assert props["framing"]["enum"] == ["close", "wide"]


def test_schema_for_rejects_recursive_models() -> None:
    class Node(BaseModel):
        children: list[Node] = []

    Node.model_rebuild()
    with pytest.raises(ValueError, match="recursive"):
        schema_for(Node)


def test_schema_for_keeps_dict_values_open() -> None:
    class Stats(BaseModel):
        deltas: dict[str, int]

    schema = schema_for(Stats)
    assert schema["properties"]["deltas"]["additionalProperties"] == {"type": "integer"}


# -- partial_field ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("", None),
        ("{", None),
        ('{"li', None),
        ('{"line"', None),
        ('{"line":', None),
        ('{"line": ', None),
        ('{"line": "', ""),
        ('{"line": "Hel', "Hel"),
        ('{"line": "Hello"', "Hello"),
        ('{"line": "Hello", "mood": "calm"}', "Hello"),
        ('{"mood": "calm", "line": "Hi', "Hi"),
        ('{"mood": "ca', None),
        ('{"mood": {"line": "nested"}, "line": "top', "top"),
        ('{"items": [{"line": "x"}], "line": "ok"', "ok"),
        ('{"items": [{"line": "x"', None),
        ('{"n": 12, "ok": true, "nil": null, "line": "go"}', "go"),
        ('{"n": 12', None),
        ('{"line": 5}', None),
        ('{"mood": "calm"}', None),
        ('{"line": "say \\"hi\\"', 'say "hi"'),
        ('{"line": "a\\nb\\tc\\\\d\\/e', "a\nb\tc\\d/e"),
        ('{"line": "cut \\', "cut "),
        ('{"line": "cut \\u00', "cut "),
        ('{"line": "caf\\u00e9', "café"),
        ('{"line": "\\ud83d\\ude00!', "😀!"),
        ('{"line": "half \\ud83d', "half "),
        ('{"line": "half \\ud83d\\ud', "half "),
        ('{"line": "lone \\ud83d x"}', "lone \ufffd x"),
        ('{"line": "bad \\uZZZZ ok"}', "bad \ufffdZZZZ ok"),
        ('{"a\\"line": "no", "line": "yes"}', "yes"),
        ('```json\n{"line": "fenced', "fenced"),
        ('Sure: {"line": "after prose', "after prose"),
        ('{ \n "line" \n : \n "spaced', "spaced"),
        ('{"line": "ünïcødé 日本', "ünïcødé 日本"),
    ],
)
def test_partial_field(prefix: str, expected: str | None) -> None:
    assert partial_field(prefix, "line") == expected


def test_partial_field_on_every_prefix_of_a_real_answer() -> None:
    answer = json.dumps({"mood": "calm", "line": 'She said "hé\\llo"\n😀', "delta": 2})
    final = json.loads(answer)["line"]
    previous = ""
    for end in range(len(answer) + 1):
        value = partial_field(answer[:end], "line")
        if value is None:
            assert previous == ""
            continue
        assert final.startswith(value) and value.startswith(previous)
        previous = value
    assert previous == final


# -- complete_structured with a fake provider ------------------------------------------------


@dataclass
class FakeProvider:
    answers: list[str | Completion]
    name: str = "fake"
    capabilities: Capabilities = field(default_factory=Capabilities)
    requests: list[Request] = field(default_factory=list)

    def _next(self, request: Request) -> Completion:
        self.requests.append(request)
        answer = self.answers[len(self.requests) - 1]
        if isinstance(answer, Completion):
            return answer
        usage = Usage(prompt_tokens=10, completion_tokens=5, cost_usd=0.001)
        return Completion(answer, usage, "stop", latency_ms=100.0, model="fake-model")

    async def complete(self, request: Request) -> Completion:
        return self._next(request)

    async def stream(self, request: Request) -> AsyncIterator[StreamDelta]:
        done = self._next(request)
        for i in range(0, len(done.text), 7):
            yield StreamDelta(text=done.text[i : i + 7])
        yield StreamDelta(final=done)

    async def aclose(self) -> None:
        return None


REQ = Request(messages=[{"role": "user", "content": "Hi"}], model="fake-model", max_tokens=50)


async def test_structured_first_try() -> None:
    provider = FakeProvider([f"```json\n{GOOD_TEXT}\n```"])
    result = await complete_structured(provider, REQ, Reply, model_label="fake/x")
    assert result.value == Reply.model_validate(GOOD)
    assert (result.retries, result.repairs, result.model) == (0, 0, "fake/x")
    assert result.finish_reason == "stop" and result.raw.startswith("```json")
    assert provider.requests[0].schema == schema_for(Reply)


async def test_structured_keeps_a_caller_schema() -> None:
    provider = FakeProvider([GOOD_TEXT])
    custom = {"type": "object"}
    request = Request(messages=REQ.messages, model="m", schema=custom)
    await complete_structured(provider, request, Reply, model_label="fake/x")
    assert provider.requests[0].schema is custom


async def test_structured_counts_a_repair() -> None:
    provider = FakeProvider(['{"mood": "calm", "line": "Hello.",}'])
    result = await complete_structured(provider, REQ, Reply, model_label="fake/x")
    assert result.repairs == 1 and result.retries == 0


async def test_corrective_retry_then_success() -> None:
    provider = FakeProvider(['{"mood": "sleepy", "line": "zzz"}', GOOD_TEXT])
    result = await complete_structured(provider, REQ, Reply, model_label="fake/x")
    assert result.retries == 1 and result.value.mood is Mood.CALM
    assert result.usage == Usage(20, 10, pytest.approx(0.002))
    assert result.latency_ms == pytest.approx(200.0)
    second = provider.requests[1].messages
    assert second[: len(REQ.messages)] == REQ.messages
    assert second[-2] == {"role": "assistant", "content": '{"mood": "sleepy", "line": "zzz"}'}
    assert second[-1]["role"] == "user" and "mood" in second[-1]["content"]
    assert "JSON" in second[-1]["content"] and len(second[-1]["content"]) < 500


async def test_truncated_answer_that_cannot_be_repaired_is_retried() -> None:
    cut = Completion('{"mood": "calm", "li', Usage(1, 50), "length", 10.0)
    provider = FakeProvider([cut, GOOD_TEXT])
    result = await complete_structured(provider, REQ, Reply, model_label="fake/x")
    assert result.retries == 1
    assert "cut off" in provider.requests[1].messages[-1]["content"]


async def test_double_failure_raises_structured_output_error() -> None:
    provider = FakeProvider(["not json at all", "still not json"])
    with pytest.raises(StructuredOutputError) as info:
        await complete_structured(provider, REQ, Reply, model_label="fake/x")
    error = info.value
    assert isinstance(error, LLMError) and error.code is ErrorCode.BAD_OUTPUT
    assert error.raw == "still not json"
    assert error.usage.completion_tokens == 10 and error.latency_ms == pytest.approx(200.0)
    assert str(error).startswith("fake/x: invalid structured output")
    assert len(provider.requests) == 2


async def test_streaming_reports_accumulated_text() -> None:
    provider = FakeProvider(['{"mood": "bad"}', GOOD_TEXT])
    seen: list[str] = []
    result = await complete_structured(
        provider, REQ, Reply, model_label="fake/x", on_text=seen.append
    )
    assert result.retries == 1
    assert seen[-1] == GOOD_TEXT
    assert '{"mood": "bad"}' in seen  # the first attempt was streamed too
    assert partial_field(seen[-2], "line") is not None


async def test_no_streaming_when_provider_cannot() -> None:
    provider = FakeProvider([GOOD_TEXT], capabilities=Capabilities(streaming=False))
    seen: list[str] = []
    result = await complete_structured(
        provider, REQ, Reply, model_label="fake/x", on_text=seen.append
    )
    assert result.value.line == "Hello." and seen == []


async def test_provider_errors_pass_through() -> None:
    class Broken(FakeProvider):
        async def complete(self, request: Request) -> Completion:
            raise LLMError(ErrorCode.TIMEOUT, "slow")

    with pytest.raises(LLMError) as info:
        await complete_structured(Broken([]), REQ, Reply, model_label="fake/x")
    assert info.value.code is ErrorCode.TIMEOUT
