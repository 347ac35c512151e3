"""Embedding models for semantic recall, named like chat models: ``<provider>/<model>``.

Any OpenAI-compatible ``POST /embeddings`` endpoint serves (OpenAI, Ollama, llama.cpp server,
vLLM, LM Studio, or an ``endpoints:`` entry of config.yaml), resolved through the same provider
names and API-key lookup as chat models (llm/router.py); ``builtin/minilm`` runs all-MiniLM-L6-v2
in-process (llm/minilm.py). Vectors are checked before use (llm/embedding_vectors.py): one
per input, all of one length, finite numbers; anything else is a ``BAD_OUTPUT`` error, never a
stored vector. Under a cassette, ``make_embedder`` hands out llm/embedding_cassette.py's
embedder (which imports nothing from here at run time).
"""

from __future__ import annotations

from typing import Protocol

import httpx

from qualia_cli.llm.embedding_vectors import parse_vectors
from qualia_cli.llm.errors import ErrorCode, LLMError
from qualia_cli.llm.keys import get_api_key
from qualia_cli.llm.router import ModelRouter, split_model_name

BATCH = 64  # inputs per request
MAX_CHARS = 4000  # longer texts are cut (recall snippets are a few sentences)


class Embedder(Protocol):
    name: str  # as configured: provider/model

    async def embed(self, texts: list[str]) -> list[list[float]]: ...

    async def aclose(self) -> None: ...


class HttpEmbedder:
    """An OpenAI-compatible ``/embeddings`` endpoint."""

    def __init__(
        self,
        name: str,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        headers: dict[str, str] | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        self.name = name
        self.model = model
        self.base_url = base_url.rstrip("/")
        sent = dict(headers or {})
        if api_key:
            sent["Authorization"] = f"Bearer {api_key}"
        self._client = httpx.AsyncClient(headers=sent, timeout=timeout_s)

    def __repr__(self) -> str:  # never the key
        return f"HttpEmbedder({self.name!r}, {self.base_url!r})"

    async def embed(self, texts: list[str]) -> list[list[float]]:
        out: list[list[float]] = []
        for start in range(0, len(texts), BATCH):
            out += await self._batch(texts[start : start + BATCH])
        return out

    async def _batch(self, texts: list[str]) -> list[list[float]]:
        body = {"model": self.model, "input": [t[:MAX_CHARS] or " " for t in texts]}
        url = f"{self.base_url}/embeddings"
        try:
            resp = await self._client.post(url, json=body)
        except httpx.TimeoutException:
            raise self._error(ErrorCode.TIMEOUT, f"no answer from {url} in time") from None
        except httpx.HTTPError as err:
            raise self._error(ErrorCode.UNREACHABLE, f"cannot reach {url}: {err}") from None
        if resp.status_code != 200:
            raise self._error(_code(resp.status_code), f"{url} answered {resp.status_code}")
        try:
            data = resp.json()
        except ValueError:
            raise self._error(ErrorCode.BAD_OUTPUT, f"{url} did not answer JSON") from None
        return parse_vectors(data, len(texts), self.name)

    def _error(self, code: ErrorCode, message: str) -> LLMError:
        return LLMError(code, message, model=self.name)

    async def aclose(self) -> None:
        await self._client.aclose()


def _code(status: int) -> ErrorCode:
    if status in (401, 403):
        return ErrorCode.AUTH
    if status == 404:
        return ErrorCode.NOT_FOUND
    if status == 429:
        return ErrorCode.RATE_LIMITED
    if status >= 500:
        return ErrorCode.SERVER
    return ErrorCode.BAD_REQUEST


def make_embedder(router: ModelRouter, name: str) -> Embedder:
    """The embedder for ``memory.embedder`` (``provider/model``); ``LLMError`` if unusable.
    Under a cassette (``router.wrap_providers``) its calls are recorded / replayed there."""
    from qualia_cli.llm.cassette import CassetteMode
    from qualia_cli.llm.embedding_cassette import CassetteEmbedder, cassette_of

    cassette = cassette_of(router)
    if cassette is not None and cassette.mode is not CassetteMode.LIVE:
        split_model_name(name)  # a malformed name fails now, not at the first miss
        return CassetteEmbedder(cassette, name.strip(), lambda: _make_real(router, name))
    return _make_real(router, name)


def _make_real(router: ModelRouter, name: str) -> Embedder:
    from qualia_cli.llm import minilm
    from qualia_cli.llm.router import LOCAL

    if name.strip() == minilm.NAME:
        return minilm.MiniLMEmbedder()
    provider, model = split_model_name(name)
    spec = router.endpoint(provider)
    if spec is None:
        if provider == LOCAL:
            raise LLMError(
                ErrorCode.CONFIG,
                f"memory.embedder '{name}': the embedded chat model does not serve embeddings; "
                "use an OpenAI-compatible endpoint (e.g. ollama/nomic-embed-text)",
            )
        known = ", ".join(p for p in router.known_providers() if p != LOCAL)
        raise LLMError(
            ErrorCode.CONFIG,
            f"memory.embedder '{name}': unknown provider '{provider}' (use one of {known}, "
            f"or add an endpoint named '{provider}' to config.yaml)",
        )
    key = get_api_key(spec.api_key_env) if spec.api_key_env else None
    if spec.key_required and key is None:
        raise LLMError(
            ErrorCode.AUTH,
            f"{spec.api_key_env} is not set (environment or keyring): needed for {name}",
        )
    timeout = min(router.settings.request_timeout_s, router.settings.memory.embed_timeout_s)
    return HttpEmbedder(
        name, spec.base_url, model, api_key=key, headers=spec.headers, timeout_s=timeout
    )
