"""The model interface every provider implements, and the values it returns."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol, TypedDict


class ChatMessage(TypedDict):
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True)
class Capabilities:
    streaming: bool = True
    json_schema: bool = True  # honours response_format json_schema


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    cached_tokens: int | None = None  # prompt tokens served from the server's cache, if told

    def __add__(self, other: Usage) -> Usage:
        cost = None
        if self.cost_usd is not None or other.cost_usd is not None:
            cost = (self.cost_usd or 0.0) + (other.cost_usd or 0.0)
        cached = None
        if self.cached_tokens is not None or other.cached_tokens is not None:
            cached = (self.cached_tokens or 0) + (other.cached_tokens or 0)
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            cost,
            cached,
        )


@dataclass(frozen=True)
class Request:
    """Everything that determines a model call (and so a cassette key)."""

    messages: list[ChatMessage]
    model: str  # the provider-side model id (no provider prefix)
    schema: dict[str, Any] | None = None  # JSON schema for structured output
    schema_name: str = "output"
    max_tokens: int = 256
    temperature: float = 0.8
    seed: int | None = None
    frequency_penalty: float = 0.0  # discourages the loops small models fall into
    agent: str = ""  # which agent asked (for logs and cassettes)
    # server-specific body fields (llama.cpp: id_slot, cache_prompt, dry_* sampling)
    extra: dict[str, Any] | None = None


@dataclass
class Completion:
    text: str
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    latency_ms: float = 0.0
    model: str = ""
    reasoning: str = ""  # the model's thinking: never part of `text`
    mode: str | None = None  # structured-output mode used: json_schema, json_object, prompt


@dataclass
class StreamDelta:
    """One piece of a streamed answer; the last item of a stream has `final` set."""

    text: str = ""
    final: Completion | None = None


class Provider(Protocol):
    """An endpoint that can answer chat requests."""

    name: str
    capabilities: Capabilities

    async def complete(self, request: Request) -> Completion: ...

    def stream(self, request: Request) -> AsyncIterator[StreamDelta]: ...

    async def aclose(self) -> None: ...
