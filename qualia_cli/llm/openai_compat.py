"""A Provider for any OpenAI-compatible chat endpoint, through the official `openai` SDK.

The SDK's own retries are off: we retry 429 / 5xx / connection failures ourselves with
tenacity, honouring `Retry-After` (capped), so the wait is visible and testable. Every
failure becomes one `LLMError` line (see errormap.py); the API key never appears in one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from qualia_cli.llm.base import (
    Capabilities,
    ChatMessage,
    Completion,
    Request,
    StreamDelta,
    Usage,
)
from qualia_cli.llm.errormap import BadResponse, ErrorContext, host_of, map_error
from qualia_cli.llm.retry import RETRY_AFTER_CAP_S, is_retryable, tenacity_wait
from qualia_cli.llm.schema import schema_instruction

log = logging.getLogger(__name__)

T = TypeVar("T")

APP_URL = "https://github.com/qualia-cli/qualia"
OPENROUTER_HEADERS = {"HTTP-Referer": APP_URL, "X-Title": "qualia"}


def is_openrouter(base_url: str) -> bool:
    host = host_of(base_url).lower()
    return host == "openrouter.ai" or host.endswith(".openrouter.ai")


def with_schema_instruction(
    messages: list[ChatMessage], schema: dict[str, Any]
) -> list[ChatMessage]:
    """Add the JSON instruction to the first system message (or prepend one)."""
    note = schema_instruction(schema)
    out = [ChatMessage(role=m["role"], content=m["content"]) for m in messages]
    for msg in out:
        if msg["role"] == "system":
            msg["content"] = f"{msg['content']}\n\n{note}"
            return out
    return [ChatMessage(role="system", content=note), *out]


class OpenAICompatProvider:
    """Chat completions against `base_url` (e.g. https://openrouter.ai/api/v1)."""

    def __init__(
        self,
        name: str,
        base_url: str,
        api_key: str | None,
        *,
        headers: dict[str, str] | None = None,
        timeout_s: float = 120.0,
        max_retries: int = 3,
        capabilities: Capabilities = Capabilities(),
        http_client: httpx.AsyncClient | None = None,
        api_key_env: str | None = None,
        retry_after_cap_s: float = RETRY_AFTER_CAP_S,
    ) -> None:
        import openai

        self.name = name
        self.base_url = base_url.rstrip("/")
        self.capabilities = capabilities
        self.timeout_s = timeout_s
        self.max_retries = max(0, max_retries)
        self.api_key_env = api_key_env
        self.retry_after_cap_s = retry_after_cap_s
        self.openrouter = is_openrouter(self.base_url)
        self._openai_host = host_of(self.base_url).lower() == "api.openai.com"
        self._api_key = api_key
        # the sleep between retries; tests replace it to record the waits
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        all_headers = {**(OPENROUTER_HEADERS if self.openrouter else {}), **(headers or {})}
        self._client = openai.AsyncOpenAI(
            base_url=self.base_url,
            api_key=api_key or "no-key",
            default_headers=all_headers or None,
            timeout=timeout_s,
            max_retries=0,
            http_client=http_client,
        )

    def __repr__(self) -> str:
        return f"OpenAICompatProvider(name={self.name!r}, base_url={self.base_url!r})"

    # -- public API ---------------------------------------------------------------------

    async def complete(self, request: Request) -> Completion:
        started = time.perf_counter()
        params = self._params(request, stream=False)
        ctx = self._context(request)
        try:
            resp = await self._retrying(lambda: self._client.chat.completions.create(**params), ctx)
            completion = self._to_completion(resp, request)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise map_error(exc, ctx) from None
        completion.latency_ms = (time.perf_counter() - started) * 1000
        self._log(request, completion)
        return completion

    async def stream(self, request: Request) -> AsyncIterator[StreamDelta]:
        started = time.perf_counter()
        params = self._params(request, stream=True)
        ctx = self._context(request)
        try:
            chunks = await self._retrying(
                lambda: self._client.chat.completions.create(**params), ctx
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise map_error(exc, ctx) from None
        parts: list[str] = []
        usage = Usage()
        finish: str | None = None
        model = ""
        seen = 0
        try:
            async for chunk in chunks:
                seen += 1
                _raise_embedded_error(chunk)
                model = getattr(chunk, "model", None) or model
                if getattr(chunk, "usage", None):
                    usage = _usage(chunk.usage)
                for choice in getattr(chunk, "choices", None) or []:
                    delta = getattr(choice, "delta", None)
                    text = getattr(delta, "content", None) if delta is not None else None
                    if text:
                        parts.append(text)
                        yield StreamDelta(text=text)
                    if getattr(choice, "finish_reason", None):
                        finish = choice.finish_reason
            if seen == 0:
                raise BadResponse("returned an empty stream (no server-sent events)")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise map_error(exc, ctx) from None
        finally:
            await _close_quietly(chunks)
        completion = Completion(
            text="".join(parts),
            usage=usage,
            finish_reason=finish,
            latency_ms=(time.perf_counter() - started) * 1000,
            model=_model_name(model, request),
        )
        self._log(request, completion)
        yield StreamDelta(final=completion)

    async def aclose(self) -> None:
        await self._client.close()

    # -- internals ----------------------------------------------------------------------

    def _context(self, request: Request) -> ErrorContext:
        return ErrorContext(
            base_url=self.base_url,
            model_label=f"{self.name}/{request.model}",
            model_id=request.model,
            timeout_s=self.timeout_s,
            api_key_env=self.api_key_env,
            api_key=self._api_key,
        )

    def _params(self, request: Request, *, stream: bool) -> dict[str, Any]:
        messages = list(request.messages)
        params: dict[str, Any] = {"model": request.model, "temperature": request.temperature}
        # api.openai.com's newer models reject max_tokens; other servers expect it
        params["max_completion_tokens" if self._openai_host else "max_tokens"] = request.max_tokens
        if request.seed is not None:
            params["seed"] = request.seed
        if request.frequency_penalty:
            params["frequency_penalty"] = request.frequency_penalty
        if request.schema is not None:
            if self.capabilities.json_schema:
                params["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {
                        "name": request.schema_name,
                        "schema": request.schema,
                        "strict": True,
                    },
                }
            else:
                messages = with_schema_instruction(messages, request.schema)
        params["messages"] = messages
        if stream:
            params["stream"] = True
            params["stream_options"] = {"include_usage": True}
        if self.openrouter:
            params["extra_body"] = {"usage": {"include": True}}
        if request.extra:
            params["extra_body"] = {**params.get("extra_body", {}), **request.extra}
        return params

    async def _retrying(self, call: Callable[[], Awaitable[T]], ctx: ErrorContext) -> T:
        def before_sleep(state: RetryCallState) -> None:
            ctx.retries = state.attempt_number
            exc = state.outcome.exception() if state.outcome else None
            wait = state.next_action.sleep if state.next_action else 0.0
            log.info(
                "%s: %s, retry %d/%d in %.1fs",
                ctx.model_label,
                type(exc).__name__,
                state.attempt_number,
                self.max_retries,
                wait,
            )

        async def sleep(seconds: float) -> None:
            await self.sleep(seconds)

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.max_retries + 1),
            wait=tenacity_wait(self.retry_after_cap_s),
            retry=retry_if_exception(is_retryable),
            sleep=sleep,
            before_sleep=before_sleep,
            reraise=True,
        )

        async def attempt() -> T:  # tenacity awaits only coroutine functions
            return await call()

        return await retrying(attempt)

    def _to_completion(self, resp: Any, request: Request) -> Completion:
        from openai.types.chat import ChatCompletion

        if not isinstance(resp, ChatCompletion):
            snippet = " ".join(str(resp).split())[:80]
            raise BadResponse(f"returned a body that is not JSON: {snippet!r}")
        _raise_embedded_error(resp)
        try:
            choice = resp.choices[0]
            text = choice.message.content or ""
            finish = choice.finish_reason
        except (AttributeError, IndexError, KeyError, TypeError) as exc:
            raise BadResponse("returned JSON that is not a chat completion (no choices)") from exc
        usage = _usage(getattr(resp, "usage", None))
        return Completion(
            text=text,
            usage=usage,
            finish_reason=finish,
            model=_model_name(getattr(resp, "model", None), request),
        )

    def _log(self, request: Request, c: Completion) -> None:
        log.debug(
            "%s/%s agent=%s finish=%s tokens=%d+%d cost=%s %.0fms",
            self.name,
            request.model,
            request.agent or "-",
            c.finish_reason,
            c.usage.prompt_tokens,
            c.usage.completion_tokens,
            c.usage.cost_usd,
            c.latency_ms,
        )


