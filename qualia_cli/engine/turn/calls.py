"""Run one agent against its model: build messages, call, parse, and log an AgentCall."""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from qualia_cli.agents.base import Agent
from qualia_cli.agents.context import StoryContext
from qualia_cli.agents.limits import schema_token_ceiling
from qualia_cli.agents.profile import local_extras
from qualia_cli.llm.base import Request
from qualia_cli.llm.errors import ErrorCode, LLMError
from qualia_cli.llm.router import ModelRouter
from qualia_cli.llm.structured import StructuredOutputError, complete_structured
from qualia_cli.memory.builder import build_prompt
from qualia_cli.store.records import AgentCall

T = TypeVar("T", bound=BaseModel)
log = logging.getLogger("qualia.engine")


@dataclass
class AgentOutcome(Generic[T]):
    value: T | None
    call: AgentCall
    error: LLMError | None = None
    context: dict[str, Any] | None = None  # what went into the prompt (memory/builder.py)


def stable_seed(*parts: object) -> int:
    return zlib.crc32(":".join(map(str, parts)).encode()) & 0x7FFFFFFF


async def run_agent(
    agent: type[Agent[T]],
    ctx: StoryContext,
    *,
    router: ModelRouter,
    model_name: str,
    budget_tokens: int,
    max_tokens: int,
    temperature: float,
    frequency_penalty: float = 0.0,
    seed: int,
    turn_started: float,
    on_text: Callable[[str], None] | None = None,
    stronger: bool = False,
    **inputs: Any,
) -> AgentOutcome[T]:
    """Never raises for model trouble: failures come back as an outcome with `error` set.

    ``max_tokens`` is raised to what the agent's schema can need (agents/limits.py), and an
    embedded model gets its slot, prompt cache and (small profile) DRY sampling; ``stronger``
    asks for a stronger repetition penalty (the quality gate's second try)."""
    started = time.monotonic()
    offset = started - turn_started
    context: dict[str, Any] | None = None
    try:
        provider, model_id = await router.aresolve(model_name)
        # in a worker thread: counting with the model's tokenizer is I/O
        built = await asyncio.to_thread(
            build_prompt, agent, ctx, ctx.memory, budget_tokens, **inputs
        )
        context = built.trace.to_dict()
        schema = agent.schema(ctx)
        request = Request(
            messages=built.messages,
            model=model_id,
            schema=schema,
            schema_name=agent.role,
            max_tokens=max(max_tokens, schema_token_ceiling(schema)),
            temperature=temperature,
            frequency_penalty=frequency_penalty,
            seed=seed,
            agent=agent.role,
            extra=local_extras(agent.role, model_name, ctx, stronger=stronger) or None,
        )
        result = await complete_structured(
            provider, request, agent.output, model_label=model_name, on_text=on_text
        )
    except LLMError as err:
        log.warning("agent %s failed on %s: %s", agent.role, model_name, err)
        return _failure(agent.role, model_name, err, started, offset, context)
    except Exception as err:  # a bug or an unexpected library error: degrade, never crash
        log.exception("agent %s crashed", agent.role)
        wrapped = LLMError(ErrorCode.SERVER, f"{type(err).__name__}: {err}", model=model_name)
        return _failure(agent.role, model_name, wrapped, started, offset, context)
    log.info(
        "agent %s ok on %s in %.0f ms (%d+%d tokens, repairs=%d, retries=%d)",
        agent.role,
        model_name,
        result.latency_ms,
        result.usage.prompt_tokens,
        result.usage.completion_tokens,
        result.repairs,
        result.retries,
    )
    if context is not None:
        context["tokens"] = token_split(result.usage.prompt_tokens, result.usage.cached_tokens)
    return AgentOutcome(
        result.value,
        AgentCall(
            agent=agent.role,
            model=model_name,
            ok=True,
            # the model's own time over its attempts (a replayed cassette: the recorded time)
            latency_ms=result.latency_ms or (time.monotonic() - started) * 1000,
            prompt_tokens=result.usage.prompt_tokens,
            completion_tokens=result.usage.completion_tokens,
            cost_usd=result.usage.cost_usd,
            repairs=result.repairs,
            retries=result.retries,
            raw_output=result.raw,
            started_at=offset,
            reasoning=result.reasoning or None,
            output_mode=result.mode,
        ),
        context=context,
    )


def _failure(
    role: str,
    model_name: str,
    err: LLMError,
    started: float,
    offset: float,
    context: dict[str, Any] | None = None,
) -> AgentOutcome[Any]:
    usage = getattr(err, "usage", None)  # a StructuredOutputError knows what it spent
    return AgentOutcome(
        None,
        AgentCall(
            agent=role,
            model=model_name,
            ok=False,
            latency_ms=getattr(err, "latency_ms", 0.0) or (time.monotonic() - started) * 1000,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            cost_usd=usage.cost_usd if usage else None,
            retries=1 if isinstance(err, StructuredOutputError) else 0,
            error=str(err),
            error_code=err.code.value,
            raw_output=getattr(err, "raw", None),
            started_at=offset,
            reasoning=getattr(err, "reasoning", None) or None,
        ),
        err,
        context,
    )


def token_split(prompt: int, cached: int | None) -> dict[str, int | None]:
    """Prompt tokens read from the server's cache vs evaluated (None: the server did not say)."""
    if cached is None:
        return {"prompt": prompt, "cached": None, "evaluated": None}
    return {"prompt": prompt, "cached": cached, "evaluated": max(0, prompt - cached)}
