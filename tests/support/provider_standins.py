"""Stand-ins for real OpenAI-compatible providers, on 127.0.0.1, behaving as their docs say.

Each `Dialect` reproduces documented behaviour of one server (the test files cite the pages):
how it answers `response_format`, where it puts reasoning, what its usage carries, what its
error bodies look like and how it lists models. Real HTTP and SSE over real sockets: the
client under test is exactly what talks to the real server.

The "model" behind every dialect answers like a cooperative instruction-tuned model: with a
schema it can see (enforced by `response_format`, or written in the prompt) it answers JSON
that fits; with `json_schema` silently ignored and no schema in the prompt it answers prose.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from support.openai_stub import _agent_of, _default_answers

PROSE = "Of course! Mira smiles and says hello, glad to see you out of the rain."


@dataclass
class Dialect:
    name: str
    # how the server treats response_format {"type": "json_schema"} / {"type": "json_object"}:
    # "enforce" | "ignore" (answers as if absent) | "reject" (400)
    json_schema: str = "enforce"
    json_object: str = "enforce"
    schema_refusal: tuple[int, dict[str, Any]] = (400, {})
    # where reasoning goes: None | "reasoning" | "reasoning_content" | "think" (inline tags)
    reasoning: str | None = None
    thought: str = "The player is friendly. I should answer warmly and keep it short."
    usage_cost: bool = False  # usage.cost when the request asks for usage accounting
    models: list[dict[str, Any]] = field(default_factory=list)  # GET /models data
    known_models: set[str] | None = None  # None: any model id is served
    not_found: Callable[[str], tuple[int, dict[str, Any]]] | None = None
    models_path: str = "/v1/models"


def openrouter_not_found(model: str) -> tuple[int, dict[str, Any]]:
    return 400, {"error": {"code": 400, "message": f"{model} is not a valid model ID"}}


def ollama_not_found(model: str) -> tuple[int, dict[str, Any]]:
    msg = f'model "{model}" not found, try pulling it first'
    return 404, {"error": {"message": msg, "type": "api_error", "param": None, "code": None}}


def vllm_not_found(model: str) -> tuple[int, dict[str, Any]]:
    msg = f"The model `{model}` does not exist."
    return 404, {"object": "error", "message": msg, "type": "NotFoundError", "param": None,
                 "code": 404}  # fmt: skip


def openrouter_model(
    model_id: str,
    *,
    context: int = 131072,
    prompt: str = "0.00000015",
    completion: str = "0.0000006",
    params: tuple[str, ...] = ("max_tokens", "response_format", "structured_outputs"),
) -> dict[str, Any]:
    """One entry of OpenRouter's GET /api/v1/models, with its documented fields."""
    return {
        "id": model_id,
        "name": model_id,
        "created": 1700000000,
        "context_length": context,
        "architecture": {"modality": "text->text", "tokenizer": "Other"},
        "pricing": {"prompt": prompt, "completion": completion, "request": "0", "image": "0"},
        "top_provider": {
            "context_length": context,
            "max_completion_tokens": 16384,
            "is_moderated": False,
        },
        "supported_parameters": list(params),
    }


def instance_for(schema: dict[str, Any]) -> Any:
    """A small value that validates against `schema` (for agents without a canned answer)."""
    if "enum" in schema:
        return schema["enum"][0]
    if "anyOf" in schema:
        return instance_for(schema["anyOf"][0])
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties") or {}
        return {k: instance_for(v) for k, v in props.items()}
    if kind == "array":
        return [instance_for(schema.get("items") or {}) for _ in range(schema.get("minItems", 0))]
    if kind == "integer":
        return int(schema.get("minimum", 0)) if schema.get("minimum", 0) > 0 else 0
    if kind == "number":
        return 0.0
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return "ok" if schema.get("maxLength", 2) >= 2 else "o"


_SCHEMA_IN_PROMPT = re.compile(r"It must match this JSON schema: (\{.*\})\s*$", re.DOTALL)


