"""Issue 13.3/13.4: a failing server ends a call in bounded time and never half-saves a turn.

Real HTTP against tests/support/fault_server.py on 127.0.0.1."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from support.engine import Engines
from support.fault_server import FaultServer

from qualia_cli.config import load_settings
from qualia_cli.deadline import MARGIN_S, add_wait_listener, remove_wait_listener
from qualia_cli.engine import Engine
from qualia_cli.engine.turn.summary import TurnSummary
from qualia_cli.llm.base import Request
from qualia_cli.llm.errors import ErrorCode, LLMError
from qualia_cli.llm.openai_compat import OpenAICompatProvider

REQ = Request(messages=[{"role": "user", "content": "hi"}], model="m", max_tokens=50)


def provider(server: FaultServer, timeout_s: float) -> OpenAICompatProvider:
    return OpenAICompatProvider("fault", server.base_url, None, timeout_s=timeout_s)


async def _stream_text(p: OpenAICompatProvider) -> str:
    text = ""
    async for delta in p.stream(REQ):
        text += delta.text or ""
    return text


@pytest.mark.slow  # waits out a timeout (over a second)
@pytest.mark.parametrize("streaming", [False, True])
async def test_a_trickling_server_ends_within_the_timeout_plus_margin(streaming: bool) -> None:
    with FaultServer("trickle", interval_s=0.2) as server:
        p = provider(server, timeout_s=1.5)
        started = time.monotonic()
        with pytest.raises(LLMError) as info:
            await (_stream_text(p) if streaming else p.complete(REQ))
        took = time.monotonic() - started
        await p.aclose()
    assert info.value.code is ErrorCode.TIMEOUT
    assert took < 1.5 + MARGIN_S + 0.5, took
    assert "no complete answer" in str(info.value) and "\n" not in str(info.value)


async def test_a_long_retry_after_fails_at_once_instead_of_waiting() -> None:
    waits: list[tuple[float, str]] = []

    def listen(seconds: float, reason: str) -> None:
        waits.append((seconds, reason))

    add_wait_listener(listen)
    try:
        with FaultServer("retry_after", retry_after="3600") as server:
            p = provider(server, timeout_s=5)
            started = time.monotonic()
            with pytest.raises(LLMError) as info:
                await p.complete(REQ)
            await p.aclose()
    finally:
        remove_wait_listener(listen)
    assert info.value.code is ErrorCode.RATE_LIMITED
    assert time.monotonic() - started < 5 + MARGIN_S
    assert all(seconds < 5 + MARGIN_S for seconds, _ in waits)


@pytest.mark.slow  # waits out a 1 s Retry-After (over a second)
async def test_a_short_retry_after_is_waited_for_and_shown() -> None:
    waits: list[tuple[float, str]] = []
    listen = lambda seconds, reason: waits.append((seconds, reason))  # noqa: E731
    add_wait_listener(listen)
    try:
        with FaultServer("retry_after", retry_after="1", fail_times=1) as server:
            p = provider(server, timeout_s=10)
            done = await p.complete(REQ)
            await p.aclose()
    finally:
        remove_wait_listener(listen)
    assert done.text
    assert waits == [(1.0, "the rate limit")]


async def test_a_stream_cut_mid_json_is_an_error_not_an_answer() -> None:
    with FaultServer("cut") as server:
        p = provider(server, timeout_s=10)
        with pytest.raises(LLMError) as info:
            await _stream_text(p)
        await p.aclose()
    assert info.value.code is ErrorCode.SERVER
    assert "ended the stream before the answer was complete" in str(info.value)
    assert "is the server running" not in str(info.value)


async def test_a_connection_broken_mid_stream_is_not_called_unreachable() -> None:
    with FaultServer("broken") as server:
        p = provider(server, timeout_s=10)
        with pytest.raises(LLMError) as info:
            await _stream_text(p)
        await p.aclose()
    assert "cut the answer off mid-stream" in str(info.value)
    assert "is the server running" not in str(info.value)


def _settings(server: FaultServer) -> object:
    return load_settings(
        models={"default": "fault/m"},
        endpoints={"fault": {"base_url": server.base_url}},
        images={"enabled": False},
        request_timeout_s=10,
    )


async def test_a_cut_partner_stream_is_never_committed(engines: Engines, qualia_home: Path) -> None:
    with FaultServer("cut", only="partner") as server:
        engine = engines.keep(Engine(_settings(server)))
        session = engine.new_session("fogbound_archive")
        before = engine.store.dump_session(session.id)["messages"]
        summary = TurnSummary()
        async for event in session.turn("Hello there"):
            summary.add(event)
        after = engine.store.dump_session(session.id)["messages"]
        await engine.aclose()
    assert not summary.ok
    assert len(after) == len(before)  # nothing half-saved


async def test_wrong_shape_from_the_visual_director_is_its_failure(
    engines: Engines, qualia_home: Path
) -> None:
    from support.openai_stub import StubServer

    def answer(body: dict) -> str:  # type: ignore[type-arg]
        import json

        from support.openai_stub import _agent_of

        from tests.fakes import DEFAULTS

        agent = _agent_of(body)
        return json.dumps({"foo": 1} if agent == "visual" else DEFAULTS.get(agent, {}))

    with StubServer(delay_s=0.0, responder=answer) as stub:
        settings = load_settings(
            models={"default": "stub/m"},
            endpoints={"stub": {"base_url": stub.base_url}},
            images={"enabled": False},
        )
        engine = engines.keep(Engine(settings))
        session = engine.new_session("fogbound_archive")
        summary = TurnSummary()
        async for event in session.turn("Hello"):
            summary.add(event)
        await engine.aclose()
    assert summary.ok  # the turn stands: the Visual Director is optional
    visual = [e for e in summary.errors if e["agent"] == "visual"]
    assert visual and visual[0]["code"] == "bad_output", summary.errors
    assert "none of the expected fields" in visual[0]["message"]
