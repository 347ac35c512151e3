"""A ComfyUI stand-in on 127.0.0.1: real HTTP and a real websocket, answering like the captures.

Built from shared/comfyui/ (PROTOCOL.md, object_info.json, captures/): the same endpoints, the
same 400/500 bodies. This module is the server and its HTTP routes; comfy_jobs.py is the
websocket and the execution of prompts, including the ways `mode` makes it misbehave
("exec_error", "hang", "drop_socket"). Here: "unresponsive" (accepts connections, never
answers), `die()` (a server that goes away mid-job), `/upload/image`, and `view_bytes` (a huge
`/view` answer, streamed without ever being held in memory).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.datastructures import Headers

from support.comfy_data import capture, object_info, shared_comfyui
from support.comfy_jobs import ComfyJobs
from support.comfy_validate import top_error, validate

__all__ = ["ComfyStub", "capture", "object_info", "shared_comfyui"]

TRAPPED = "500 Internal Server Error\n\nServer got itself in trouble"


class ComfyStub(ComfyJobs):
    def __init__(
        self,
        *,
        delay_s: float = 0.05,
        mode: str = "ok",
        ckpts: list[str] | None = None,
        history_delay_s: float = 0.02,
    ) -> None:
        super().__init__(delay_s=delay_s, mode=mode, history_delay_s=history_delay_s)
        self.info = json.loads(json.dumps(object_info()))
        if ckpts is not None:
            self.info["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"][0] = ckpts
        self.serve_anything = False  # a malicious server: /view answers any name
        self.submitted: list[dict[str, Any]] = []
        self.interrupts: list[Any] = []
        self.views: list[dict[str, str]] = []
        self.uploads: dict[tuple[str, str], bytes] = {}  # (subfolder, name) -> bytes
        self.view_bytes: int | None = None  # answer /view with this many bytes (a PNG header)
        self.view_length = True  # send Content-Length with a huge answer (else chunked)
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._number = itertools.count(0)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ComfyStub:
        import PIL.Image  # noqa: F401 - imported now, not inside the first timed job

        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)

            async def main() -> None:
                self._queue = asyncio.Queue()
                server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
                self._server = server
                self.port = server.sockets[0].getsockname()[1]
                worker = asyncio.ensure_future(self._worker())
                ready.set()
                self._stop = asyncio.Event()
                await self._stop.wait()
                worker.cancel()
                server.close()
                for task in list(self._handlers):
                    task.cancel()
                await asyncio.gather(*self._handlers, return_exceptions=True)
                for sockets in self._sockets.values():
                    for s in sockets:
                        s.drop()

            loop.run_until_complete(main())
            loop.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._interrupt.set()
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)

    def die(self) -> None:
        """Go away: stop listening and cut every open connection (mid-request included)."""

        def kill() -> None:
            if self._server is not None:
                self._server.close()
            for writer in list(self._writers):
                writer.transport.abort()

        assert self._loop is not None
        self.mode = "dead"
        self._loop.call_soon_threadsafe(kill)

    def __enter__(self) -> ComfyStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ HTTP

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = Headers()
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip()] = v.strip()
                body = await reader.readexactly(int(headers.get("Content-Length", "0") or 0))
                if self.mode == "unresponsive":  # accepts, reads, never answers
                    await asyncio.Event().wait()
                if headers.get("Upgrade", "").lower() == "websocket":
                    await self._websocket(reader, writer, target, head)
                    return
                status, ctype, payload = await self._route(method, target, headers, body)
                if isinstance(payload, int):  # a huge /view answer, written in pieces
                    await self._write_huge(writer, payload)
                    continue
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\n"
                    f"Content-Length: {len(payload)}\r\n\r\n".encode()
                    + payload
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            writer.transport.abort()
        finally:
            self._writers.discard(writer)
            self._handlers.discard(task)  # type: ignore[arg-type]
            writer.close()

    async def _write_huge(self, writer: asyncio.StreamWriter, size: int) -> None:
        head = b"\x89PNG\r\n\x1a\n"
        chunk = b"\0" * 65536
        if self.view_length:
            writer.write(
                f"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n"
                f"Content-Length: {size}\r\n\r\n".encode()
                + head
            )
            left = size - len(head)
            while left > 0:
                writer.write(chunk[: min(left, len(chunk))])
                left -= len(chunk)
                await writer.drain()
            return
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        writer.write(f"{len(head):x}\r\n".encode() + head + b"\r\n")
        left = size - len(head)
        while left > 0:
            piece = chunk[: min(left, len(chunk))]
            writer.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            left -= len(piece)
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    async def _route(
        self, method: str, target: str, headers: Headers, body: bytes
    ) -> tuple[int, str, bytes | int]:
        url = urlsplit(target)
        path, query = url.path, parse_qs(url.query)
        origin = headers.get("Origin")
        if origin and urlsplit(origin).netloc != headers.get("Host"):
            return 403, "text/plain", b"403: Forbidden"
        if method == "GET" and path == "/system_stats":
            return self._json(capture("system_stats.json")["json"])
        if method == "GET" and path == "/object_info":
            return self._json(self.info)
        if method == "GET" and path.startswith("/object_info/"):
            name = path.split("/", 2)[2]
            return self._json({name: self.info[name]} if name in self.info else {})
        if method == "GET" and path == "/queue":
            running = [[0, self._running, {}, {}, []]] if self._running else []
            return self._json(
                {
                    "queue_running": running,
                    "queue_pending": [[0, p, {}, {}, []] for p in self._pending],
                }
            )
        if method == "GET" and path.startswith("/history/"):
            pid = path.split("/", 2)[2]
            return self._json({pid: self.history[pid]} if pid in self.history else {})
        if method == "GET" and path == "/history":
            return self._json(self.history)
        if method == "POST" and path == "/prompt":
            return self._post_prompt(body)
        if method == "POST" and path == "/interrupt":
            data = json.loads(body) if body else {}
            self.interrupts.append(data)
            target_id = data.get("prompt_id") if isinstance(data, dict) else None
            if target_id is None or target_id == self._running:
                self._interrupt.set()
            return 200, "text/plain", b""
        if method == "POST" and path == "/queue":
            data = json.loads(body) if body else {}
            for pid in data.get("delete") or []:
                if pid in self._pending:
                    self._pending.remove(pid)
                    self._deleted.add(pid)
            return 200, "text/plain", b""
        if method == "GET" and path == "/view":
            return self._view(query)
        if method == "POST" and path == "/upload/image":
            return self._upload(headers, body)
        return 404, "text/plain", b"404: Not Found"

    @staticmethod
    def _json(data: Any, status: int = 200) -> tuple[int, str, bytes]:
        return status, "application/json; charset=utf-8", json.dumps(data).encode()

    def _post_prompt(self, body: bytes) -> tuple[int, str, bytes]:
        try:
            data = json.loads(body)
        except ValueError:
            return 500, "text/plain; charset=utf-8", TRAPPED.encode()
        if not isinstance(data, dict) or "prompt" not in data:
            return self._json(
                top_error("no_prompt", "No prompt provided", "No prompt provided"), 400
            )
        prompt = data["prompt"]
        if not isinstance(prompt, dict):
            return 500, "text/plain; charset=utf-8", TRAPPED.encode()
        status, answer, outputs = validate(prompt, self.info)
        if status != 200:
            return self._json(answer, status)
        pid = str(data.get("prompt_id") or uuid.uuid4())
        number = next(self._number)
        self.submitted.append(prompt)
        self._pending.append(pid)
        assert self._queue is not None
        self._queue.put_nowait((pid, prompt, data.get("client_id"), outputs))
        self._broadcast(
            {
                "type": "status",
                "data": {
                    "status": {
                        "exec_info": {"queue_remaining": len(self._pending) + bool(self._running)}
                    }
                },
            }
        )
        return self._json(
            {"prompt_id": pid, "number": number, "node_errors": answer["node_errors"]}
        )

    def _upload(self, headers: Headers, body: bytes) -> tuple[int, str, bytes]:
        """Like ComfyUI: a multipart form with `image` (and optional `overwrite`, `subfolder`,
        `type`); a taken name without overwrite becomes `name (1).png`; the file joins
        LoadImage's choices; answers `{name, subfolder, type}`."""
        from email.parser import BytesParser
        from email.policy import HTTP

        ctype = headers.get("Content-Type", "")
        if not ctype.startswith("multipart/form-data"):
            return 400, "text/plain", b""
        form = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {ctype}\r\n\r\n".encode() + body)
        fields: dict[str, Any] = {}
        for part in form.iter_parts():
            name = part.get_param("name", header="content-disposition")
            fields[str(name)] = (part.get_filename(), part.get_payload(decode=True))
        if "image" not in fields or not fields["image"][0]:
            return 400, "text/plain", b""
        filename, data = fields["image"]
        subfolder = (fields.get("subfolder") or (None, b""))[1].decode()
        kind = (fields.get("type") or (None, b"input"))[1].decode() or "input"
        overwrite = (fields.get("overwrite") or (None, b""))[1].decode().lower() in ("true", "1")
        if ".." in filename or "/" in filename or ".." in subfolder:
            return 400, "text/plain", b""
        name, n = filename, 1
        while (subfolder, name) in self.uploads and not overwrite:
            stem, dot, ext = filename.rpartition(".")
            name = f"{stem} ({n}).{ext}" if dot else f"{filename} ({n})"
            n += 1
        self.uploads[(subfolder, name)] = data
        choices = self.info["LoadImage"]["input"]["required"]["image"][0]
        shown = f"{subfolder}/{name}" if subfolder else name
        if shown not in choices:
            choices.append(shown)
        return self._json({"name": name, "subfolder": subfolder, "type": kind})

    def _view(self, query: dict[str, list[str]]) -> tuple[int, str, bytes | int]:
        filename = (query.get("filename") or [""])[0]
        subfolder = (query.get("subfolder") or [""])[0]
        self.views.append({"filename": filename, "subfolder": subfolder})
        if self.view_bytes is not None:
            return 200, "image/png", self.view_bytes
        if self.serve_anything and self.files:
            return 200, "image/png", next(iter(self.files.values()))
        if not filename or filename.startswith("/") or ".." in filename or ".." in subfolder:
            return 400, "text/plain", b""
        data = self.files.get((subfolder, filename))
        if data is None:
            return 404, "text/plain", b""
        return 200, "image/png", data
