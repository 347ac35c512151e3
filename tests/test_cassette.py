"""Cassettes at the provider boundary: record over real HTTP, replay with no network."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.openai_stub import StubServer

from qualia_cli.config import load_settings
from qualia_cli.engine import Engine
from qualia_cli.engine import events as ev
from qualia_cli.engine.turn.summary import TurnSummary
from qualia_cli.llm.base import Request
from qualia_cli.llm.cassette import Cassette, CassetteMiss, request_key
from qualia_cli.llm.cassette_file import dump_cassette, lint_cassette, load_cassette
from qualia_cli.scenario.file_errors import DocumentError

CANARY = "sk-canary-0123456789abcdefXYZ"
VOLATILE = {"turn_id", "wall_ms", "reply_ms", "agents"}


def varied_answers(body: dict[str, Any]) -> str:
    """Stub answers that depend on the request, so a replay must pick the right one."""
    from fakes import DEFAULTS

    fmt = (body.get("response_format") or {}).get("json_schema") or {}
    agent = fmt.get("name", "partner")
    answer = json.loads(json.dumps(DEFAULTS[agent]))
    if agent == "partner":
        said = body["messages"][-1]["content"].rsplit("Player:", 1)[-1].strip()
        answer["dialogue"] = f"You said '{said[:40]}' (seed {body.get('seed')})."
    return json.dumps(answer)


def stub_settings(stub: StubServer | None, key_env: str = "STUB_KEY") -> Any:
    base_url = stub.base_url if stub else "http://127.0.0.1:9/v1"  # nothing listens on 9
    return load_settings(
        models={"default": "stub/test-model"},
        endpoints={"stub": {"base_url": base_url, "api_key_env": key_env}},
    )


async def play(engine: Engine, lines: list[str]) -> list[tuple[TurnSummary, int]]:
    """(summary, number of streamed deltas) per turn of a fresh seeded session."""
    session = engine.new_session("fogbound_archive", seed=5)
    out = []
    for line in lines:
        summary = TurnSummary()
        deltas = 0
        async for event in session.turn(line):
            summary.add(event)
            deltas += isinstance(event, ev.PartnerDelta)
        out.append((summary, deltas))
    return out


def stable(summary: TurnSummary) -> dict[str, Any]:
    return {k: v for k, v in summary.to_dict().items() if k not in VOLATILE}


async def record(
    path: Path, lines: list[str], mode: str = "record", delay_s: float = 0.0
) -> list[tuple[TurnSummary, int]]:
    with StubServer(delay_s=delay_s, responder=varied_answers, api_key=CANARY) as stub:
        engine = Engine(stub_settings(stub), db_path=path.parent / f"{mode}.db")
        cassette = engine.use_cassette(path, mode)
        try:
            turns = await play(engine, lines)
        finally:
            cassette.save()
            await engine.aclose()
    assert stub.requests, "recording calls the real server"
    return turns


async def replay(path: Path, lines: list[str]) -> tuple[list[tuple[TurnSummary, int]], Cassette]:
    engine = Engine(stub_settings(None), db_path=path.parent / "replay.db")  # no server at all
    cassette = engine.use_cassette(path, "replay")
    try:
        return await play(engine, lines), cassette
    finally:
        await engine.aclose()


LINES = ["Hello, archivist.", "Which ledgers burned?"]


@pytest.mark.slow  # records then replays over HTTP (over a second)
async def test_record_then_replay_gives_byte_identical_turns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STUB_KEY", CANARY)
    path = tmp_path / "c.cassette.yaml"
    recorded = await record(path, LINES)
    monkeypatch.delenv("STUB_KEY")  # a replay needs no key
    replayed, cassette = await replay(path, LINES)
    assert [stable(s) for s, _ in replayed] == [stable(s) for s, _ in recorded]
    assert recorded[1][0].reply.startswith("You said 'Which ledgers burned?'")
    assert cassette.replayed == 8 and cassette.unused == 0 and not cassette.misses
    # streamed answers come back as a stream, in the recorded pieces
    data = load_cassette(path)
    partner = [i for i in data.interactions if i.agent == "partner"]
    assert all(i.response and i.response.chunks and len(i.response.chunks) > 3 for i in partner)
    assert [d for _, d in replayed] == [d for _, d in recorded]
    assert all(d > 3 for _, d in replayed)


@pytest.mark.slow  # replays recorded latencies (over a second)
async def test_a_replay_reports_the_recorded_latencies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Comparing models from cassettes (qualia eval) compares their recorded speed."""
    monkeypatch.setenv("STUB_KEY", CANARY)
    path = tmp_path / "slow.cassette.yaml"
    await record(path, LINES[:1], delay_s=0.25)
    recorded = {i.agent: i.response.latency_ms for i in load_cassette(path).interactions}
    replayed, _ = await replay(path, LINES[:1])
    summary = replayed[0][0]
    assert summary.wall_ms < 4 * 250, "the replay itself does not wait"
    latencies = {a["agent"]: a["latency_ms"] for a in summary.agents}
    assert latencies == {agent: round(ms, 1) for agent, ms in recorded.items()}
    assert all(ms >= 250 for ms in latencies.values())


