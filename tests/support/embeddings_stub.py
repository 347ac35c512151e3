"""An OpenAI-compatible embeddings server on 127.0.0.1 for tests: ``POST /v1/embeddings``.

Real HTTP on a real socket, answering like OpenAI / llama.cpp server / Ollama's OpenAI route:
``{"object": "list", "data": [{"object": "embedding", "index": i, "embedding": [...]}],
"model": ..., "usage": {...}}``, 401 on a wrong key, 400 on a bad body.

The vectors are a stand-in, not a language model: each word adds to a few "concept" axes from
a small hand-made lexicon (so "sister" and "family", "drowned" and "sea" land close, as they
would with a real embedder) plus a hashed axis of its own (so unrelated texts stay apart).
``vector_fn`` replaces it.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DIM = 64
CONCEPTS = {
    "family": "sister brother mother father family families sibling siblings kin daughter son",
    "sea": "sea drowned drown drowning shore tide waves beach ocean coast harbour point",
    "death": "drowned died dead death lost grave funeral killed",
    "fear": "afraid fear scared terrified frightened dread",
    "dark": "dark darkness night unlit",
    "music": "violin fiddle music song sing piano melody",
    "money": "gold coins money debt paid owe silver",
}
_AXIS = {name: i for i, name in enumerate(CONCEPTS)}
_WORDS: dict[str, list[int]] = {}
for _name, _words in CONCEPTS.items():
    for _w in _words.split():
        _WORDS.setdefault(_w, []).append(_AXIS[_name])


def concept_vector(text: str) -> list[float]:
    v = [0.0] * DIM
    for word in re.findall(r"[a-z]+", text.lower()):
        for axis in _WORDS.get(word, []):
            v[axis] += 3.0
        h = int(hashlib.sha256(word.encode()).hexdigest(), 16)
        v[len(CONCEPTS) + h % (DIM - len(CONCEPTS))] += 1.0
    norm = math.sqrt(sum(x * x for x in v)) or 1.0
    return [x / norm for x in v]


class EmbeddingsServer:
    def __init__(
        self,
        *,
        api_key: str | None = None,
        vector_fn: Callable[[str], list[float]] = concept_vector,
        delay_s: float = 0.0,
    ) -> None:
        self.api_key = api_key
        self.delay_s = delay_s
        self.vector_fn = vector_fn
        self.requests: list[dict[str, Any]] = []
        self.inputs = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return None

            def _json(self, status: int, data: Any) -> None:
                body = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if server.api_key and (
                    self.headers.get("Authorization") != f"Bearer {server.api_key}"
                ):
                    return self._json(401, {"error": {"message": "Invalid API Key"}})
                if self.path.rstrip("/") != "/v1/embeddings":
                    return self._json(404, {"error": {"message": "not found"}})
                try:
                    body = json.loads(raw)
                    texts = body["input"]
                    texts = [texts] if isinstance(texts, str) else list(texts)
                    assert all(isinstance(t, str) and t for t in texts)
                except (ValueError, KeyError, AssertionError, TypeError):
                    return self._json(400, {"error": {"message": "bad input"}})
                server.requests.append(body)
                time.sleep(server.delay_s)
                server.inputs += len(texts)
                data = [
                    {"object": "embedding", "index": i, "embedding": server.vector_fn(t)}
                    for i, t in enumerate(texts)
                ]
                tokens = sum(len(t.split()) for t in texts)
                self._json(
                    200,
                    {
                        "object": "list",
                        "data": data,
                        "model": body.get("model", ""),
                        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
                    },
                )

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True  # closing does not wait for a slow answer
        self.port = self._httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> EmbeddingsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
