"""Cassettes: record model calls at the provider boundary and replay them without a network.

A :class:`Cassette` wraps every provider the router resolves (``router.wrap_providers``).
Each call is keyed by a digest of the provider, model, agent, the normalised messages, the
output schema and the sampling parameters. Modes:

- ``replay`` (default): answer from the file; a call that is not in it is a miss (an error
  naming the nearest recorded call and what differs).
- ``record``: call the real model for everything and write a fresh file.
- ``record-missing``: replay what is recorded, call the real model for the rest, append.
- ``live``: no cassette at all.

Identical keys replay in recorded order (the last one repeats when they run out). Streamed
answers are stored with their chunk boundaries and replayed as a stream.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from qualia_cli.llm.base import Capabilities, Completion, Provider, Request, StreamDelta, Usage
from qualia_cli.llm.cassette_file import (
    CassetteData,
    Interaction,
    RecordedError,
    RecordedMessage,
    RecordedRequest,
    RecordedResponse,
    RecordedUsage,
    dump_cassette,
    load_cassette,
    scrub_value,
)
from qualia_cli.llm.cassette_miss import explain_miss
from qualia_cli.llm.errors import ErrorCode, LLMError

# provider errors that say something about the request, not about the network or the load:
# only these are recorded (a timeout while recording must not become part of the story)
RECORDED_ERRORS = frozenset({ErrorCode.BAD_REQUEST, ErrorCode.NOT_FOUND})


def not_recorded(call: str, where: str = "") -> str:
    """The error for a call that failed while recording (the cassette would miss it)."""
    at = f"{where}: " if where else ""
    return (
        f"{at}could not record a model call ({call}): a replay would miss it; "
        "fix the model or server and record again (--record-missing adds only what is missing)"
    )


class CassetteMode(StrEnum):
    REPLAY = "replay"
    RECORD = "record"
    RECORD_MISSING = "record-missing"
    LIVE = "live"


class CassetteMiss(LLMError):
    """A replayed call that the cassette does not hold."""

    def __init__(self, message: str, *, model: str | None = None) -> None:
        super().__init__(ErrorCode.CONFIG, message, model=model)


def normalise_text(text: str) -> str:
    """Line endings unified, trailing spaces and surrounding blank lines dropped."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip()


def schema_digest(schema: dict[str, Any] | None) -> str | None:
    if schema is None:
        return None
    canonical = json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def request_params(request: Request) -> dict[str, float | int | None]:
    return {
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "frequency_penalty": request.frequency_penalty,
        "seed": request.seed,
        # sampling fields sent to llama.cpp change the answer (slot and cache fields do not)
        **{k: v for k, v in (request.extra or {}).items() if k.startswith("dry_")},
    }


