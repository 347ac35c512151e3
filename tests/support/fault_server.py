"""An OpenAI-compatible server on 127.0.0.1 with named faults (issue 13.3/13.4).

Real sockets, real HTTP/1.1 and SSE, like the servers the faults were found against:

- ``trickle``: the headers at once, then one byte every ``interval_s`` for ever;
- ``cut``: a streamed answer cut in the middle of its JSON, then a clean close (no finish
  reason, no ``[DONE]``);
- ``broken``: a chunked stream whose connection closes inside a chunk;
- ``retry_after``: ``429`` with ``Retry-After: <retry_after>`` for the first ``fail_times``
  requests, then normal answers.

``only`` limits the fault to one agent (the schema name in ``response_format``); the others
get the canned answers of tests/fakes.py.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from support.openai_stub import _agent_of, _default_answers


class FaultServer:
    def __init__(
        self,
        fault: str,
        *,
        only: str | None = None,
        interval_s: float = 0.3,
        retry_after: str = "3600",
        fail_times: int = 1_000_000,
    ) -> None:
        self.fault = fault
        self.only = only
        self.interval_s = interval_s
        self.retry_after = retry_after
        self.fail_times = fail_times
        self.requests: list[dict[str, Any]] = []
        self.stop = threading.Event()
        answers = _default_answers()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return None

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _chunk(self, body: dict[str, Any], content: str, finish: str | None) -> bytes:
                chunk = {
                    "id": "f-1",
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": body.get("model", "m"),
                    "choices": [
                        {"index": 0, "delta": {"content": content}, "finish_reason": finish}
                    ],
                }
                return f"data: {json.dumps(chunk)}\n\n".encode()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                server.requests.append(body)
                agent = _agent_of(body)
                text = json.dumps(answers.get(agent, {"ok": True}))
                faulty = server.only is None or server.only == agent
                stream = bool(body.get("stream"))
                if (
                    faulty
                    and server.fault == "retry_after"
                    and len(server.requests) <= server.fail_times
                ):
                    msg = json.dumps({"error": {"message": "slow down"}}).encode()
                    hdrs = {"Content-Type": "application/json", "Retry-After": server.retry_after}
                    return self._send(429, msg, hdrs)
                if faulty and server.fault == "trickle":
                    self.send_response(200)
                    kind = "text/event-stream" if stream else "application/json"
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", "100000")
                    self.end_headers()
                    try:
                        while not server.stop.is_set():
                            self.wfile.write(b" ")
                            self.wfile.flush()
                            time.sleep(server.interval_s)
                    except OSError:
                        pass
                    return None
                pieces = [text[i : i + 8] for i in range(0, len(text), 8)]
                if not stream:
                    done = {
                        "id": "f-1",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body.get("model", "m"),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": text},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    }
                    return self._send(
                        200, json.dumps(done).encode(), {"Content-Type": "application/json"}
                    )
                if faulty and server.fault == "broken":  # chunked, cut inside a chunk
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    first = self._chunk(body, pieces[0], None)
                    self.wfile.write(f"{len(first):x}\r\n".encode() + first + b"\r\n")
                    self.wfile.write(b'400\r\ndata: {"id')  # promises 1024 bytes, sends 10
                    self.wfile.flush()
                    self.close_connection = True
                    return None
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                if faulty and server.fault == "cut":
                    for piece in pieces[: len(pieces) // 2]:
                        self.wfile.write(self._chunk(body, piece, None))
                    self.wfile.flush()
                    self.close_connection = True
                    return None
                for i, piece in enumerate(pieces):
                    finish = "stop" if i == len(pieces) - 1 else None
                    self.wfile.write(self._chunk(body, piece, finish))
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> FaultServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
