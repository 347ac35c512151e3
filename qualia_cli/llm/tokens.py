"""Token counting: the model's own tokenizer when we can reach it, a calibrated estimate otherwise.

The embedded llama.cpp server exposes ``/tokenize`` and ``/apply-template``, so prompts for the
embedded model are counted exactly as the model will see them (chat template included). For
other models (and under a cassette) a calibrated estimate is used. Which counter a model gets
is the router's call (``ModelRouter.token_counter``). Counts are cached by text: a story's lines
come back turn after turn, so after the first turn almost every count is a dictionary lookup.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Protocol

from qualia_cli.llm.base import ChatMessage

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("qualia.llm")

MESSAGE_OVERHEAD = 5  # role markers around each chat message (estimated)
REPLY_PRIMER = 3  # "<|im_start|>assistant\n" and the like
CACHE_SIZE = 8192
CACHE_TEXT_LIMIT = 4096  # characters; longer texts (a whole prompt) are counted afresh
PREFETCH_LINES = 400  # lines counted in one request at most
RETRY_AFTER_S = 30.0  # after a failure, estimate for a while instead of waiting on the server
CHARS_PER_TOKEN = 3.6  # calibrated on SmolLM2's tokenizer over the bundled scenarios' prose


def estimate_tokens(text: str) -> int:
    """A cheap token estimate (the tokenizer is not always at hand, e.g. for remote models)."""
    return int(len(text) / CHARS_PER_TOKEN) + 1


class TokenCounter(Protocol):
    name: str

    def count(self, text: str) -> int: ...

    def count_messages(self, messages: list[ChatMessage]) -> int: ...


class EstimateCounter:
    """Characters / 3.6 (calibrated on SmolLM2's tokenizer), plus chat-template overhead."""

    name = "estimate"

    def count(self, text: str) -> int:
        return estimate_tokens(text) if text else 0

    def count_messages(self, messages: list[ChatMessage]) -> int:
        body = sum(self.count(m["content"]) + MESSAGE_OVERHEAD for m in messages)
        return body + REPLY_PRIMER


ESTIMATE = EstimateCounter()


class _Cache:
    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._items: OrderedDict[str, int] = OrderedDict()
        self._size = size

    def get(self, key: str) -> int | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: str, value: int) -> None:
        self._items[key] = value
        if len(self._items) > self._size:
            self._items.popitem(last=False)


class LlamaServerCounter:
    """Counts with a llama.cpp server's ``/tokenize`` (and ``/apply-template`` for prompts).

    Thread-safe. If the server stops answering, counting falls back to the estimate (the
    prompt is still built; ``degraded`` tells the trace).
    """

    def __init__(self, address: str, api_key: str | None = None, timeout_s: float = 5.0) -> None:
        import httpx

        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client: httpx.Client = httpx.Client(
            base_url=address, headers=headers, timeout=timeout_s
        )
        self._lock = threading.Lock()
        self._cache = _Cache()
        self.degraded = False
        self._retry_at = 0.0
        self._overheads: dict[tuple[str, ...], int] = {}

    @property
    def name(self) -> str:  # type: ignore[override]
        return "estimate (tokenizer unavailable)" if self.degraded else "tokenizer"

    def _down(self, err: Exception) -> None:
        if not self.degraded:
            log.warning("tokenizer unavailable (%s); estimating token counts", err)
        self.degraded = True
        self._retry_at = time.monotonic() + RETRY_AFTER_S

    def _tokenize(self, text: str) -> int | None:
        if time.monotonic() < self._retry_at:
            return None
        try:
            resp = self._client.post("/tokenize", json={"content": text, "add_special": False})
            resp.raise_for_status()
            return len(resp.json()["tokens"])
        except (OSError, _http_error(), KeyError, TypeError, ValueError) as err:
            self._down(err)
            return None

    def count(self, text: str) -> int:
        if not text:
            return 0
        with self._lock:
            cached = self._cache.get(text)
            if cached is not None:
                return cached
            n = self._tokenize(text)
            if n is None:
                return estimate_tokens(text)
            if len(text) <= CACHE_TEXT_LIMIT:  # lines and stable prompts, not whole histories
                self._cache.put(text, n)
            return n

    def prefetch(self, texts: list[str]) -> None:
        """Count many short lines in one request (a cold cache would cost one request each).

        The lines are joined with newlines, which the tokenizer keeps as separate tokens for
        stripped, single-line texts; if the split does not come out right, nothing is cached
        and ``count`` asks line by line.
        """
        with self._lock:
            todo = [
                t
                for t in dict.fromkeys(texts)
                if t
                and t == t.strip()
                and "\n" not in t
                and len(t) <= CACHE_TEXT_LIMIT
                and self._cache.get(t) is None
            ]
            if len(todo) < 2 or time.monotonic() < self._retry_at:
                return
            todo = todo[:PREFETCH_LINES]
            try:
                resp = self._client.post(
                    "/tokenize",
                    json={"content": "\n".join(todo), "add_special": False, "with_pieces": True},
                )
                resp.raise_for_status()
                pieces = [t.get("piece") for t in resp.json()["tokens"]]
            except (OSError, _http_error(), KeyError, TypeError, ValueError, AttributeError) as err:
                self._down(err)
                return
            counts = [0]
            for piece in pieces:
                if piece == "\n":
                    counts.append(0)
                else:
                    counts[-1] += 1
            if len(counts) != len(todo) or 0 in counts:
                return
            for text, n in zip(todo, counts, strict=True):
                self._cache.put(text, n)

    def count_messages(self, messages: list[ChatMessage]) -> int:
        """The exact prompt length: each message's tokens plus the chat template's own.

        The template's share is measured once per sequence of roles (``/apply-template`` on
        one-letter messages); chat templates wrap each message in special tokens, so the
        parts add up exactly and a stable system prompt is counted from the cache.
        """
        roles = tuple(m["role"] for m in messages)
        overhead = self._template_overhead(roles)
        if overhead is None:
            return ESTIMATE.count_messages(messages)
        return overhead + sum(self.count(m["content"]) for m in messages)

    def _template_overhead(self, roles: tuple[str, ...]) -> int | None:
        with self._lock:
            known = self._overheads.get(roles)
            if known is not None or time.monotonic() < self._retry_at:
                return known
            probe = [{"role": role, "content": "a"} for role in roles]
            try:
                resp = self._client.post("/apply-template", json={"messages": probe})
                resp.raise_for_status()
                prompt = str(resp.json()["prompt"])
            except (OSError, _http_error(), KeyError, TypeError, ValueError) as err:
                self._down(err)
                return None
            total, one = self._tokenize(prompt), self._tokenize("a")
            if total is None or one is None:
                return None
            self._overheads[roles] = total - one * len(roles)
            return self._overheads[roles]

    def close(self) -> None:
        self._client.close()


def _http_error() -> type[Exception]:
    import httpx

    return httpx.HTTPError


_counters: dict[str, LlamaServerCounter] = {}
_counters_lock = threading.Lock()


def llama_counter(address: str, api_key: str | None) -> LlamaServerCounter:
    """One counter (and cache) per llama.cpp server for the life of the process."""
    with _counters_lock:
        counter = _counters.get(address)
        if counter is None:
            counter = LlamaServerCounter(address, api_key)
            _counters[address] = counter
        return counter
