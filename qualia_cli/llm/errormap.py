"""Turn SDK / transport failures into one-line `LLMError`s that never contain the API key."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from qualia_cli.llm.errors import ErrorCode, LLMError
from qualia_cli.llm.keys import scrub
from qualia_cli.llm.retry import status_of

_MODEL_MISSING = re.compile(
    r"model.*(not found|does not exist|not a valid model|unknown|no such)|"
    r"(unknown|invalid|no such) model|not a valid model|no endpoints found",
    re.IGNORECASE,
)
_MAX_DETAIL = 200


def host_of(base_url: str) -> str:
    parts = urlsplit(base_url)
    return parts.netloc or base_url


@dataclass
class ErrorContext:
    """What an error message may mention about the endpoint (the key only to scrub it)."""

    base_url: str
    model_label: str
    model_id: str
    timeout_s: float
    api_key_env: str | None = None
    retries: int = 0
    api_key: str | None = field(default=None, repr=False)

    @property
    def host(self) -> str:
        return host_of(self.base_url)

    def clean(self, text: str) -> str:
        """One line, short, with the key masked."""
        line = " ".join(scrub(str(text), self.api_key).split())
        return line if len(line) <= _MAX_DETAIL else line[: _MAX_DETAIL - 1] + "…"

    def after_retries(self) -> str:
        if not self.retries:
            return ""
        return f" after {self.retries} {'retry' if self.retries == 1 else 'retries'}"

    def error(self, code: ErrorCode, message: str) -> LLMError:
        return LLMError(code, scrub(message, self.api_key), model=self.model_label)


class BadResponse(Exception):
    """The server answered 2xx but the body is not a usable chat completion."""


def _server_detail(exc: BaseException) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        if isinstance(err, str):
            return err
    message = getattr(exc, "message", None) or str(exc)
    return str(message)


def _cause(exc: BaseException) -> str:
    inner: BaseException | None = exc.__cause__ or exc.__context__
    seen = 0
    while inner is not None and (inner.__cause__ or inner.__context__) and seen < 5:
        inner = inner.__cause__ or inner.__context__
        seen += 1
    text = str(inner) if inner is not None else ""
    return text or (type(inner).__name__ if inner is not None else "connection failed")


def map_error(exc: BaseException, ctx: ErrorContext) -> LLMError:
    """The `LLMError` for any failure of a model call."""
    import openai

    if isinstance(exc, LLMError):
        return exc
    if isinstance(exc, TimeoutError):  # the call's total deadline (qualia_cli.deadline)
        return ctx.error(
            ErrorCode.TIMEOUT,
            f"no complete answer from {ctx.host} within "
            f"{getattr(exc, 'seconds', ctx.timeout_s):g}s (request_timeout_s "
            f"{ctx.timeout_s:g}s + margin): the server is too slow; "
            "retry, or raise request_timeout_s in the config",
        )
    if isinstance(exc, openai.APITimeoutError):
        return ctx.error(
            ErrorCode.TIMEOUT,
            f"no answer from {ctx.host} within {ctx.timeout_s:g}s: "
            "retry, or raise request_timeout_s in the config",
        )
    if isinstance(exc, openai.APIConnectionError):
        return ctx.error(
            ErrorCode.UNREACHABLE,
            f"cannot reach {ctx.base_url}: {ctx.clean(_cause(exc))} "
            "(is the server running and the URL right?)",
        )
    if isinstance(exc, openai.APIResponseValidationError):
        return ctx.error(
            ErrorCode.SERVER, f"{ctx.host} sent a malformed response: {ctx.clean(exc.message)}"
        )
    status = status_of(exc)
    if status is not None:
        return _map_status(status, ctx.clean(_server_detail(exc)), ctx)
    if isinstance(exc, BadResponse):
        return ctx.error(ErrorCode.SERVER, f"{ctx.host} {ctx.clean(str(exc))}")
    if isinstance(exc, ValueError):  # JSON decoding of a body or a stream event
        return ctx.error(
            ErrorCode.SERVER,
            f"{ctx.host} returned a body that is not valid JSON ({ctx.clean(str(exc))}): "
            "is base_url an OpenAI-compatible /v1 endpoint?",
        )
    if isinstance(exc, openai.OpenAIError):
        return ctx.error(ErrorCode.SERVER, f"{ctx.host}: {ctx.clean(str(exc))}")
    return ctx.error(ErrorCode.SERVER, f"{ctx.host}: {type(exc).__name__}: {ctx.clean(str(exc))}")


def _map_status(status: int, detail: str, ctx: ErrorContext) -> LLMError:
    if status in (401, 403):
        fix = (
            f"set {ctx.api_key_env} to a valid key (environment or keyring)"
            if ctx.api_key_env
            else "check the endpoint's API key"
        )
        return ctx.error(ErrorCode.AUTH, f"API key rejected by {ctx.host} ({status}): {fix}")
    if status == 402:
        return ctx.error(
            ErrorCode.CREDITS,
            f"out of credits at {ctx.host} (402 payment required: {detail}): "
            "add credits to the account, or use a free or local model",
        )
    if status == 404 or (status in (400, 422) and _MODEL_MISSING.search(detail)):
        return ctx.error(
            ErrorCode.NOT_FOUND,
            f"model '{ctx.model_id}' not found at {ctx.base_url} ({status}: {detail}): "
            "check the model name and the endpoint URL",
        )
    if status == 408:
        return ctx.error(ErrorCode.TIMEOUT, f"{ctx.host} timed out (408): {detail}")
    if status == 429:
        return ctx.error(
            ErrorCode.RATE_LIMITED,
            f"rate limited by {ctx.host}{ctx.after_retries()} ({detail}): "
            "wait a moment or use another model",
        )
    if status >= 500:
        return ctx.error(
            ErrorCode.SERVER, f"{ctx.host} server error {status}{ctx.after_retries()}: {detail}"
        )
    return ctx.error(ErrorCode.BAD_REQUEST, f"{ctx.host} rejected the request ({status}): {detail}")
