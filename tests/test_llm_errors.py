"""OpenAICompatProvider over httpx.MockTransport (no network): retries, errors, request shape."""

from __future__ import annotations

import email.utils
import json
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from qualia_cli.llm.base import Capabilities, Request
from qualia_cli.llm.errors import ErrorCode, LLMError
from qualia_cli.llm.openai_compat import OpenAICompatProvider
from qualia_cli.llm.retry import RETRY_AFTER_CAP_S, backoff_wait, parse_retry_after

KEY = "sk-test-SECRET-0123456789abcdef"
Handler = Callable[[httpx.Request], httpx.Response]
REQ = Request(messages=[{"role": "user", "content": "hi"}], model="vendor/model", max_tokens=12)


def ok_body(text: str = "hello", **usage_extra: Any) -> dict[str, Any]:
    return {
        "id": "c1",
        "object": "chat.completion",
        "created": 1,
        "model": "vendor/model",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7, **usage_extra},
    }


class Recorder:
    """A scripted server: returns the next response (or raises) and keeps the requests."""

    def __init__(self, *script: httpx.Response | Exception | Handler) -> None:
        self.script = list(script)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.script[min(len(self.requests), len(self.script)) - 1]
        if isinstance(step, Exception):
            raise step
        if isinstance(step, httpx.Response):
            return step
        return step(request)

    def body(self, i: int = -1) -> dict[str, Any]:
        return json.loads(self.requests[i].content)


def make(
    recorder: Recorder,
    *,
    base_url: str = "https://api.example.test/v1",
    max_retries: int = 3,
    sleeps: list[float] | None = None,
    **kw: Any,
) -> OpenAICompatProvider:
    client = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
    provider = OpenAICompatProvider(
        "test",
        base_url,
        KEY,
        timeout_s=kw.pop("timeout_s", 120),  # room for the scripted Retry-After waits
        max_retries=max_retries,
        http_client=client,
        **kw,
    )
    record = sleeps if sleeps is not None else []

    async def fake_sleep(seconds: float) -> None:
        record.append(seconds)

    provider.sleep = fake_sleep
    return provider


def err(
    status: int, message: str = "boom", headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.Response(status, json={"error": {"message": message}}, headers=headers)


async def fail(provider: OpenAICompatProvider, request: Request = REQ) -> LLMError:
    with pytest.raises(LLMError) as info:
        await provider.complete(request)
    await provider.aclose()
    assert KEY not in str(info.value)
    assert "\n" not in str(info.value)
    return info.value


# -- retries ---------------------------------------------------------------------------------


async def test_429_retry_after_seconds_is_honoured() -> None:
    sleeps: list[float] = []
    rec = Recorder(err(429, headers={"Retry-After": "7"}), httpx.Response(200, json=ok_body()))
    provider = make(rec, sleeps=sleeps)
    done = await provider.complete(REQ)
    assert done.text == "hello"
    assert sleeps == [7.0]
    assert len(rec.requests) == 2


async def test_429_retry_after_http_date_is_honoured() -> None:
    sleeps: list[float] = []
    when = email.utils.formatdate(time.time() + 20, usegmt=True)
    rec = Recorder(err(429, headers={"Retry-After": when}), httpx.Response(200, json=ok_body()))
    provider = make(rec, sleeps=sleeps)
    await provider.complete(REQ)
    assert len(sleeps) == 1 and 17.0 <= sleeps[0] <= 20.0


async def test_retry_after_is_capped() -> None:
    sleeps: list[float] = []
    rec = Recorder(err(503, headers={"Retry-After": "86400"}), httpx.Response(200, json=ok_body()))
    provider = make(rec, sleeps=sleeps, retry_after_cap_s=30)
    await provider.complete(REQ)
    assert sleeps == [30.0]


async def test_429_after_all_retries_is_rate_limited() -> None:
    sleeps: list[float] = []
    rec = Recorder(err(429, "slow down", headers={"Retry-After": "1"}))
    error = await fail(make(rec, max_retries=2, sleeps=sleeps))
    assert error.code is ErrorCode.RATE_LIMITED
    assert "after 2 retries" in str(error)
    assert sleeps == [1.0, 1.0]
    assert len(rec.requests) == 3


async def test_500_retries_with_backoff_then_server_error() -> None:
    sleeps: list[float] = []
    rec = Recorder(err(500, "kaput"))
    error = await fail(make(rec, max_retries=3, sleeps=sleeps))
    assert error.code is ErrorCode.SERVER
    assert "500" in str(error) and "kaput" in str(error)
    assert len(rec.requests) == 4
    assert len(sleeps) == 3 and sleeps[0] < sleeps[1] < sleeps[2]


async def test_500_then_success() -> None:
    rec = Recorder(err(502), httpx.Response(200, json=ok_body("fine")))
    provider = make(rec)
    assert (await provider.complete(REQ)).text == "fine"


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after({"Retry-After": "2.5"}) == 2.5
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({}) is None
    past = email.utils.formatdate(time.time() - 100, usegmt=True)
    assert parse_retry_after({"Retry-After": past}) == 0.0
    assert 0.5 <= backoff_wait(1, None) <= 0.625
    assert backoff_wait(1, None, cap_s=RETRY_AFTER_CAP_S) < backoff_wait(3, None)


# -- error mapping ---------------------------------------------------------------------------


async def test_timeout_is_timeout_and_not_retried() -> None:
    rec = Recorder(httpx.ReadTimeout("read timed out"))
    error = await fail(make(rec, timeout_s=5))
    assert error.code is ErrorCode.TIMEOUT
    assert "5s" in str(error)
    assert len(rec.requests) == 1


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html>Bad gateway</html>", headers={"content-type": "text/html"}),
        httpx.Response(200, text="{not json", headers={"content-type": "application/json"}),
        httpx.Response(200, json={"hello": "world"}),
        httpx.Response(200, json={"error": {"message": "upstream died", "code": 502}}),
    ],
    ids=["html", "broken-json", "not-a-completion", "embedded-error"],
)
async def test_garbage_body_is_a_clear_error(response: httpx.Response) -> None:
    error = await fail(make(Recorder(response)))
    assert error.code is ErrorCode.SERVER
    assert "api.example.test" in str(error)


