"""A ComfyUI stand-in on 127.0.0.1: real HTTP and a real websocket, answering like the captures.

Built from shared/comfyui/ (PROTOCOL.md, object_info.json, captures/): the same endpoints, the
same 400/500 bodies, the same websocket message sequence for a prompt posted with a
`client_id`, one prompt executed at a time. `mode` makes it misbehave the way a real server
can: "exec_error" (execution_error at the checkpoint loader), "hang" (runs until interrupted),
"drop_socket" (closes every websocket mid-run but finishes the prompt). Images are tiny PNGs.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.datastructures import Headers
from websockets.server import ServerProtocol

from support.comfy_validate import top_error, validate


def shared_comfyui() -> Path:
    """The real ComfyUI 0.3.64 reference data, copied from shared/comfyui into tests/data."""
    return Path(__file__).resolve().parent.parent / "data" / "comfyui"


_OBJECT_INFO: dict[str, Any] | None = None


def object_info() -> dict[str, Any]:
    global _OBJECT_INFO
    if _OBJECT_INFO is None:
        _OBJECT_INFO = json.loads((shared_comfyui() / "object_info.json").read_text())
    return _OBJECT_INFO


def capture(name: str) -> dict[str, Any]:
    return json.loads((shared_comfyui() / "captures" / name).read_text())


TRAPPED = "500 Internal Server Error\n\nServer got itself in trouble"


class _Socket:
    def __init__(self, writer: asyncio.StreamWriter, protocol: ServerProtocol, sid: str) -> None:
        self.writer = writer
        self.protocol = protocol
        self.sid = sid

    def send(self, msg: dict[str, Any]) -> None:
        if self.writer.is_closing():
            return
        self.protocol.send_text(json.dumps(msg).encode())
        for chunk in self.protocol.data_to_send():
            self.writer.write(chunk)

    def send_binary(self, data: bytes) -> None:
        self.protocol.send_binary(data)
        for chunk in self.protocol.data_to_send():
            self.writer.write(chunk)

    def drop(self) -> None:
        self.writer.transport.abort()


class ComfyStub:
    def __init__(
        self, *, delay_s: float = 0.05, mode: str = "ok", ckpts: list[str] | None = None
    ) -> None:
        self.delay_s = delay_s
        self.mode = mode
        self.info = json.loads(json.dumps(object_info()))
        if ckpts is not None:
            self.info["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"][0] = ckpts
        self.evil_ref: dict[str, str] | None = None  # what /history says was saved
        self.serve_anything = False  # a malicious server: /view answers any name
        self.binary_previews = True
        self.submitted: list[dict[str, Any]] = []
        self.busy_s = 0.0  # time spent executing prompts
        self.interrupts: list[Any] = []
        self.views: list[dict[str, str]] = []
        self.history: dict[str, Any] = {}
        self.files: dict[tuple[str, str], bytes] = {}
        self._sockets: dict[str, list[_Socket]] = {}
        self._counter = itertools.count(1)
        self._number = itertools.count(0)
        self._queue: asyncio.Queue[tuple[str, dict[str, Any], str | None, list[str]]] | None = None
        self._pending: list[str] = []
        self._deleted: set[str] = set()
        self._running: str | None = None
        self._interrupt = threading.Event()
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
                self.port = server.sockets[0].getsockname()[1]
                worker = asyncio.ensure_future(self._worker())
                ready.set()
                self._stop = asyncio.Event()
                await self._stop.wait()
                worker.cancel()
                server.close()
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

    def __enter__(self) -> ComfyStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ HTTP

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
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
                if headers.get("Upgrade", "").lower() == "websocket":
                    await self._websocket(reader, writer, target, head)
                    return
                status, ctype, payload = await self._route(method, target, headers, body)
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\n"
                    f"Content-Length: {len(payload)}\r\n\r\n".encode()
                    + payload
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def _route(
        self, method: str, target: str, headers: Headers, body: bytes
    ) -> tuple[int, str, bytes]:
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

    def _view(self, query: dict[str, list[str]]) -> tuple[int, str, bytes]:
        filename = (query.get("filename") or [""])[0]
        subfolder = (query.get("subfolder") or [""])[0]
        self.views.append({"filename": filename, "subfolder": subfolder})
        if self.serve_anything and self.files:
            return 200, "image/png", next(iter(self.files.values()))
        if not filename or filename.startswith("/") or ".." in filename or ".." in subfolder:
            return 400, "text/plain", b""
        data = self.files.get((subfolder, filename))
        if data is None:
            return 404, "text/plain", b""
        return 200, "image/png", data

    # ------------------------------------------------------------------ websocket

    async def _websocket(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        target: str,
        head: bytes,
    ) -> None:
        protocol = ServerProtocol()
        protocol.receive_data(head)
        (request,) = protocol.events_received()
        response = protocol.accept(request)
        protocol.send_response(response)
        for chunk in protocol.data_to_send():
            writer.write(chunk)
        sid = (parse_qs(urlsplit(target).query).get("clientId") or [uuid.uuid4().hex])[0]
        sock = _Socket(writer, protocol, sid)
        self._sockets.setdefault(sid, []).append(sock)
        sock.send(
            {
                "type": "status",
                "data": {
                    "status": {"exec_info": {"queue_remaining": len(self._pending)}},
                    "sid": sid,
                },
            }
        )
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    protocol.receive_eof()
                    break
                protocol.receive_data(data)
                protocol.events_received()
                for chunk in protocol.data_to_send():
                    writer.write(chunk)
                if protocol.close_expected():
                    break
        except ConnectionError:
            pass
        finally:
            self._sockets[sid].remove(sock)
            writer.close()

    def _send(self, client_id: str | None, kind: str, data: dict[str, Any]) -> None:
        for sock in list(self._sockets.get(client_id or "", [])):
            sock.send({"type": kind, "data": data})

    def _broadcast(self, msg: dict[str, Any]) -> None:
        for sockets in self._sockets.values():
            for sock in list(sockets):
                sock.send(msg)

    # ------------------------------------------------------------------ execution

    async def _worker(self) -> None:
        assert self._queue is not None
        while True:
            pid, prompt, client_id, outputs = await self._queue.get()
            if pid in self._deleted:
                continue
            self._pending.remove(pid)
            self._running = pid
            self._interrupt.clear()
            started = time.monotonic()
            try:
                await self._execute(pid, prompt, client_id, outputs)
            finally:
                self.busy_s += time.monotonic() - started
                self._running = None
                self._broadcast(
                    {
                        "type": "status",
                        "data": {"status": {"exec_info": {"queue_remaining": len(self._pending)}}},
                    }
                )
                self._send(client_id, "executing", {"node": None, "prompt_id": pid})

    async def _execute(
        self, pid: str, prompt: dict[str, Any], client_id: str | None, outputs: list[str]
    ) -> None:
        stamp = lambda: int(time.time() * 1000)  # noqa: E731
        messages: list[list[Any]] = []

        def emit(kind: str, data: dict[str, Any], keep: bool = False) -> None:
            data = {**data, "prompt_id": pid}
            if keep:
                messages.append([kind, {**data, "timestamp": stamp()}])
            self._send(client_id, kind, data)

        emit("execution_start", {}, keep=True)
        emit("execution_cached", {"nodes": []}, keep=True)
        saved: dict[str, Any] = {}
        order = _topological(prompt)
        sampler_steps = next(
            (
                int(n["inputs"].get("steps", 1))
                for n in prompt.values()
                if n["class_type"] == "KSampler"
            ),
            1,
        )
        steps = max(1, min(sampler_steps, 10))
        for node_id in order:
            node = prompt[node_id]
            emit(
                "progress_state",
                {"nodes": {node_id: {"value": 0.0, "max": 1.0, "state": "running"}}},
            )
            emit("executing", {"node": node_id, "display_node": node_id})
            if self.mode == "exec_error" and node["class_type"] == "CheckpointLoaderSimple":
                err = capture("run_exec_error.json")["ws"]
                data = next(m["msg"]["data"] for m in err if m["msg"]["type"] == "execution_error")
                emit(
                    "execution_error",
                    {k: v for k, v in data.items() if k != "prompt_id"} | {"node_id": node_id},
                    keep=True,
                )
                self._record(pid, prompt, client_id, outputs, {}, "error", messages)
                return
            if self.mode == "drop_socket" and node["class_type"] == "KSampler":
                for sock in list(self._sockets.get(client_id or "", [])):
                    sock.drop()
            if node["class_type"] == "KSampler" or (self.mode == "hang" and node_id == order[0]):
                for step in itertools.count(1):
                    if self.mode != "hang" and step > steps:
                        break
                    if await self._wait(self.delay_s / steps if self.mode != "hang" else 0.05):
                        emit(
                            "execution_interrupted",
                            {"node_id": node_id, "node_type": node["class_type"], "executed": []},
                            keep=True,
                        )
                        self._record(pid, prompt, client_id, outputs, {}, "error", messages)
                        return
                    if self.mode != "hang":
                        if self.binary_previews:
                            for sock in self._sockets.get(client_id or "", []):
                                sock.send_binary(b"\x00\x00\x00\x01" + b"\xff" * 16)
                        emit("progress", {"value": step, "max": steps, "node": node_id})
            if node_id in outputs:
                ref = self._save(prompt, node)
                saved[node_id] = {"images": [ref]}
                emit(
                    "executed",
                    {"node": node_id, "display_node": node_id, "output": {"images": [ref]}},
                )
        emit("execution_success", {}, keep=True)
        self._record(pid, prompt, client_id, outputs, saved, "success", messages)

    async def _wait(self, seconds: float) -> bool:
        """Sleep; True if an interrupt arrived meanwhile."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if self._interrupt.is_set():
                return True
            await asyncio.sleep(min(0.01, max(0.0, end - time.monotonic())))
        return self._interrupt.is_set()

    def _save(self, prompt: dict[str, Any], node: dict[str, Any]) -> dict[str, str]:
        from PIL import Image

        latent = next(
            (
                n["inputs"]
                for n in prompt.values()
                if n["class_type"] in ("EmptyLatentImage", "EmptyImage")
            ),
            {},
        )
        width = max(8, min(256, int(latent.get("width", 512)) // 8))
        height = max(8, min(256, int(latent.get("height", 512)) // 8))
        seed = next(
            (
                int(n["inputs"].get("seed", 0))
                for n in prompt.values()
                if n["class_type"] == "KSampler"
            ),
            0,
        )
        color = ((seed * 97) % 256, (seed * 57) % 256, (seed * 17) % 256)
        buf = io.BytesIO()
        Image.new("RGB", (width, height), color).save(buf, "PNG")
        prefix = str(node["inputs"].get("filename_prefix", "ComfyUI"))
        ref = {
            "filename": f"{prefix}_{next(self._counter):05d}_.png",
            "subfolder": "",
            "type": "output",
        }
        self.files[(ref["subfolder"], ref["filename"])] = buf.getvalue()
        return dict(self.evil_ref) if self.evil_ref else ref

    def _record(
        self,
        pid: str,
        prompt: dict[str, Any],
        client_id: str | None,
        outputs: list[str],
        saved: dict[str, Any],
        status: str,
        messages: list[list[Any]],
    ) -> None:
        self.history[pid] = {
            "prompt": [0, pid, prompt, {"client_id": client_id} if client_id else {}, outputs],
            "outputs": saved,
            "status": {
                "status_str": status,
                "completed": status == "success",
                "messages": messages,
            },
            "meta": {
                n: {"node_id": n, "display_node": n, "parent_node": None, "real_node_id": n}
                for n in saved
            },
        }


def _topological(prompt: dict[str, Any]) -> list[str]:
    """Nodes after the nodes they link to (ComfyUI runs them in such an order)."""
    order: list[str] = []

    def visit(node_id: str) -> None:
        if node_id in order or node_id not in prompt:
            return
        for value in (prompt[node_id].get("inputs") or {}).values():
            if isinstance(value, list) and len(value) == 2:
                visit(str(value[0]))
        order.append(node_id)

    for node_id in sorted(prompt, key=lambda n: (len(n), n)):
        visit(node_id)
    return order
