"""A tiny OpenAI-compatible chat server on 127.0.0.1 for tests and benchmarks.

It answers `POST /v1/chat/completions` (plain and SSE streaming) after a fixed delay with
canned JSON chosen by the `response_format` schema name (the agent role), and `GET /v1/models`.
Real HTTP, real sockets: the client code under test is exactly what talks to a real endpoint.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Responder = Callable[[dict[str, Any]], str]


def _default_answers() -> dict[str, Any]:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from fakes import DEFAULTS  # tests/fakes.py

    return DEFAULTS


class StubServer:
    def __init__(
        self,
        delay_s: float = 0.1,
        responder: Responder | None = None,
        api_key: str | None = None,
    ) -> None:
        self.delay_s = delay_s
        self.api_key = api_key
        answers = _default_answers()
        self.responder = responder or (
            lambda body: json.dumps(answers.get(_agent_of(body), {"ok": True}))
        )
        self.requests: list[dict[str, Any]] = []
        self.spans: list[tuple[str, float, float]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return None

            def _auth_ok(self) -> bool:
                if server.api_key is None:
                    return True
                return self.headers.get("Authorization") == f"Bearer {server.api_key}"

            def _json(self, status: int, data: Any) -> None:
                body = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if not self._auth_ok():
                    return self._json(401, {"error": {"message": "Invalid API Key"}})
                if self.path.rstrip("/").endswith("/models"):
                    return self._json(200, {"object": "list", "data": [{"id": "stub"}]})
                self._json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if not self._auth_ok():
                    return self._json(401, {"error": {"message": "Invalid API Key"}})
                start = time.monotonic()
                with server._lock:
                    server.requests.append(body)
                time.sleep(server.delay_s)
                text = server.responder(body)
                usage = {"prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30}
                with server._lock:
                    server.spans.append((_agent_of(body), start, time.monotonic()))
                if not body.get("stream"):
                    return self._json(
                        200,
                        {
                            "id": "stub-1",
                            "object": "chat.completion",
                            "created": int(time.time()),
                            "model": body.get("model", "stub"),
                            "choices": [
                                {
                                    "index": 0,
                                    "message": {"role": "assistant", "content": text},
                                    "finish_reason": "stop",
                                }
                            ],
                            "usage": usage,
                        },
                    )
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                pieces = [text[i : i + 8] for i in range(0, len(text), 8)]
                for i, piece in enumerate(pieces):
                    chunk = {
                        "id": "stub-1",
                        "object": "chat.completion.chunk",
                        "created": int(time.time()),
                        "model": body.get("model", "stub"),
                        "choices": [
                            {
                                "index": 0,
                                "delta": {"content": piece},
                                "finish_reason": "stop" if i == len(pieces) - 1 else None,
                            }
                        ],
                    }
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                final = {
                    "id": "stub-1",
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": body.get("model", "stub"),
                    "choices": [],
                    "usage": usage,
                }
                self.wfile.write(f"data: {json.dumps(final)}\n\ndata: [DONE]\n\n".encode())
                self.wfile.flush()
                self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> StubServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _agent_of(body: dict[str, Any]) -> str:
    fmt = body.get("response_format") or {}
    name = (fmt.get("json_schema") or {}).get("name")
    if name:
        return str(name)
    for message in body.get("messages", []):
        content = str(message.get("content", ""))
        for role in ("Scenario Director", "Visual Director", "Strategist"):
            if role in content:
                return {"Scenario Director": "director", "Visual Director": "visual"}.get(
                    role, "strategist"
                )
    return "partner"