@pytest.mark.parametrize("status", [401, 403])
async def test_auth_errors_name_the_env_var_not_the_key(status: int) -> None:
    rec = Recorder(err(status, f"Incorrect API key provided: {KEY}"))
    error = await fail(make(rec, api_key_env="OPENROUTER_API_KEY"))
    assert error.code is ErrorCode.AUTH
    assert "OPENROUTER_API_KEY" in str(error)
    assert "api.example.test" in str(error)
    assert len(rec.requests) == 1


async def test_echoed_key_is_scrubbed_from_other_errors() -> None:
    error = await fail(make(Recorder(err(400, f"bad header Bearer {KEY}"))))
    assert error.code is ErrorCode.BAD_REQUEST
    assert "sk-…cdef" in str(error)


@pytest.mark.parametrize(
    "response",
    [err(404, "no such route"), err(400, "vendor/model is not a valid model ID")],
    ids=["404", "400-invalid-model"],
)
async def test_unknown_model_is_not_found(response: httpx.Response) -> None:
    error = await fail(make(Recorder(response)))
    assert error.code is ErrorCode.NOT_FOUND
    assert "vendor/model" in str(error)


async def test_connection_refused_is_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}/v1"
    provider = OpenAICompatProvider("test", base_url, KEY, timeout_s=5, max_retries=1)
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    provider.sleep = fake_sleep
    error = await fail(provider)
    assert error.code is ErrorCode.UNREACHABLE
    assert str(error).startswith(f"test/vendor/model: cannot reach {base_url}")
    assert len(sleeps) == 1


# -- request shape ---------------------------------------------------------------------------

SCHEMA = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}


async def test_schema_sent_as_strict_response_format() -> None:
    rec = Recorder(httpx.Response(200, json=ok_body('{"a": "x"}')))
    provider = make(rec)
    request = Request(
        messages=[{"role": "user", "content": "hi"}],
        model="m",
        schema=SCHEMA,
        schema_name="reply",
        max_tokens=33,
        temperature=0.3,
        seed=42,
    )
    await provider.complete(request)
    body = rec.body()
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "reply", "schema": SCHEMA, "strict": True},
    }
    assert (body["max_tokens"], body["temperature"], body["seed"]) == (33, 0.3, 42)
    assert rec.requests[-1].headers["authorization"] == f"Bearer {KEY}"
    assert "usage" not in body and "http-referer" not in rec.requests[-1].headers