def _prompt_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    for m in body.get("messages", []):
        if m.get("role") != "system":
            continue
        found = _SCHEMA_IN_PROMPT.search(str(m.get("content", "")))
        if found:
            return json.loads(found.group(1))
    return None


class StandIn:
    """A provider stand-in. `script` holds one-shot failures consumed by the next requests:
    `("status", code, body, headers)`, `("stream_error", message)` (OpenRouter mid-stream)."""

    def __init__(self, dialect: Dialect, *, api_key: str | None = None) -> None:
        self.dialect = dialect
        self.api_key = api_key
        self.answers = _default_answers()
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []  # per request, names lower-cased
        self.gets: list[str] = []  # paths of GET requests
        self.script: list[tuple[Any, ...]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return None

            def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(raw)

            def _auth_ok(self) -> bool:
                if server.api_key is None:
                    return True
                return self.headers.get("Authorization") == f"Bearer {server.api_key}"

            def do_GET(self) -> None:
                with server._lock:
                    server.headers.append({k.lower(): v for k, v in self.headers.items()})
                    server.gets.append(self.path)
                if self.path.rstrip("/") == server.dialect.models_path:
                    return self._json(200, {"object": "list", "data": server.dialect.models})
                self._json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with server._lock:
                    server.requests.append(body)
                    server.headers.append({k.lower(): v for k, v in self.headers.items()})
                    step = server.script.pop(0) if server.script else None
                if not self._auth_ok():
                    return self._json(401, {"error": {"code": 401, "message": "No auth"}})
                d = server.dialect
                model = str(body.get("model"))
                if d.known_models is not None and model not in d.known_models and d.not_found:
                    return self._json(*d.not_found(model))
                if step and step[0] == "status":
                    _, code, payload, headers = step
                    return self._json(code, payload, headers)
                fmt = (body.get("response_format") or {}).get("type")
                if fmt and getattr(d, fmt) == "reject":
                    return self._json(*d.schema_refusal)
                text = server.answer(body, fmt)
                if not body.get("stream"):
                    return self._json(200, server.completion(body, text))
                self._stream(body, text, step)

            def _stream(self, body: dict[str, Any], text: str, step: Any) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()

                def send(obj: Any) -> None:
                    self.wfile.write(f"data: {json.dumps(obj)}\n\n".encode())
                    self.wfile.flush()

                self.wfile.write(b": OPENROUTER PROCESSING\n\n")  # SSE comment, to be ignored
                d = server.dialect
                where = server.reasoning(body)
                if where in ("reasoning", "reasoning_content"):
                    for i in range(0, len(d.thought), 16):
                        send(server.chunk(body, {where: d.thought[i : i + 16]}))
                shown = f"<think>{d.thought}</think>\n{text}" if where == "think" else text
                pieces = [shown[i : i + 7] for i in range(0, len(shown), 7)]
                half = len(pieces) // 2
                for i, piece in enumerate(pieces):
                    if step and step[0] == "stream_error" and i == half:
                        err = server.chunk(body, {"content": ""}, finish="error")
                        err["error"] = {"code": "server_error", "message": step[1]}
                        send(err)
                        self.close_connection = True
                        return
                    finish = "stop" if i == len(pieces) - 1 else None
                    send(server.chunk(body, {"content": piece}, finish=finish))
                final = server.chunk(body, None)
                final["choices"] = []
                final["usage"] = server.usage(body, text)
                send(final)
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    # the "model" ------------------------------------------------------------------------

    def reasoning(self, body: dict[str, Any]) -> str | None:
        """Where this model puts its thinking; with a model list, only models listed with the
        `reasoning` parameter think (as on OpenRouter, where other models send null)."""
        d = self.dialect
        listed = {m["id"]: m for m in d.models}
        entry = listed.get(str(body.get("model")))
        if entry is not None and "reasoning" not in entry.get("supported_parameters", []):
            return None
        return d.reasoning

    def answer(self, body: dict[str, Any], fmt: str | None) -> str:
        d = self.dialect
        enforced = None
        if fmt == "json_schema" and d.json_schema == "enforce":
            enforced = body["response_format"]["json_schema"]["schema"]
        schema = enforced or _prompt_schema(body)
        if schema is None:
            return PROSE  # no schema it can see: a chatty model answers in prose
        agent = _agent_of(body)
        canned = self.answers.get(agent)
        if canned is not None and set(canned) == set(schema.get("properties") or {}):
            return json.dumps(canned)
        return json.dumps(instance_for(schema))

    def usage(self, body: dict[str, Any], text: str) -> dict[str, Any]:
        prompt = sum(len(str(m.get("content", ""))) for m in body.get("messages", [])) // 4
        thought = len(self.dialect.thought) // 4 if self.reasoning(body) else 0
        completion = len(text) // 4 + thought
        usage: dict[str, Any] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        if thought:
            usage["completion_tokens_details"] = {"reasoning_tokens": thought}
        if self.dialect.usage_cost and (body.get("usage") or {}).get("include"):
            usage["cost"] = round(prompt * 0.00000015 + completion * 0.0000006, 9)
        return usage

    def completion(self, body: dict[str, Any], text: str) -> dict[str, Any]:
        d = self.dialect
        message: dict[str, Any] = {"role": "assistant", "content": text}
        where = self.reasoning(body)
        if where in ("reasoning", "reasoning_content"):
            message[where] = d.thought
        elif where == "think":
            message["content"] = f"<think>{d.thought}</think>\n\n{text}"
        return {
            "id": "gen-1",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model"),
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": self.usage(body, text),
        }

    def chunk(
        self, body: dict[str, Any], delta: dict[str, Any] | None, finish: str | None = None
    ) -> dict[str, Any]:
        return {
            "id": "gen-1",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model"),
            "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}],
        }

    # lifecycle --------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> StandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# -- the dialects, as documented --------------------------------------------------------


def openrouter(**kw: Any) -> Dialect:
    """https://openrouter.ai/docs/api-reference/overview, /docs/errors, /docs/use-cases/
    reasoning-tokens, /docs/use-cases/usage-accounting, /docs/api-reference/streaming."""
    base: dict[str, Any] = {
        "name": "openrouter",
        "reasoning": "reasoning",
        "usage_cost": True,
        "models": [openrouter_model("vendor/model")],
        "not_found": openrouter_not_found,
        "schema_refusal": (
            404,
            {
                "error": {
                    "code": 404,
                    "message": "No endpoints found that can handle the requested parameters.",
                }
            },
        ),
    }
    base.update(kw)
    return Dialect(**base)


def ollama(**kw: Any) -> Dialect:
    """https://docs.ollama.com/api/openai-compatibility; before 0.5 `response_format`
    json_schema was not understood and the answer came back unconstrained."""
    base: dict[str, Any] = {"name": "ollama", "json_schema": "ignore"}
    base["not_found"] = ollama_not_found
    base.update(kw)
    return Dialect(**base)


def llamacpp(**kw: Any) -> Dialect:
    """https://github.com/ggml-org/llama.cpp/blob/master/tools/server/README.md: json_schema
    and json_object become a grammar; `--reasoning-format none` leaves <think> in content."""
    base: dict[str, Any] = {"name": "llamacpp", "reasoning": "think"}
    base.update(kw)
    return Dialect(**base)


def vllm(**kw: Any) -> Dialect:
    """https://docs.vllm.ai/en/v0.8.3/features/reasoning_outputs.html (reasoning_content) and
    https://docs.vllm.ai/en/latest/features/structured_outputs/ (json_schema)."""
    base: dict[str, Any] = {
        "name": "vllm",
        "reasoning": "reasoning_content",
        "not_found": vllm_not_found,
    }
    base.update(kw)
    return Dialect(**base)


def no_structured_output(**kw: Any) -> Dialect:
    """A server with no structured output at all: 400 on any response_format."""
    base: dict[str, Any] = {
        "name": "plain",
        "json_schema": "reject",
        "json_object": "reject",
        "schema_refusal": (
            400,
            {
                "error": {
                    "message": "response_format is not supported by this server",
                    "type": "invalid_request_error",
                }
            },
        ),
    }
    base.update(kw)
    return Dialect(**base)