async def test_no_secret_reaches_the_cassette(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STUB_KEY", CANARY)
    path = tmp_path / "c.cassette.yaml"
    # the player pastes the key, and the model repeats it: both are scrubbed
    await record(path, [f"my key is {CANARY}, keep it safe"])
    text = path.read_text()
    assert CANARY not in text and CANARY[10:] not in text
    assert "Authorization" not in text and "Bearer" not in text
    assert "my key is ***" in text
    assert lint_cassette(path) == []
    # the file still loads and replays (keys were computed before scrubbing)
    load_cassette(path)


def test_lint_finds_planted_leaks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", "or-canary-value-42")
    path = tmp_path / "leaky.cassette.yaml"
    path.write_text(
        "version: 1\ninteractions:\n- key: 0123456789abcdef0123\n  provider: stub\n"
        "  model: m\n  agent: partner\n  request:\n    messages:\n    - role: user\n"
        f"      content: 'token {CANARY} and or-canary-value-42'\n"
        "  response:\n    text: ok\n"
    )
    findings = lint_cassette(path)
    assert [(f.line, f.message) for f in findings] == [
        (10, "key-shaped string (scrub it or re-record)"),
        (10, "the value of $OPENROUTER_API_KEY"),
    ]
    assert str(findings[0]).startswith(f"{path}:10:")


async def test_a_changed_prompt_is_a_miss_that_says_what_differs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STUB_KEY", CANARY)
    path = tmp_path / "c.cassette.yaml"
    await record(path, LINES[:1])
    # the writer edits the scenario: her speech style is part of the partner's system prompt
    src = Path("scenarios/fogbound_archive.yaml").read_text()
    style = yaml.safe_load(src)["partner"]["speech_style"]
    assert style.startswith("Precise, clipped")
    user_dir = tmp_path / "home" / "data" / "scenarios"
    user_dir.mkdir(parents=True)
    edited = src.replace("Precise, clipped", "Rhymes everything. Precise, clipped", 1)
    (user_dir / "fogbound_archive.yaml").write_text(edited)
    monkeypatch.setenv("QUALIA_HOME", str(tmp_path / "home"))
    (replayed, cassette) = await replay(path, LINES[:1])
    summary = replayed[0][0]
    assert not summary.ok  # the partner's call was not recorded like this
    assert len(cassette.misses) == 1
    message = str(cassette.misses[0])
    assert "cassette miss" in message and "prompt or scenario changed" in message
    assert "system prompt changed" in message and "+ Speech: Rhymes everything." in message
    assert "--record" in message


@pytest.mark.slow  # records twice over HTTP (over a second)
async def test_record_missing_keeps_what_is_there_and_adds_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STUB_KEY", CANARY)
    path = tmp_path / "c.cassette.yaml"
    await record(path, LINES[:1])
    first = load_cassette(path).interactions
    await record(path, LINES, mode="record-missing")
    after = load_cassette(path).interactions
    assert len(first) == 4 and len(after) == 8
    assert [i.key for i in after[:4]] == [i.key for i in first]


def test_key_ignores_trailing_whitespace_but_not_the_seed() -> None:
    base = Request(
        messages=[{"role": "user", "content": "Hello\r\nthere  "}], model="m", seed=1, agent="x"
    )
    same = Request(
        messages=[{"role": "user", "content": "Hello\nthere"}], model="m", seed=1, agent="x"
    )
    other_seed = Request(messages=same.messages, model="m", seed=2, agent="x")
    other_schema = Request(messages=same.messages, model="m", seed=1, agent="x", schema={"a": 1})
    keys = {request_key("p", "m", r) for r in (base, same)}
    assert len(keys) == 1
    assert request_key("p", "m", other_seed) not in keys
    assert request_key("p", "m", other_schema) not in keys
    assert request_key("q", "m", base) not in keys


async def test_replay_serves_identical_keys_in_recorded_order_and_errors(tmp_path: Path) -> None:
    from fakes import ScriptedProvider

    from qualia_cli.llm.errors import ErrorCode, LLMError

    answers = iter(
        [
            "first",
            LLMError(ErrorCode.TIMEOUT, "no answer within 120s"),  # transient: not recorded
            "second",
            LLMError(ErrorCode.BAD_REQUEST, "context too long"),
        ]
    )

    def next_answer(_: Request) -> Any:
        return next(answers)

    real = ScriptedProvider(answers={"x": next_answer})
    path = tmp_path / "order.cassette.json"
    request = Request(messages=[{"role": "user", "content": "hi"}], model="m", agent="x")
    rec = Cassette.open(path, "record")
    provider = rec.wrap("fake", "m", lambda: real)
    got = [(await provider.complete(request)).text]
    with pytest.raises(LLMError, match="no answer"):
        await provider.complete(request)
    got.append((await provider.complete(request)).text)
    with pytest.raises(LLMError):
        await provider.complete(request)
    rec.save()
    assert got == ["first", "second"]
    assert rec.skipped == ["x call failed: no answer within 120s"]
    recorded = json.loads(path.read_text())["interactions"]
    assert len(recorded) == 3 and recorded[2]["error"]["code"] == "bad_request"

    play = Cassette.open(path, "replay")
    replayer = play.wrap("fake", "m", lambda: pytest.fail("replay must not build the provider"))
    assert (await replayer.complete(request)).text == "first"
    assert (await replayer.complete(request)).text == "second"
    with pytest.raises(LLMError, match="context too long") as err:
        await replayer.complete(request)
    assert err.value.code is ErrorCode.BAD_REQUEST
    other = Request(messages=[{"role": "user", "content": "bye"}], model="m", agent="x")
    with pytest.raises(CassetteMiss, match="user message changed"):
        await replayer.complete(other)


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_files_round_trip_awkward_text_exactly(tmp_path: Path, suffix: str) -> None:
    from qualia_cli.llm.cassette_file import (
        CassetteData,
        Interaction,
        RecordedRequest,
        RecordedResponse,
    )

    texts = [
        "  leading spaces\nand trailing  \n",
        "tabs\tinside\n\n\nblank lines",
        "unicode: é ✓ 漢字 🙂",
        '{"a": "quote \\" and : colon # hash"}',
        "- looks like a list\n? looks like a key",
        "",
        "ends with newline\n",
        "\x07bell and \x1b[31mescape",
    ]
    data = CassetteData(
        interactions=[
            Interaction(
                key=f"{i:032x}",
                provider="p",
                model="m",
                request=RecordedRequest(messages=[{"role": "user", "content": t}]),
                response=RecordedResponse(text=t, chunks=[len(t)] if t else None),
            )
            for i, t in enumerate(texts)
        ]
    )
    path = tmp_path / f"round{suffix}"
    dump_cassette(data, path)
    back = load_cassette(path)
    assert [i.response.text for i in back.interactions if i.response] == texts
    assert [i.request.messages[0].content for i in back.interactions] == texts


def test_a_broken_cassette_is_reported_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.cassette.yaml"
    path.write_text(
        "version: 1\ninteractions:\n- key: 0123456789abcdef0123\n  provider: p\n  model: m\n"
        "  request:\n    messages: []\n  response:\n    text: hello\n    chunks: [2, 2]\n"
    )
    with pytest.raises(DocumentError) as err:
        load_cassette(path)
    assert str(err.value) == (
        f"{path}:10:13: interactions[0].response.chunks: chunk sizes add up to 4, the text "
        "has 5 characters (edit the text and the chunks together, or re-record)"
    )
    path.write_text("version: 1\ninteractions:\n- key: nothex\n")
    with pytest.raises(DocumentError) as err:
        load_cassette(path)
    lines = [line.removeprefix(str(path)) for line in err.value.lines()]
    assert lines[0] == ":3:3: interactions[0]: missing required key 'provider'"
    assert any(line.startswith(":3:8: interactions[0].key: String should match") for line in lines)


def test_the_router_wraps_every_model_and_still_rejects_unknown_providers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from qualia_cli.llm.errors import LLMError

    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    monkeypatch.setattr("qualia_cli.llm.router.get_api_key", lambda name: None)  # no keyring
    from qualia_cli.llm.router import ModelRouter

    router = ModelRouter(load_settings())
    seen: list[tuple[str, str]] = []

    def wrapper(provider: str, model: str, create: Any) -> Any:
        seen.append((provider, model))
        return ("wrapped", provider, model)

    router.wrap_providers(wrapper)
    first, model = router.resolve("openrouter/vendor/model")  # no key needed to wrap
    again, _ = router.resolve("openrouter/vendor/model")
    assert first == again == ("wrapped", "openrouter", "vendor/model") and model == "vendor/model"
    assert seen == [("openrouter", "vendor/model")]  # wrapped once per model name
    with pytest.raises(LLMError, match="unknown model provider 'nope'"):
        router.resolve("nope/x")
    router.wrap_providers(None)
    with pytest.raises(LLMError, match="OPENROUTER_API_KEY is not set"):
        router.resolve("openrouter/vendor/model")


def test_a_miss_in_a_long_line_shows_the_changed_span_with_context() -> None:
    from qualia_cli.llm.cassette_file import (
        Interaction,
        RecordedMessage,
        RecordedRequest,
        RecordedResponse,
    )
    from qualia_cli.llm.cassette_miss import differences

    world = "World: " + "The archive is old and damp. " * 12
    old = world + "The keeper is Maren. " + "Fog rolls in from the harbour. " * 8
    new = old.replace("The keeper is Maren.", "The keeper is Ilse.")

    def req(text: str) -> RecordedRequest:
        return RecordedRequest(messages=[RecordedMessage(role="system", content=text)])

    recorded = Interaction(
        key="0" * 32,
        provider="p",
        model="m",
        agent="partner",
        request=req(old),
        response=RecordedResponse(text="{}"),
    )
    (diff,) = differences(recorded, "p", "m", req(new))
    minus = next(ln for ln in diff.splitlines() if ln.strip().startswith("- "))
    plus = next(ln for ln in diff.splitlines() if ln.strip().startswith("+ "))
    assert minus != plus  # the excerpt reaches the change (it used to stop before it)
    assert "keeper is Maren. Fog" in minus and "keeper is Ilse. Fog" in plus
    assert "damp." in minus and minus.strip().startswith("- …")  # context, cut marked
    assert len(plus) < 200 and f"column {len(world) + 15}" in diff