async def test_schema_as_instruction_without_json_schema_capability() -> None:
    rec = Recorder(httpx.Response(200, json=ok_body('{"a": "x"}')))
    provider = make(rec, capabilities=Capabilities(json_schema=False))
    messages = [{"role": "system", "content": "Be Mira."}, {"role": "user", "content": "hi"}]
    await provider.complete(Request(messages=messages, model="m", schema=SCHEMA))  # type: ignore[arg-type]
    body = rec.body()
    assert "response_format" not in body
    assert len(body["messages"]) == 2
    assert body["messages"][0]["content"].startswith("Be Mira.")
    assert '"required":["a"]' in body["messages"][0]["content"]
    assert messages[0]["content"] == "Be Mira."  # the caller's list is untouched


async def test_openrouter_headers_usage_accounting_and_cost() -> None:
    rec = Recorder(httpx.Response(200, json=ok_body("hi", cost=0.00042)))
    provider = make(rec, base_url="https://openrouter.ai/api/v1")
    done = await provider.complete(REQ)
    headers = rec.requests[-1].headers
    assert headers["x-title"] == "qualia" and headers["http-referer"].startswith("https://")
    assert rec.body()["usage"] == {"include": True}
    assert done.usage.cost_usd == pytest.approx(0.00042)
    assert (done.usage.prompt_tokens, done.usage.completion_tokens) == (5, 2)
    assert done.model == "vendor/model" and done.finish_reason == "stop"


async def test_openai_host_uses_max_completion_tokens() -> None:
    rec = Recorder(httpx.Response(200, json=ok_body()))
    await make(rec, base_url="https://api.openai.com/v1").complete(REQ)
    assert rec.body()["max_completion_tokens"] == 12 and "max_tokens" not in rec.body()


# -- streaming -------------------------------------------------------------------------------


def sse(*events: dict[str, Any] | str) -> httpx.Response:
    lines = [f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n" for e in events]
    return httpx.Response(
        200, content="".join(lines).encode(), headers={"content-type": "text/event-stream"}
    )


def chunk(text: str | None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    choices = [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]
    return {
        "id": "s",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": choices,
        **extra,
    }


async def test_stream_with_usage_and_retry() -> None:
    usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5, "cost": 0.01}
    rec = Recorder(
        err(429, headers={"Retry-After": "2"}),
        sse(
            chunk("Hel"),
            chunk("lo"),
            chunk(None, "stop"),
            {**chunk(None), "choices": [], "usage": usage},
            "[DONE]",
        ),
    )
    sleeps: list[float] = []
    provider = make(rec, sleeps=sleeps, base_url="https://openrouter.ai/api/v1")
    deltas = [d async for d in provider.stream(REQ)]
    assert [d.text for d in deltas[:-1]] == ["Hel", "lo"]
    final = deltas[-1].final
    assert final is not None and final.text == "Hello" and final.finish_reason == "stop"
    assert final.usage.completion_tokens == 2 and final.usage.cost_usd == 0.01
    body = rec.body()
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert sleeps == [2.0]
    await provider.aclose()


@pytest.mark.parametrize(
    "response",
    [
        sse(chunk("a"), "{garbage"),
        httpx.Response(200, text="", headers={"content-type": "text/event-stream"}),
    ],
    ids=["bad-event", "empty"],
)
async def test_stream_garbage_is_a_clear_error(response: httpx.Response) -> None:
    provider = make(Recorder(response))
    with pytest.raises(LLMError) as info:
        _ = [d async for d in provider.stream(REQ)]
    await provider.aclose()
    assert info.value.code is ErrorCode.SERVER
    assert KEY not in str(info.value)


async def test_stream_auth_error() -> None:
    provider = make(Recorder(err(401)), api_key_env="OPENAI_API_KEY")
    with pytest.raises(LLMError) as info:
        _ = [d async for d in provider.stream(REQ)]
    await provider.aclose()
    assert info.value.code is ErrorCode.AUTH and "OPENAI_API_KEY" in str(info.value)


async def test_key_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    rec = Recorder(
        err(429, f"slow down {KEY}", headers={"Retry-After": "1"}),
        httpx.Response(200, json=ok_body()),
        err(401, f"bad key {KEY}"),
    )
    provider = make(rec, api_key_env="OPENAI_API_KEY")
    await provider.complete(REQ)
    with pytest.raises(LLMError):
        await provider.complete(REQ)
    await provider.aclose()
    assert "retry 1/3" in caplog.text
    assert KEY not in caplog.text
