"""Ask a provider for a validated Pydantic value, with one corrective retry on bad output."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from qualia_cli.llm.base import ChatMessage, Completion, Provider, Request, Usage
from qualia_cli.llm.errors import ErrorCode, LLMError
from qualia_cli.llm.parsing import ParseError, parse_as
from qualia_cli.llm.schema import schema_for

log = logging.getLogger("qualia.llm")

__all__ = ["StructuredOutputError", "StructuredResult", "complete_structured", "schema_for"]

T = TypeVar("T")

CORRECTIVE_RETRIES = 1
_ECHO_LIMIT = 1500  # characters of the bad answer sent back to the model


@dataclass
class StructuredResult(Generic[T]):
    value: T
    raw: str  # the text of the answer that parsed
    usage: Usage  # summed over attempts
    latency_ms: float  # total over attempts
    model: str  # the caller's model label, e.g. "local/smollm2"
    repairs: int  # 1 if json_repair had to change the text
    retries: int  # corrective retries used
    finish_reason: str | None
    reasoning: str = ""  # the model's thinking over all attempts (never parsed)
    mode: str | None = None  # the structured-output mode of the answer that parsed


class StructuredOutputError(LLMError):
    """The model's answer could not be parsed/validated, even after the corrective retry."""

    def __init__(
        self,
        message: str,
        *,
        raw: str,
        usage: Usage,
        latency_ms: float,
        model: str | None = None,
        reasoning: str = "",
    ) -> None:
        super().__init__(ErrorCode.BAD_OUTPUT, message, model=model)
        self.raw = raw
        self.usage = usage
        self.latency_ms = latency_ms
        self.reasoning = reasoning


async def complete_structured(
    provider: Provider,
    request: Request,
    output_type: type[T],
    *,
    model_label: str,
    on_text: Callable[[str], None] | None = None,
) -> StructuredResult[T]:
    """Call `provider` and return its answer parsed and validated as `output_type`.

    `on_text(accumulated_raw)` is called on every streamed delta (only if the provider can
    stream); a corrective retry starts a new accumulation.
    """
    if request.schema is None:
        request = replace(request, schema=schema_for(output_type))
    usage = Usage()
    latency_ms = 0.0
    messages = list(request.messages)
    last_raw = ""
    last_error = ""
    thoughts: list[str] = []
    for attempt in range(CORRECTIVE_RETRIES + 1):
        current = replace(request, messages=messages)
        completion = await _call(provider, current, on_text)
        usage = usage + completion.usage
        latency_ms += completion.latency_ms
        last_raw = completion.text
        if completion.reasoning:
            thoughts.append(completion.reasoning)
        try:
            parsed = parse_as(completion.text, output_type)
        except ParseError as exc:
            last_error = _describe_failure(str(exc), completion)
            log.info("%s: bad structured output (try %d): %s", model_label, attempt + 1, last_error)
            messages = [*request.messages, *_correction(completion.text, last_error)]
            continue
        return StructuredResult(
            value=parsed.value,
            raw=completion.text,
            usage=usage,
            latency_ms=latency_ms,
            model=model_label,
            repairs=1 if parsed.repaired else 0,
            retries=attempt,
            finish_reason=completion.finish_reason,
            reasoning="\n\n".join(thoughts),
            mode=completion.mode,
        )
    raise StructuredOutputError(
        f"invalid structured output after {CORRECTIVE_RETRIES} corrective retry: {last_error}",
        raw=last_raw,
        usage=usage,
        latency_ms=latency_ms,
        model=model_label,
        reasoning="\n\n".join(thoughts),
    )


async def _call(
    provider: Provider, request: Request, on_text: Callable[[str], None] | None
) -> Completion:
    if on_text is None or not provider.capabilities.streaming:
        return await provider.complete(request)
    text = ""
    final: Completion | None = None
    async for delta in provider.stream(request):
        if delta.final is not None:
            final = delta.final
        elif delta.text:
            text += delta.text
            on_text(text)
    return final if final is not None else Completion(text=text)


def _describe_failure(error: str, completion: Completion) -> str:
    if completion.finish_reason == "length" and completion.reasoning and not completion.text:
        return f"the model spent max_tokens thinking and gave no answer ({error})"
    if completion.finish_reason == "length":
        return f"the answer was cut off at max_tokens ({error})"
    return error


def _correction(bad_answer: str, error: str) -> list[ChatMessage]:
    echoed = bad_answer if len(bad_answer) <= _ECHO_LIMIT else bad_answer[:_ECHO_LIMIT] + "…"
    return [
        ChatMessage(role="assistant", content=echoed or "(empty answer)"),
        ChatMessage(
            role="user",
            content=(
                f"That answer is not valid: {error}. Reply again with only the corrected "
                "JSON object that matches the schema: no prose, no code fences, keep it short."
            ),
        ),
    ]
