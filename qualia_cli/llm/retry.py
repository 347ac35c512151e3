"""When to retry a model call and how long to wait (honouring `Retry-After`)."""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Callable, Mapping

from tenacity import RetryCallState

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 8.0
RETRY_AFTER_CAP_S = 30.0  # a longer Retry-After waits this long (shown), inside the deadline


def parse_retry_after(
    headers: Mapping[str, str] | None, *, now: float | None = None
) -> float | None:
    """Seconds to wait from `retry-after-ms` / `Retry-After` (seconds or HTTP date), or None."""
    if not headers:
        return None
    lower = {str(k).lower(): str(v) for k, v in headers.items()}
    raw_ms = lower.get("retry-after-ms")
    if raw_ms is not None:
        try:
            ms = float(raw_ms)
        except ValueError:
            ms = math.nan
        if math.isfinite(ms) and ms >= 0:
            return ms / 1000.0
    raw = lower.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        now = time.time() if now is None else now
        return max(0.0, when.timestamp() - now)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def status_of(exc: BaseException | None) -> int | None:
    """The HTTP status of an SDK error, if it has one."""
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def is_retryable(exc: BaseException) -> bool:
    """429, 5xx and connection failures are worth another try; timeouts are not (too slow)."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return False
    if isinstance(exc, openai.APIConnectionError):
        return True
    status = status_of(exc)
    return status is not None and (status in RETRYABLE_STATUS or status >= 500)


def backoff_wait(
    attempt: int, exc: BaseException | None, *, cap_s: float = RETRY_AFTER_CAP_S
) -> float:
    """Wait before retry number `attempt` (1-based): Retry-After if given, else jittered backoff."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    retry_after = parse_retry_after(headers) if headers is not None else None
    if retry_after is not None:
        return min(retry_after, cap_s)
    backoff = min(BACKOFF_BASE_S * 2 ** max(attempt - 1, 0), BACKOFF_MAX_S)
    return backoff + random.uniform(0, backoff / 4)


def tenacity_wait(cap_s: float = RETRY_AFTER_CAP_S) -> Callable[[RetryCallState], float]:
    """A tenacity `wait=` callable built on `backoff_wait`."""

    def _wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        return backoff_wait(state.attempt_number, exc, cap_s=cap_s)

    return _wait
