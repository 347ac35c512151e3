"""Embedding calls in cassettes, beside the chat calls (llm/cassette.py), in the same file.

An embeddings call is recorded as one interaction with ``agent: embeddings``: the input texts
as the request's user messages, the vectors as the response text (JSON, 6 decimals), keyed
like a chat call on provider, model and the normalised texts. Replay needs no server and no
key; a call the cassette does not hold is a miss like any other.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from qualia_cli.llm.base import Request
from qualia_cli.llm.cassette import Cassette, CassetteMode, recorded_request, request_key
from qualia_cli.llm.cassette_file import Interaction, RecordedResponse, scrub_value
from qualia_cli.llm.embedding_vectors import parse_vectors
from qualia_cli.llm.errors import LLMError

if TYPE_CHECKING:  # llm/embeddings.py builds this one (make_embedder): a type only
    from qualia_cli.llm.embeddings import Embedder

AGENT = "embeddings"
DECIMALS = 6


def cassette_of(router: Any) -> Cassette | None:
    """The cassette the router's providers are wrapped with, if any."""
    wrapper = getattr(router, "_wrapper", None)  # set by ModelRouter.wrap_providers
    owner = getattr(wrapper, "__self__", None)
    return owner if isinstance(owner, Cassette) else None


class CassetteEmbedder:
    """An Embedder that answers from a cassette and/or records what the real one answers."""

    def __init__(self, cassette: Cassette, name: str, create: Callable[[], Embedder]) -> None:
        self.cassette = cassette
        self.name = name
        self.provider, _, self.model = name.partition("/")
        self._create = create
        self._real: Embedder | None = None

    def _request(self, texts: list[str]) -> Request:
        return Request(
            messages=[{"role": "user", "content": t} for t in texts],
            model=self.model,
            max_tokens=0,
            temperature=0.0,
            agent=AGENT,
        )

    async def embed(self, texts: list[str]) -> list[list[float]]:
        request = self._request(texts)
        key = request_key(self.provider, self.model, request)
        item = None
        if self.cassette.mode is not CassetteMode.RECORD:
            item = self.cassette.lookup(key)
            if item is None and self.cassette.mode is CassetteMode.REPLAY:
                raise self.cassette.miss(self.provider, self.model, request, key)
        if item is not None:
            if item.error is not None:
                raise LLMError(item.error.code, item.error.message, model=self.name)
            assert item.response is not None
            return parse_vectors(json.loads(item.response.text), len(texts), self.name)
        if self._real is None:
            self._real = await asyncio.to_thread(self._create)
        started = time.perf_counter()
        vectors = await self._real.embed(texts)
        vectors = [[round(x, DECIMALS) for x in v] for v in vectors]
        text = json.dumps({"data": [{"index": i, "embedding": v} for i, v in enumerate(vectors)]})
        response = RecordedResponse(
            text=text, model=self.name, latency_ms=round((time.perf_counter() - started) * 1000, 1)
        )
        item = Interaction(
            key=key,
            provider=self.provider,
            model=self.model,
            agent=AGENT,
            request=recorded_request(request),
            response=response,
        )
        self.cassette.add(Interaction.model_validate(scrub_value(item.model_dump())))
        return vectors

    async def aclose(self) -> None:
        if self._real is not None:
            await self._real.aclose()
