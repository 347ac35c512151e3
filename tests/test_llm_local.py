"""The provider and the structured pipeline against the REAL embedded llama.cpp server."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from enum import StrEnum

import pytest
from pydantic import BaseModel, Field

from qualia_cli.config import Settings
from qualia_cli.llm.base import Completion, Request, StreamDelta
from qualia_cli.llm.errors import ErrorCode, LLMError
from qualia_cli.llm.local import LocalServer, get_local_server, resolve_gguf, running_server
from qualia_cli.llm.openai_compat import OpenAICompatProvider
from qualia_cli.llm.router import ModelRouter
from qualia_cli.llm.structured import complete_structured


class Mood(StrEnum):
    HAPPY = "happy"
    SHY = "shy"
    ANGRY = "angry"


class Reply(BaseModel):
    mood: Mood
    line: str = Field(max_length=60)
    affection_delta: int = Field(ge=-3, le=3)


MESSAGES = [
    {"role": "system", "content": "You are Mira, a shy librarian. Answer in JSON."},
    {"role": "user", "content": "Hi Mira! Do you like books?"},
]


@pytest.fixture
async def provider(local_server: LocalServer) -> AsyncIterator[OpenAICompatProvider]:
    p = OpenAICompatProvider(
        "local", local_server.base_url, local_server.api_key, timeout_s=300, max_retries=0
    )
    yield p
    await p.aclose()


def test_server_is_process_wide(local_server: LocalServer) -> None:
    again = get_local_server(resolve_gguf("smollm2"))
    assert again is local_server
    assert running_server(local_server.model_path) is local_server
    assert local_server.base_url.startswith("http://127.0.0.1:")
    assert local_server.base_url.endswith("/v1")
    assert local_server.api_key not in repr(local_server)
    with ThreadPoolExecutor(4) as pool:
        servers = list(pool.map(lambda _: get_local_server(local_server.model_path), range(8)))
    assert all(s is local_server for s in servers)


async def test_structured_output_with_schema(provider: OpenAICompatProvider) -> None:
    request = Request(messages=MESSAGES, model="smollm2", max_tokens=120, temperature=0.7, seed=7)
    result = await complete_structured(provider, request, Reply, model_label="local/smollm2")
    assert isinstance(result.value, Reply)
    assert result.value.mood in set(Mood)
    assert len(result.value.line) <= 60
    assert -3 <= result.value.affection_delta <= 3
    assert result.model == "local/smollm2"
    assert result.usage.prompt_tokens > 0 and result.usage.completion_tokens > 0
    assert result.latency_ms > 0
    assert result.retries == 0


async def test_structured_output_streams_text(provider: OpenAICompatProvider) -> None:
    seen: list[str] = []
    request = Request(messages=MESSAGES, model="smollm2", max_tokens=120, seed=3)
    result = await complete_structured(
        provider, request, Reply, model_label="local/smollm2", on_text=seen.append
    )
    assert len(seen) > 3
    assert all(b.startswith(a) for a, b in itertools.pairwise(seen))
    assert seen[-1] == result.raw


async def test_streaming_yields_deltas_then_final(provider: OpenAICompatProvider) -> None:
    request = Request(
        messages=[{"role": "user", "content": "Tell me a short story about a cat."}],
        model="smollm2",
        max_tokens=40,
        seed=1,
    )
    deltas: list[StreamDelta] = [d async for d in provider.stream(request)]
    texts = [d.text for d in deltas[:-1]]
    assert len(texts) >= 3 and all(texts)
    final = deltas[-1].final
    assert isinstance(final, Completion)
    assert final.text == "".join(texts)
    assert final.usage.completion_tokens > 0 and final.usage.prompt_tokens > 0
    assert final.finish_reason in ("stop", "length")
    assert final.model == "smollm2"


async def test_two_requests_in_parallel(provider: OpenAICompatProvider) -> None:
    def req(topic: str) -> Request:
        content = f"One sentence about {topic}."
        return Request(messages=[{"role": "user", "content": content}], model="m", max_tokens=30)

    a, b = await asyncio.gather(provider.complete(req("rain")), provider.complete(req("tea")))
    assert a.text and b.text
    assert a.usage.completion_tokens > 0 and b.usage.completion_tokens > 0


async def test_wrong_api_key_is_auth_error(local_server: LocalServer) -> None:
    bad = OpenAICompatProvider(
        "local", local_server.base_url, "wrong-key-123456", timeout_s=10, max_retries=0
    )
    try:
        with pytest.raises(LLMError) as info:
            await bad.complete(Request(messages=MESSAGES, model="smollm2", max_tokens=5))
    finally:
        await bad.aclose()
    assert info.value.code is ErrorCode.AUTH
    assert "wrong-key-123456" not in str(info.value)
    assert local_server.api_key not in str(info.value)


async def test_router_resolves_local_smollm2(local_server: LocalServer) -> None:
    router = ModelRouter(Settings())
    try:
        provider, model = await router.aresolve("local/smollm2")
        assert model == "smollm2"
        again, _ = router.resolve("local/smollm2")
        assert again is provider
        done = await provider.complete(
            Request(messages=[{"role": "user", "content": "Say hello."}], model=model, max_tokens=8)
        )
        assert done.text
        info = router.describe("local/smollm2")
        assert info["kind"] == "embedded" and info["running"] is True
        assert info["base_url"] == local_server.base_url
    finally:
        await router.aclose()
