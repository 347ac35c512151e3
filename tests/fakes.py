"""A scripted model for orchestration tests: answers per agent, with delays and failures.

Only for unit tests of the engine's orchestration; the real features are tested against the
embedded model and real HTTP servers.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from qualia_cli.llm.base import Capabilities, Completion, Request, StreamDelta, Usage
from qualia_cli.llm.errors import ErrorCode, LLMError

Answer = str | dict[str, Any] | Exception | Callable[[Request], Any]

DEFAULTS: dict[str, Any] = {
    "director": {
        "beat": "Mira warms to the player.",
        "narration": "Rain taps on the window.",
        "partner_guidance": "be friendly",
        "location": "",
        "time": "evening",
        "scene_changed": False,
        "world_updates": [{"key": "weather", "value": "rain"}],
        "ending": "none",
    },
    "partner": {
        "dialogue": "Hello there, stranger. Come in out of the rain.",
        "action": "smiles",
        "mood": "happy",
        "stat_deltas": {},
    },
    "visual": {
        "generate": True,
        "framing": "upper body",
        "scene_tags": ["rainy window", "warm lamplight"],
        "negative_tags": ["blurry"],
    },
    "strategist": {
        "suggestions": [
            {"text": "Ask about the rain.", "intent": "small talk"},
            {"text": "Offer to help.", "intent": "kindness"},
            {"text": "Tell a joke.", "intent": "humour"},
        ]
    },
}


@dataclass
class Span:
    agent: str
    start: float
    end: float


@dataclass
class ScriptedProvider:
    """Implements the Provider protocol with canned answers."""

    answers: dict[str, Answer] = field(default_factory=dict)
    delays: dict[str, float] = field(default_factory=dict)
    chunk: int = 6
    cost_per_call: float | None = None
    name: str = "fake"
    capabilities: Capabilities = field(default_factory=Capabilities)
    spans: list[Span] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)

    def _text(self, request: Request) -> str:
        answer = self.answers.get(request.agent, DEFAULTS.get(request.agent, {"ok": True}))
        if callable(answer) and not isinstance(answer, Exception):
            answer = answer(request)
        if isinstance(answer, Exception):
            raise answer
        return answer if isinstance(answer, str) else json.dumps(answer)

    async def complete(self, request: Request) -> Completion:
        self.requests.append(request)
        start = time.monotonic()
        await asyncio.sleep(self.delays.get(request.agent, 0.0))
        try:
            text = self._text(request)
        finally:
            self.spans.append(Span(request.agent, start, time.monotonic()))
        return Completion(
            text,
            Usage(10, 5, self.cost_per_call),
            "stop",
            (time.monotonic() - start) * 1000,
            "fake",
        )

    async def stream(self, request: Request) -> AsyncIterator[StreamDelta]:
        self.requests.append(request)
        start = time.monotonic()
        delay = self.delays.get(request.agent, 0.0)
        try:
            text = self._text(request)
            pieces = [text[i : i + self.chunk] for i in range(0, len(text), self.chunk)]
            for piece in pieces:
                await asyncio.sleep(delay / max(1, len(pieces)))
                yield StreamDelta(text=piece)
        finally:
            self.spans.append(Span(request.agent, start, time.monotonic()))
        yield StreamDelta(
            final=Completion(
                text,
                Usage(10, 5, self.cost_per_call),
                "stop",
                (time.monotonic() - start) * 1000,
                "fake",
            )
        )

    async def aclose(self) -> None:
        return None

    def span(self, agent: str) -> Span:
        return next(s for s in self.spans if s.agent == agent)


def failing(code: ErrorCode = ErrorCode.SERVER, message: str = "boom") -> LLMError:
    return LLMError(code, message, model="fake/model")
