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
from dataclasses import replace
from typing import Any, TypeVar

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from qualia_cli.deadline import Deadline, notify_wait
from qualia_cli.llm.base import (
    Capabilities,
    Completion,
    Request,
    StreamDelta,
    Usage,
)
from qualia_cli.llm.capabilities import CapabilityRegistry, Mode, ModelCaps
from qualia_cli.llm.errormap import BadResponse, ErrorContext, host_of, map_error
from qualia_cli.llm.modes import apply_mode, error_detail, looks_unstructured, refused_mode
from qualia_cli.llm.modes import with_schema_instruction as with_schema_instruction
from qualia_cli.llm.reasoning import ThinkFilter, reasoning_of, split_reasoning
from qualia_cli.llm.retry import RETRY_AFTER_CAP_S, is_retryable, status_of, tenacity_wait

log = logging.getLogger("qualia.llm")

T = TypeVar("T")

APP_URL = "https://github.com/qualia-cli/qualia"
OPENROUTER_HEADERS = {"HTTP-Referer": APP_URL, "X-Title": "qualia"}


def is_openrouter(base_url: str) -> bool:
    host = host_of(base_url).lower()
    return host == "openrouter.ai" or host.endswith(".openrouter.ai")


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
        registry: CapabilityRegistry | None = None,
        openrouter: bool | None = None,
        reasoning_tokens: int = 1024,
    ) -> None:
        import openai

        self.name = name
        self.base_url = base_url.rstrip("/")
        self.capabilities = capabilities
        self.timeout_s = timeout_s
        self.max_retries = max(0, max_retries)
        self.api_key_env = api_key_env
        self.retry_after_cap_s = retry_after_cap_s
        self.openrouter = is_openrouter(self.base_url) if openrouter is None else openrouter
        # what each model can do (shared with the router); learns from refusals
        self.registry = registry or CapabilityRegistry(persist=False)
        self.reasoning_tokens = reasoning_tokens
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

    def caps(self, model: str) -> ModelCaps:
        """What `model` (provider-side id) supports: the registry, narrowed by this endpoint's
        static capabilities."""
        caps = self.registry.caps(f"{self.name}/{model}", catalog_provider=self.openrouter)
        if not self.capabilities.json_schema and caps.forced_mode is None:
            # the static flag predates modes: no response_format at all, schema in the prompt
            caps = replace(caps, json_schema=False, json_object=False)
        if not self.capabilities.streaming:
            caps = replace(caps, streaming=False)
        return caps

    async def complete(self, request: Request) -> Completion:
        started = time.perf_counter()
        ctx = self._context(request)
        deadline = Deadline(self.timeout_s)  # the whole call, modes, retries and waits included
        caps = await self._caps_for_call(request)
        completion: Completion | None = None
        for mode in self._modes(request, caps):
            params = self._params(request, stream=False, mode=mode, caps=caps)
            try:
                resp = await deadline.run(
                    self._retrying(
                        lambda params=params: self._client.chat.completions.create(**params),
                        ctx,
                        deadline,
                    )
                )
                completion = self._to_completion(resp, request)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._refused(exc, request, mode):
                    continue
                raise map_error(exc, ctx) from None
            completion.mode = mode
            break
        assert completion is not None  # "prompt" is never refused
        completion.latency_ms = (time.perf_counter() - started) * 1000
        self._after(request, caps, completion)
        self._log(request, completion)
        return completion

    async def stream(self, request: Request) -> AsyncIterator[StreamDelta]:
        started = time.perf_counter()
        ctx = self._context(request)
        deadline = Deadline(self.timeout_s)  # connect, every read, modes, retries and waits
        caps = await self._caps_for_call(request)
        chunks: Any = None
        used: Mode = "prompt"
        for mode in self._modes(request, caps):
            params = self._params(request, stream=True, mode=mode, caps=caps)
            try:
                chunks = await deadline.run(
                    self._retrying(
                        lambda params=params: self._client.chat.completions.create(**params),
                        ctx,
                        deadline,
                    )
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._refused(exc, request, mode):
                    continue
                raise map_error(exc, ctx) from None
            used = mode
            break
        parts: list[str] = []
        thinking: list[str] = []
        think = ThinkFilter()  # <think> blocks inline in the content never reach the caller
        usage = Usage()
        finish: str | None = None
        model = ""
        seen = 0
        try:
            async for chunk in deadline.iterate(chunks):
                seen += 1
                _raise_embedded_error(chunk)
                model = getattr(chunk, "model", None) or model
                if getattr(chunk, "usage", None):
                    usage = _usage(chunk.usage)
                for choice in getattr(chunk, "choices", None) or []:
                    delta = getattr(choice, "delta", None)
                    thought = reasoning_of(delta)
                    if thought:
                        thinking.append(thought)
                    text = getattr(delta, "content", None) if delta is not None else None
                    visible = think.feed(text) if text else ""
                    if visible:
                        parts.append(visible)
                        yield StreamDelta(text=visible)
                    if getattr(choice, "finish_reason", None):
                        finish = choice.finish_reason
            if seen == 0:
                raise BadResponse("returned an empty stream (no server-sent events)")
            if finish is None:  # no finish reason: the server stopped mid-answer
                raise BadResponse("ended the stream before the answer was complete")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if seen and _is_transport_error(exc):
                exc = BadResponse("cut the answer off mid-stream (the connection broke)")
            raise map_error(exc, ctx) from None
        finally:
            await _close_quietly(chunks)
        tail = think.finish()
        if tail:
            parts.append(tail)
            yield StreamDelta(text=tail)
        text, inline = split_reasoning("".join(parts))  # an unopened block ending in </think>
        completion = Completion(
            text=text,
            usage=usage,
            finish_reason=finish,
            latency_ms=(time.perf_counter() - started) * 1000,
            model=_model_name(model, request),
            reasoning="\n\n".join(t for t in ("".join(thinking), think.reasoning, inline) if t),
            mode=used,
        )
        self._after(request, caps, completion)
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

    async def _caps_for_call(self, request: Request) -> ModelCaps:
        if self.openrouter:  # the model list, fetched once per run when the cache is stale
            await self.registry.arefresh_if_stale(self.base_url)
        return self.caps(request.model)

    def _modes(self, request: Request, caps: ModelCaps) -> list[Mode]:
        return caps.modes if request.schema is not None else ["prompt"]

    def _refused(self, exc: BaseException, request: Request, mode: Mode) -> bool:
        """A 4xx that names response_format/json_schema: remember it, fall back a mode."""
        detail = error_detail(exc)
        if not refused_mode(status_of(exc), detail, mode):
            return False
        log.info("%s/%s refused %s (%s): falling back", self.name, request.model, mode, detail)
        self.registry.learn(f"{self.name}/{request.model}", **{mode: False})
        return True

    def _after(self, request: Request, caps: ModelCaps, completion: Completion) -> None:
        """Learn from an answer: reasoning seen, a schema silently ignored; fill in the cost."""
        name = f"{self.name}/{request.model}"
        if completion.reasoning and not caps.reasoning:
            self.registry.learn(name, reasoning=True)
        if (
            request.schema is not None
            and completion.mode in ("json_schema", "json_object")
            and completion.text.strip()
            and looks_unstructured(completion.text)
        ):
            # a server that took response_format and answered free text does not honour it:
            # the corrective retry (structured.py) goes out in the next mode
            log.info("%s ignored %s: answered free text", name, completion.mode)
            self.registry.learn(name, **{completion.mode: False})
        if completion.usage.cost_usd is None:
            cost = caps.cost(completion.usage.prompt_tokens, completion.usage.completion_tokens)
            if cost is not None:
                completion.usage.cost_usd = cost

    def _params(
        self,
        request: Request,
        *,
        stream: bool,
        mode: Mode = "json_schema",
        caps: ModelCaps | None = None,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"model": request.model, "temperature": request.temperature}
        max_tokens = request.max_tokens
        reasoning = caps is not None and caps.reasoning and self.reasoning_tokens > 0
        if reasoning:  # thinking counts against max_tokens: leave the answer its own share
            max_tokens += self.reasoning_tokens
        # api.openai.com's newer models reject max_tokens; other servers expect it
        params["max_completion_tokens" if self._openai_host else "max_tokens"] = max_tokens
        # with require_parameters, a parameter the model's providers lack would leave no
        # provider at all: send only what the model list says it takes
        if request.seed is not None and (caps is None or caps.accepts("seed")):
            params["seed"] = request.seed
        if request.frequency_penalty and (caps is None or caps.accepts("frequency_penalty")):
            params["frequency_penalty"] = request.frequency_penalty
        params["messages"] = list(request.messages)
        if self.openrouter:
            params["extra_body"] = {"usage": {"include": True}}
            if reasoning:
                params["extra_body"]["reasoning"] = {"max_tokens": self.reasoning_tokens}
        apply_mode(params, request, mode, openrouter=self.openrouter)
        if stream:
            params["stream"] = True
            params["stream_options"] = {"include_usage": True}
        if request.extra:  # server-specific sampling (llama.cpp slots, DRY) from the agent
            params["extra_body"] = {**params.get("extra_body", {}), **request.extra}
        return params

    async def _retrying(
        self,
        call: Callable[[], Awaitable[T]],
        ctx: ErrorContext,
        deadline: Deadline | None = None,
    ) -> T:
        pending: list[BaseException] = []

        def before_sleep(state: RetryCallState) -> None:
            ctx.retries = state.attempt_number
            exc = state.outcome.exception() if state.outcome else None
            pending[:] = [exc] if exc is not None else []
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
            if deadline is not None and not deadline.allows(seconds) and pending:
                raise pending[0]  # no time left to wait: fail now with the server's answer
            if seconds >= 1:
                limited = bool(pending) and getattr(pending[0], "status_code", None) == 429
                notify_wait(seconds, "the rate limit" if limited else f"{ctx.host} to recover")
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
        text, inline = split_reasoning(text)
        field = reasoning_of(choice.message)
        return Completion(
            text=text,
            usage=usage,
            finish_reason=finish,
            model=_model_name(getattr(resp, "model", None), request),
            reasoning="\n\n".join(t for t in (field, inline) if t),
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


def _is_transport_error(exc: BaseException) -> bool:
    import openai

    return isinstance(exc, openai.APIConnectionError | httpx.TransportError)


async def _close_quietly(chunks: Any) -> None:
    close = getattr(chunks, "close", None)
    if close is None:
        return
    try:
        await close()
    except Exception:  # pragma: no cover - closing a dead stream
        log.debug("closing stream failed", exc_info=True)