def request_key(provider: str, model: str, request: Request) -> str:
    """The digest a call is recorded and looked up by."""
    payload = {
        "provider": provider,
        "model": model,
        "agent": request.agent,
        "messages": [[m["role"], normalise_text(m["content"])] for m in request.messages],
        "schema_name": request.schema_name if request.schema is not None else None,
        "schema": schema_digest(request.schema),
        "params": request_params(request),
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def recorded_request(request: Request) -> RecordedRequest:
    return RecordedRequest(
        params=request_params(request),
        schema_name=request.schema_name if request.schema is not None else None,
        schema_sha=schema_digest(request.schema),
        messages=[
            RecordedMessage(role=m["role"], content=normalise_text(m["content"]))  # type: ignore[arg-type]
            for m in request.messages
        ],
    )


@dataclass
class Cassette:
    """The recorded calls of one file and the state of one run over them."""

    path: Path
    mode: CassetteMode
    data: CassetteData = field(default_factory=CassetteData)
    misses: list[CassetteMiss] = field(default_factory=list)
    recorded: int = 0  # calls added in this run
    replayed: int = 0
    skipped: list[str] = field(default_factory=list)  # transient failures not recorded
    _by_key: dict[str, list[Interaction]] = field(default_factory=dict)
    _cursor: dict[str, int] = field(default_factory=dict)
    _used: set[int] = field(default_factory=set)

    @classmethod
    def open(cls, path: Path, mode: CassetteMode | str) -> Cassette:
        mode = CassetteMode(mode)
        cassette = cls(Path(path), mode)
        if mode is CassetteMode.REPLAY or (
            mode is CassetteMode.RECORD_MISSING and cassette.path.exists()
        ):
            cassette.data = load_cassette(cassette.path)
        for item in cassette.data.interactions:
            cassette._by_key.setdefault(item.key, []).append(item)
        return cassette

    @property
    def records(self) -> bool:
        return self.mode in (CassetteMode.RECORD, CassetteMode.RECORD_MISSING)

    @property
    def unused(self) -> int:
        """Recorded calls this run did not replay (a hint that the cassette is stale)."""
        return sum(1 for item in self.data.interactions if id(item) not in self._used)

    def wrap(self, provider_name: str, model: str, create: Callable[[], Provider]) -> Provider:
        """For ``ModelRouter.wrap_providers``."""
        if self.mode is CassetteMode.LIVE:
            return create()
        return CassetteProvider(self, provider_name, model, create)

    def lookup(self, key: str) -> Interaction | None:
        items = self._by_key.get(key)
        if not items:
            return None
        at = self._cursor.get(key, 0)
        self._cursor[key] = at + 1
        item = items[min(at, len(items) - 1)]
        self._used.add(id(item))
        self.replayed += 1
        return item

    def add(self, item: Interaction) -> None:
        self.data.interactions.append(item)
        self._by_key.setdefault(item.key, []).append(item)
        self._cursor[item.key] = len(self._by_key[item.key])
        self._used.add(id(item))
        self.recorded += 1

    def miss(self, provider: str, model: str, request: Request, key: str) -> CassetteMiss:
        where = f"{provider}/{model}"
        message = explain_miss(
            self.path, provider, model, recorded_request(request), request.agent, self.data
        )
        err = CassetteMiss(message, model=where)
        self.misses.append(err)
        return err

    def save(self) -> None:
        """Write the file (record modes only). Every string is scrubbed of secrets."""
        if not self.records:
            return
        from qualia_cli import __version__

        self.data.recorded_with = f"qualia {__version__}"
        dump_cassette(self.data, self.path)


class CassetteProvider:
    """A Provider that answers from a cassette and/or records what the real one answers."""

    capabilities = Capabilities(streaming=True, json_schema=True)

    def __init__(
        self, cassette: Cassette, provider: str, model: str, create: Callable[[], Provider]
    ) -> None:
        self.cassette = cassette
        self.name = provider
        self.model = model
        self._create = create
        self._real: Provider | None = None
        self._lock = asyncio.Lock()

    async def _provider(self) -> Provider:
        async with self._lock:
            if self._real is None:
                self._real = await asyncio.to_thread(self._create)
            return self._real

    def _replayable(self, request: Request) -> tuple[str, Interaction | None]:
        key = request_key(self.name, self.model, request)
        if self.cassette.mode is CassetteMode.RECORD:
            return key, None
        item = self.cassette.lookup(key)
        if item is None and self.cassette.mode is CassetteMode.REPLAY:
            raise self.cassette.miss(self.name, self.model, request, key)
        return key, item

    async def complete(self, request: Request) -> Completion:
        key, item = self._replayable(request)
        if item is not None:
            return _completion(item, self.name, self.model)
        real = await self._provider()
        started = time.perf_counter()
        try:
            completion = await real.complete(request)
        except LLMError as err:
            self._record_error(key, request, err)
            raise
        self._record(key, request, completion, None, started)
        return completion

    async def stream(self, request: Request) -> AsyncIterator[StreamDelta]:
        key, item = self._replayable(request)
        if item is not None:
            if item.response is not None:
                for piece in item.response.pieces():
                    yield StreamDelta(text=piece)
            yield StreamDelta(final=_completion(item, self.name, self.model))
            return
        real = await self._provider()
        started = time.perf_counter()
        if not real.capabilities.streaming:
            completion = await self.complete(request)
            if completion.text:
                yield StreamDelta(text=completion.text)
            yield StreamDelta(final=completion)
            return
        sizes: list[int] = []
        text = ""
        final: Completion | None = None
        try:
            async for delta in real.stream(request):
                if delta.final is not None:
                    final = delta.final
                elif delta.text:
                    sizes.append(len(delta.text))
                    text += delta.text
                yield delta
        except LLMError as err:
            self._record_error(key, request, err)
            raise
        final = final or Completion(text=text)
        if final.text != text:  # a provider whose final text differs from its pieces
            sizes = [len(final.text)] if final.text else []
        self._record(key, request, final, sizes, started)

    async def aclose(self) -> None:
        return None  # the router owns the real provider and closes it

    def _record(
        self,
        key: str,
        request: Request,
        completion: Completion,
        chunks: list[int] | None,
        started: float,
    ) -> None:
        latency = completion.latency_ms or (time.perf_counter() - started) * 1000
        response = RecordedResponse(
            text=completion.text,
            chunks=chunks or None,
            finish_reason=completion.finish_reason,
            usage=RecordedUsage(
                prompt_tokens=completion.usage.prompt_tokens,
                completion_tokens=completion.usage.completion_tokens,
                cost_usd=completion.usage.cost_usd,
            ),
            model=completion.model,
            latency_ms=round(latency, 1),
        )
        self._add(key, request, response=response)

    def _record_error(self, key: str, request: Request, err: LLMError) -> None:
        if err.code in RECORDED_ERRORS:
            self._add(key, request, error=RecordedError(code=err.code, message=err.message))
        elif err.code is not ErrorCode.CANCELLED:
            self.cassette.skipped.append(f"{request.agent or 'a'} call failed: {err}")

    def _add(self, key: str, request: Request, **outcome: Any) -> None:
        item = Interaction(
            key=key,
            provider=self.name,
            model=self.model,
            agent=request.agent,
            request=recorded_request(request),
            **outcome,
        )
        # scrub now, so the copy kept in memory is the one written
        raw = item.model_dump()
        clean = scrub_value(raw)
        if clean.get("response") and clean["response"]["text"] != raw["response"]["text"]:
            clean["response"]["chunks"] = None  # a secret was masked: the sizes changed
        self.cassette.add(Interaction.model_validate(clean))


def _completion(item: Interaction, provider: str, model: str) -> Completion:
    if item.error is not None:
        raise LLMError(item.error.code, item.error.message, model=f"{provider}/{model}")
    assert item.response is not None
    r = item.response
    return Completion(
        text=r.text,
        usage=Usage(r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.cost_usd),
        finish_reason=r.finish_reason,
        latency_ms=r.latency_ms,
        model=r.model,
    )
