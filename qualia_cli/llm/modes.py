"""Structured-output modes: how a request asks for JSON, and how a refusal is recognised.

`json_schema` (strict) → `json_object` + the schema in the prompt → the schema in the prompt
only. Whatever the mode, the answer then goes through parse → repair → validate → corrective
retry (structured.py), so a server that silently ignores `response_format` still works.
"""

from __future__ import annotations

import re
from typing import Any

from qualia_cli.llm.base import ChatMessage, Request
from qualia_cli.llm.capabilities import Mode
from qualia_cli.llm.schema import schema_instruction

# what servers say when they do not take a response_format (OpenAI-style 400s, vLLM 400,
# OpenRouter 404 "No endpoints found that can handle the requested parameters", LM Studio…)
_REFUSAL = re.compile(
    r"response_format|json_schema|json_object|structured.output|"
    r"requested parameters|guided.decoding|grammar",
    re.IGNORECASE,
)


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


def apply_mode(params: dict[str, Any], request: Request, mode: Mode, *, openrouter: bool) -> None:
    """Set `response_format` / the messages in `params` for `mode` (schema requests only)."""
    if request.schema is None:
        return
    if mode == "json_schema":
        params["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": request.schema_name, "schema": request.schema, "strict": True},
        }
    else:
        params["messages"] = with_schema_instruction(list(request.messages), request.schema)
        if mode == "json_object":
            params["response_format"] = {"type": "json_object"}
    if openrouter and mode != "prompt":
        # route only to providers that honour response_format (else it is silently dropped)
        extra = params.setdefault("extra_body", {})
        extra.setdefault("provider", {})["require_parameters"] = True


def refused_mode(status: int | None, detail: str, mode: Mode) -> bool:
    """Did the server refuse the structured-output `mode` we sent (rather than fail)?"""
    if mode == "prompt" or status is None:
        return False
    if status not in (400, 404, 415, 422, 501):
        return False
    return bool(_REFUSAL.search(detail))


def error_detail(exc: BaseException) -> str:
    """The server's own message in an SDK error (OpenAI-style or vLLM-style body)."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            return str(err.get("message") or err)
        return str(err)
    return str(getattr(exc, "message", None) or exc)


def looks_unstructured(text: str) -> bool:
    """An answer with no JSON object in it at all: the schema was silently ignored."""
    return "{" not in text