def _usage(raw: Any) -> Usage:
    if raw is None:
        return Usage()
    cost: float | None = None
    extra = getattr(raw, "model_extra", None) or {}
    raw_cost = extra.get("cost", getattr(raw, "cost", None))
    if isinstance(raw_cost, int | float | str):
        try:
            cost = float(raw_cost)
        except ValueError:
            cost = None
    details = getattr(raw, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", None) if details is not None else None
    return Usage(
        prompt_tokens=int(getattr(raw, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(raw, "completion_tokens", 0) or 0),
        cost_usd=cost,
        cached_tokens=int(cached) if isinstance(cached, int | float) else None,
    )


def _model_name(reported: str | None, request: Request) -> str:
    """The model that answered; llama.cpp reports a file path, which says nothing useful."""
    if reported and not reported.lower().endswith(".gguf"):
        return reported
    return request.model


def _raise_embedded_error(obj: Any) -> None:
    """OpenRouter can send `{"error": {...}}` with status 200 (also inside a stream)."""
    extra = getattr(obj, "model_extra", None) or {}
    err = extra.get("error")
    if err:
        message = err.get("message") if isinstance(err, dict) else str(err)
        code = err.get("code") if isinstance(err, dict) else None
        raise BadResponse(f"reported an error{f' {code}' if code else ''}: {message}")


async def _close_quietly(chunks: Any) -> None:
    close = getattr(chunks, "close", None)
    if close is None:
        return
    try:
        await close()
    except Exception:  # pragma: no cover - closing a dead stream
        log.debug("closing stream failed", exc_info=True)
