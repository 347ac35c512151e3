"""Conformance: the client against stand-ins that behave as each provider's docs say.

Documented behaviours reproduced (tests/support/provider_standins.py), one test or more each:

OpenRouter
- model list `GET /api/v1/models` with `context_length`, `pricing` (USD per token, strings),
  `supported_parameters` (`structured_outputs`, `response_format`, `reasoning`):
  https://openrouter.ai/docs/api-reference/list-available-models
- `provider.require_parameters` routes only to providers that honour every parameter; when
  none can: 404 "No endpoints found that can handle the requested parameters":
  https://openrouter.ai/docs/features/provider-routing#requiring-providers-to-support-all-parameters
- structured outputs `response_format` json_schema (strict) / json_object:
  https://openrouter.ai/docs/structured-outputs
- reasoning in the `reasoning` field of the message / delta; `reasoning.max_tokens`;
  reasoning tokens count as output tokens: https://openrouter.ai/docs/use-cases/reasoning-tokens
- `usage: {include: true}` → `usage.cost` in credits (USD): https://openrouter.ai/docs/use-cases/usage-accounting
- errors: HTTP status = error.code for invalid requests and 402 out of credits; once the
  model started, status 200 and the error arrives as an SSE data event with an `error` field;
  429 may carry Retry-After: https://openrouter.ai/docs/api/errors
- SSE comments `: OPENROUTER PROCESSING` are to be ignored: https://openrouter.ai/docs/api-reference/streaming
Ollama
- OpenAI-compatible /v1/chat/completions with `response_format` (JSON mode); servers before
  0.5 did not understand json_schema and answered unconstrained; unknown model → 404
  "model … not found, try pulling it first": https://docs.ollama.com/api/openai-compatibility
llama.cpp server
- `response_format` json_schema / json_object become a grammar; `--reasoning-format none`
  leaves `<think>…</think>` in `content`:
  https://github.com/ggml-org/llama.cpp/blob/master/tools/server/README.md
vLLM
- `reasoning_content` next to `content` in messages and deltas:
  https://docs.vllm.ai/en/v0.8.3/features/reasoning_outputs.html
- unknown model → 404 `{"object": "error", "message": "The model `x` does not exist."}`:
  https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, Field
from support.engine import Engines
from support.provider_standins import (
    PROSE,
    StandIn,
    llamacpp,
    no_structured_output,
    ollama,
    openrouter,
    openrouter_model,
    vllm,
)

from qualia_cli.config import load_settings
from qualia_cli.llm.base import Request
from qualia_cli.llm.capabilities import CATALOG_FILE, LEARNED_FILE, CapabilityRegistry
from qualia_cli.llm.errors import ErrorCode, LLMError
from qualia_cli.llm.openai_compat import OpenAICompatProvider
from qualia_cli.llm.structured import complete_structured
from qualia_cli.paths import get_paths

KEY = "sk-or-v1-canary-5f4e3d2c1b0a99887766"


class Reply(BaseModel):
    dialogue: str = Field(max_length=80)
    mood: str = Field(max_length=12)


REQ = Request(
    messages=[{"role": "system", "content": "You are Mira."}, {"role": "user", "content": "Hi"}],
    model="vendor/model",
    max_tokens=120,
    seed=7,
    agent="partner",
    schema_name="partner",
)


def provider(
    server: StandIn,
    *,
    name: str = "openrouter",
    openrouter_kind: bool = False,
    registry: CapabilityRegistry | None = None,
    sleeps: list[float] | None = None,
) -> OpenAICompatProvider:
    p = OpenAICompatProvider(
        name,
        server.base_url,
        KEY,
        timeout_s=10,
        max_retries=2,
        registry=registry or CapabilityRegistry(),
        openrouter=openrouter_kind,
        reasoning_tokens=500,
    )
    record = sleeps if sleeps is not None else []

    async def fake_sleep(seconds: float) -> None:
        record.append(seconds)

    p.sleep = fake_sleep
    return p


async def structured(p: OpenAICompatProvider, *, stream: bool = False) -> Any:
    seen: list[str] = []
    result = await complete_structured(
        p, REQ, Reply, model_label="x/y", on_text=seen.append if stream else None
    )
    return result, seen


# -- OpenRouter ---------------------------------------------------------------------------


async def test_openrouter_schema_mode_requires_parameters_and_reports_cost() -> None:
    with StandIn(openrouter(reasoning=None), api_key=KEY) as server:
        p = provider(server, openrouter_kind=True)
        result, _ = await structured(p)
        await p.aclose()
    body = server.requests[-1]
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["strict"] is True
    assert body["provider"] == {"require_parameters": True}
    assert body["usage"] == {"include": True}
    assert "seed" not in body  # not in the model's supported_parameters
    assert result.mode == "json_schema" and result.value.dialogue
    assert result.usage.cost_usd is not None and result.usage.cost_usd > 0
    # the model list was fetched once (GET), and cached with its fetch time
    assert server.gets == ["/v1/models"]
    cached = json.loads((get_paths().cache_dir / CATALOG_FILE).read_text())
    assert cached["data"][0]["id"] == "vendor/model" and cached["fetched_at"] <= time.time()


async def test_openrouter_cost_falls_back_to_list_price_times_tokens() -> None:
    model = openrouter_model("vendor/model", prompt="0.000001", completion="0.000002")
    with StandIn(openrouter(reasoning=None, usage_cost=False, models=[model])) as server:
        p = provider(server, openrouter_kind=True)
        done = await p.complete(REQ)
        await p.aclose()
    u = done.usage
    assert u.cost_usd == pytest.approx(u.prompt_tokens * 1e-6 + u.completion_tokens * 2e-6)


async def test_model_list_cache_ttl_and_offline_fallback() -> None:
    with StandIn(openrouter(reasoning=None)) as server:
        reg = CapabilityRegistry()
        await reg.arefresh_if_stale(server.base_url)
        assert reg.caps("openrouter/vendor/model").context_length == 131072
        again = CapabilityRegistry()  # a new run within the TTL: no request
        await again.arefresh_if_stale(server.base_url)
        assert server.gets == ["/v1/models"]
    # offline with a stale cache: the last list answers, nothing crashes
    stale = CapabilityRegistry(ttl_s=0.0)
    await stale.arefresh_if_stale(server.base_url)  # the server is gone
    caps = stale.caps("openrouter/vendor/model")
    assert caps.known and caps.best_mode == "json_schema"
    assert caps.price_per_million() == (0.15, 0.6)
    unknown = stale.caps("openrouter/nobody/else")
    assert not unknown.known and unknown.context_length is None


async def test_openrouter_reasoning_kept_out_and_budgeted() -> None:
    model = openrouter_model(
        "vendor/model", params=("response_format", "structured_outputs", "reasoning")
    )
    with StandIn(openrouter(models=[model])) as server:
        p = provider(server, openrouter_kind=True)
        result, seen = await structured(p, stream=True)
        await p.aclose()
    body = server.requests[-1]
    assert body["max_tokens"] == REQ.max_tokens + 500  # room for the thinking
    assert body["reasoning"] == {"max_tokens": 500}
    assert "answer warmly" in result.reasoning
    assert all("answer warmly" not in s for s in seen)
    assert "answer warmly" not in result.raw


async def test_openrouter_error_chunk_mid_stream_is_one_line() -> None:
    with StandIn(openrouter(reasoning=None)) as server:
        server.script = [("stream_error", "Provider returned error: upstream disconnected")]
        p = provider(server, openrouter_kind=True)
        with pytest.raises(LLMError) as err:
            async for _ in p.stream(REQ):
                pass
        await p.aclose()
    assert err.value.code == ErrorCode.SERVER
    assert "upstream disconnected" in str(err.value) and "\n" not in str(err.value)


async def test_openrouter_402_out_of_credits() -> None:
    body = {"error": {"code": 402, "message": "Insufficient credits. Add more using /credits"}}
    with StandIn(openrouter(reasoning=None)) as server:
        server.script = [("status", 402, body, {})]
        p = provider(server, openrouter_kind=True)
        with pytest.raises(LLMError) as err:
            await p.complete(REQ)
        await p.aclose()
    assert err.value.code == ErrorCode.CREDITS
    assert "402" in str(err.value) and "credits" in str(err.value).lower()
    assert len(server.requests) == 1  # not retried


@pytest.mark.parametrize("retry_after", ["3", None])
async def test_openrouter_429_with_and_without_retry_after(retry_after: str | None) -> None:
    body = {"error": {"code": 429, "message": "Rate limit exceeded: free-models-per-min"}}
    headers = {"Retry-After": retry_after} if retry_after else {}
    sleeps: list[float] = []
    with StandIn(openrouter(reasoning=None)) as server:
        server.script = [("status", 429, body, headers)] * 3
        p = provider(server, openrouter_kind=True, sleeps=sleeps)
        with pytest.raises(LLMError) as err:
            await p.complete(REQ)
        await p.aclose()
    assert err.value.code == ErrorCode.RATE_LIMITED
    assert "after 2 retries" in str(err.value)
    if retry_after:
        assert sleeps == [3.0, 3.0]
    else:
        assert len(sleeps) == 2 and all(0 < s < 3 for s in sleeps)


async def test_openrouter_model_not_found() -> None:
    with StandIn(openrouter(reasoning=None, known_models={"vendor/model"})) as server:
        p = provider(server, openrouter_kind=True)
        with pytest.raises(LLMError) as err:
            await p.complete(Request(messages=REQ.messages, model="vendor/nope"))
        await p.aclose()
    assert err.value.code == ErrorCode.NOT_FOUND and "vendor/nope" in str(err.value)


async def test_openrouter_no_endpoint_for_schema_falls_back_and_remembers() -> None:
    model = openrouter_model("vendor/model", params=("response_format",))
    dialect = openrouter(reasoning=None, json_schema="reject", models=[model])
    with StandIn(dialect) as server:
        reg = CapabilityRegistry()
        # the list says json_object only, but a stale override says json_schema: try, learn
        from qualia_cli.config import ModelOverride

        reg.overrides = {"openrouter/vendor/model": ModelOverride(json_schema=True)}
        p = provider(server, openrouter_kind=True, registry=reg)
        result, _ = await structured(p)
        await p.aclose()
    assert [(b.get("response_format") or {}).get("type") for b in server.requests] == [
        "json_schema",
        "json_object",
    ]
    assert result.mode == "json_object" and result.value.mood
    learned = json.loads((get_paths().cache_dir / LEARNED_FILE).read_text())
    assert learned["openrouter/vendor/model"]["json_schema"] is False


# -- Ollama -------------------------------------------------------------------------------


async def test_ollama_ignoring_json_schema_falls_back_to_json_object() -> None:
    with StandIn(ollama()) as server:
        reg = CapabilityRegistry()
        p = provider(server, name="ollama", registry=reg)
        result, _ = await structured(p)
        second, _ = await structured(p)
        await p.aclose()
    kinds = [(b.get("response_format") or {}).get("type") for b in server.requests]
    # free text under json_schema → the corrective retry goes out as json_object + schema
    assert kinds == ["json_schema", "json_object", "json_object"]
    assert result.retries == 1 and result.mode == "json_object"
    assert second.retries == 0 and reg.caps("ollama/vendor/model").json_schema is False
    assert PROSE not in result.raw


async def test_ollama_model_not_found() -> None:
    with StandIn(ollama(known_models={"llama3.2"})) as server:
        p = provider(server, name="ollama")
        with pytest.raises(LLMError) as err:
            await p.complete(Request(messages=REQ.messages, model="llama9"))
        await p.aclose()
    assert err.value.code == ErrorCode.NOT_FOUND
    assert "try pulling it first" in str(err.value)


# -- llama.cpp server ---------------------------------------------------------------------


@pytest.mark.parametrize("stream", [True, False])
async def test_llamacpp_inline_think_never_reaches_dialogue_or_parser(stream: bool) -> None:
    with StandIn(llamacpp()) as server:
        p = provider(server, name="llamacpp")
        result, seen = await structured(p, stream=stream)
        await p.aclose()
    assert result.retries == 0 and result.repairs == 0  # the parser saw clean JSON
    assert "<think>" not in result.raw and "answer warmly" in result.reasoning
    assert all("think>" not in s and "answer warmly" not in s for s in seen)
    if stream:
        assert seen and seen[-1] == result.raw


# -- vLLM ---------------------------------------------------------------------------------


async def test_vllm_reasoning_content_is_learned_and_budgeted() -> None:
    with StandIn(vllm()) as server:
        reg = CapabilityRegistry()
        p = provider(server, name="vllm", registry=reg)
        first, _ = await structured(p, stream=True)
        await structured(p)
        await p.aclose()
    assert "answer warmly" in first.reasoning and "answer warmly" not in first.raw
    assert reg.caps("vllm/vendor/model").reasoning
    # the second call leaves room for the thinking it now expects
    assert [b["max_tokens"] for b in server.requests] == [120, 620]
    assert "reasoning" not in server.requests[-1]  # an OpenRouter-only parameter


async def test_vllm_model_not_found() -> None:
    with StandIn(vllm(known_models={"Qwen/Qwen3-8B"})) as server:
        p = provider(server, name="vllm")
        with pytest.raises(LLMError) as err:
            await p.complete(Request(messages=REQ.messages, model="Qwen/none"))
        await p.aclose()
    assert err.value.code == ErrorCode.NOT_FOUND and "does not exist" in str(err.value)


# -- no structured output at all: every agent completes a turn ---------------------------


async def test_every_agent_completes_turns_on_a_model_without_schema_support(
    engines: Engines, qualia_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qualia_cli.engine import Engine
    from qualia_cli.engine.turn.summary import TurnSummary
    from qualia_cli.logs import setup_logging

    monkeypatch.setenv("PLAIN_KEY", KEY)
    setup_logging(get_paths().ensure().log_file, "DEBUG")
    with StandIn(no_structured_output(), api_key=KEY) as server:
        settings = load_settings(
            models={"default": "plain/tiny"},
            endpoints={"plain": {"base_url": server.base_url, "api_key_env": "PLAIN_KEY"}},
            memory={"summarize_every": 1, "window_turns": 1},
        )
        engine = engines.keep(Engine(settings))
        session = engine.new_session("fogbound_archive")
        agents_ok: set[str] = set()
        for text in ("Hello", "Tell me about the archive", "And the fog?"):
            summary = TurnSummary()
            async for event in session.turn(text):
                summary.add(event)
            assert summary.ok, summary.errors
            assert not summary.errors, summary.errors
            calls = engine.agent_calls(session.id)
            agents_ok |= {c["agent"] for c in calls if c["ok"]}
        await engine.aclose()
    assert {"director", "partner", "visual", "strategist", "summarizer"} <= agents_ok
    refused = [b for b in server.requests if b.get("response_format")]
    assert len(refused) == 2  # json_schema, then json_object, once: then remembered
    assert all(c["output_mode"] == "prompt" for c in calls if c["ok"])
    # the key went to the server, and nowhere else
    assert all(h.get("authorization") == f"Bearer {KEY}" for h in server.headers)
    paths = get_paths()
    for f in [*paths.data_dir.rglob("*"), *paths.cache_dir.rglob("*")]:
        if f.is_file():
            assert KEY.encode() not in f.read_bytes(), f


async def test_session_budget_counts_list_price_when_no_cost_is_reported(
    engines: Engines, qualia_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qualia_cli.engine import Engine
    from qualia_cli.engine.story.session import BudgetExceeded
    from qualia_cli.engine.turn.summary import TurnSummary

    monkeypatch.setenv("OR_KEY", KEY)
    pricey = openrouter_model("vendor/model", prompt="0.00001", completion="0.00003")
    dialect = openrouter(reasoning=None, usage_cost=False, models=[pricey])
    with StandIn(dialect, api_key=KEY) as server:
        settings = load_settings(
            models={"default": "or/vendor/model"},
            endpoints={
                "or": {"base_url": server.base_url, "api_key_env": "OR_KEY", "kind": "openrouter"}
            },
            session_budget_usd=0.001,
        )
        engine = engines.keep(Engine(settings))
        session = engine.new_session("fogbound_archive")
        summary = TurnSummary()
        async for event in session.turn("Hello"):
            summary.add(event)
        assert summary.ok, summary.errors
        calls = engine.agent_calls(session.id)
        expected = sum(c["prompt_tokens"] * 1e-5 + c["completion_tokens"] * 3e-5 for c in calls)
        assert summary.cost_usd == pytest.approx(expected) and expected > 0.001
        with pytest.raises(BudgetExceeded):
            async for _ in session.turn("Again"):
                pass
        await engine.aclose()


async def test_vllm_unrelated_400_is_an_error_not_a_mode_fallback() -> None:
    """vLLM answers an over-long request with 400 BadRequestError (documented error object)."""
    body = {
        "object": "error",
        "message": "This model's maximum context length is 4096 tokens. However, you "
        "requested 5000 tokens. Please reduce the length of the messages.",
        "type": "BadRequestError",
        "param": None,
        "code": 400,
    }
    with StandIn(vllm()) as server:
        server.script = [("status", 400, body, {})]
        reg = CapabilityRegistry()
        p = provider(server, name="vllm", registry=reg)
        with pytest.raises(LLMError) as err:
            await p.complete(Request(messages=REQ.messages, model="m", schema={"type": "object"}))
        await p.aclose()
    assert err.value.code == ErrorCode.BAD_REQUEST and "maximum context length" in str(err.value)
    assert len(server.requests) == 1 and reg.caps("vllm/m").json_schema is None


async def test_recorded_cassette_has_neither_key_nor_reasoning(
    qualia_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qualia_cli.engine import Engine
    from qualia_cli.engine.turn.summary import TurnSummary

    monkeypatch.setenv("OR_KEY", KEY)
    thinker = openrouter_model("vendor/model", params=("structured_outputs", "reasoning"))
    with StandIn(openrouter(models=[thinker]), api_key=KEY) as server:
        settings = load_settings(
            models={"default": "or/vendor/model"},
            endpoints={
                "or": {"base_url": server.base_url, "api_key_env": "OR_KEY", "kind": "openrouter"}
            },
        )
        engine = Engine(settings)
        path = qualia_home / "turn.cassette.json"
        cassette = engine.use_cassette(path, "record")
        session = engine.new_session("fogbound_archive")
        summary = TurnSummary()
        try:
            async for event in session.turn("Hello"):
                summary.add(event)
            calls = engine.agent_calls(session.id)
        finally:
            cassette.save()
            await engine.aclose()
    assert summary.ok, summary.errors
    posts = [h for h in server.headers if "content-length" in h]
    assert posts and all(h.get("authorization") == f"Bearer {KEY}" for h in posts)
    # the model list needs no key, so it is fetched without one
    assert server.gets == ["/v1/models"]
    assert all("authorization" not in h for h in server.headers if "content-length" not in h)
    recorded = path.read_text()
    assert KEY not in recorded and "answer warmly" not in recorded
    assert "answer warmly" not in summary.reply
    assert any(c["reasoning"] for c in calls)  # kept in the agent call log instead
