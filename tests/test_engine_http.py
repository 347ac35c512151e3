"""A full turn over real HTTP to an OpenAI-compatible server on 127.0.0.1 (the stub server).

Also where secrets are checked: a canary API key must reach the server's Authorization header
and nowhere else — not the database, the log, the events or the turn's JSON.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.engine import Engines
from support.openai_stub import StubServer

from qualia_cli.config import load_settings
from qualia_cli.engine import Engine
from qualia_cli.engine.turn.summary import TurnSummary
from qualia_cli.logs import setup_logging
from qualia_cli.paths import get_paths

CANARY = "sk-canary-0123456789abcdefXYZ"


def stub_settings(stub: StubServer, key_env: str = "STUB_KEY") -> object:
    return load_settings(
        models={"default": "stub/test-model"},
        endpoints={"stub": {"base_url": stub.base_url, "api_key_env": key_env}},
    )


async def test_turn_over_http_overlaps_and_keeps_secrets(
    engines: Engines, qualia_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STUB_KEY", CANARY)
    setup_logging(get_paths().ensure().log_file, "DEBUG")
    with StubServer(delay_s=0.2, api_key=CANARY) as stub:
        engine = engines.keep(Engine(stub_settings(stub)))
        session = engine.new_session("fogbound_archive")
        summary = TurnSummary()
        events = []
        async for event in session.turn("Hello over HTTP"):
            summary.add(event)
            events.append(event.to_dict())
        await engine.aclose()
    assert summary.ok, summary.errors
    assert summary.reply == "Hello there, stranger. Come in out of the rain."
    assert len(summary.suggestions) == 3
    agents = {a: (start, end) for a, start, end in stub.spans}
    assert set(agents) == {"director", "partner", "visual", "strategist"}
    v, s = agents["visual"], agents["strategist"]
    assert min(v[1], s[1]) - max(v[0], s[0]) > 0.1, "visual and strategist overlap on the server"
    assert agents["partner"][0] >= agents["director"][1] - 0.01, "partner waits for the plan"
    assert all(r["model"] == "test-model" for r in stub.requests)

    paths = get_paths()
    log_text = paths.log_file.read_text()
    assert f"session={session.id}" in log_text and f"turn={summary.turn_id}" in log_text
    for blob in (
        *(p.read_bytes() for p in paths.data_dir.glob("qualia.db*")),
        log_text.encode(),
        json.dumps(events).encode(),
        json.dumps(summary.to_dict()).encode(),
    ):
        assert CANARY.encode() not in blob


async def test_wrong_key_fails_the_turn_cleanly(
    engines: Engines, qualia_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STUB_KEY", "sk-wrong-key-000000000000")
    with StubServer(delay_s=0.0, api_key=CANARY) as stub:
        engine = engines.keep(Engine(stub_settings(stub)))
        session = engine.new_session("fogbound_archive")
        head = session.record.head_message_id
        summary = TurnSummary()
        async for event in session.turn("Hello"):
            summary.add(event)
    assert not summary.ok and summary.failure
    partner_error = next(e for e in summary.errors if e["agent"] == "partner")
    assert partner_error["code"] == "auth" and partner_error["fatal"]
    assert "STUB_KEY" in partner_error["message"]
    assert "sk-wrong-key" not in partner_error["message"]
    session.refresh()
    assert session.record.head_message_id == head
