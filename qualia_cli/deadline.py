"""A total deadline for one call to a server (model or image), and rate-limit waits shown.

``request_timeout_s`` used to bound only the silence between two bytes, so a server trickling
a byte a second kept a call alive forever. A :class:`Deadline` bounds the whole call —
connecting, every read, every retry and every ``Retry-After`` wait — by the timeout plus
:data:`MARGIN_S`. Waits for a rate limit are told to whoever listens (the CLI prints
"waiting 30 s for the rate limit…") instead of passing in silence.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

__all__ = [
    "MARGIN_S",
    "Deadline",
    "DeadlineExceeded",
    "add_wait_listener",
    "notify_wait",
    "remove_wait_listener",
]

log = logging.getLogger("qualia.deadline")

T = TypeVar("T")

MARGIN_S = 2.0  # the stated margin: a call ends within its timeout + 2 s, whatever the server

WaitListener = Callable[[float, str], None]
_listeners: list[WaitListener] = []


class DeadlineExceeded(TimeoutError):
    """The call's total time is spent."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no complete answer within {seconds:g}s")
        self.seconds = seconds


class Deadline:
    """The end of one call: ``timeout_s + MARGIN_S`` from now (monotonic clock)."""

    def __init__(self, timeout_s: float, *, margin_s: float = MARGIN_S) -> None:
        self.total_s = timeout_s + margin_s
        self.timeout_s = timeout_s
        self._end = time.monotonic() + self.total_s

    def left(self) -> float:
        return self._end - time.monotonic()

    def allows(self, seconds: float) -> bool:
        """Whether waiting ``seconds`` still leaves the call inside its deadline."""
        return seconds < self.left()

    async def run(self, awaitable: asyncio.Future[T] | object) -> T:
        """Await ``awaitable`` within what is left; :class:`DeadlineExceeded` past the end."""
        left = self.left()
        if left <= 0:
            _close(awaitable)
            raise DeadlineExceeded(self.total_s)
        try:
            return await asyncio.wait_for(awaitable, left)  # type: ignore[arg-type]
        except TimeoutError:
            raise DeadlineExceeded(self.total_s) from None

    async def iterate(self, source: AsyncIterator[T]) -> AsyncIterator[T]:
        """``source``'s items, each ``__anext__`` bounded by what is left of the deadline."""
        iterator = source.__aiter__()
        while True:
            try:
                item = await self.run(iterator.__anext__())
            except StopAsyncIteration:
                return
            yield item


def _close(awaitable: object) -> None:
    close = getattr(awaitable, "close", None)
    if callable(close):
        close()  # a coroutine never awaited would warn


def add_wait_listener(listener: WaitListener) -> None:
    _listeners.append(listener)


def remove_wait_listener(listener: WaitListener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def notify_wait(seconds: float, reason: str) -> None:
    """Tell the listeners that a call waits ``seconds`` (e.g. reason "the rate limit")."""
    log.info("waiting %.0f s for %s", seconds, reason)
    for listener in list(_listeners):
        try:
            listener(seconds, reason)
        except Exception:  # a display problem never breaks the call
            log.debug("wait listener failed", exc_info=True)


def wait_message(seconds: float, reason: str) -> str:
    return f"waiting {max(1, round(seconds))} s for {reason}…"
