"""The ComfyUI stand-in's websocket and job behaviour (the HTTP side is comfy_stub.py).

One prompt executed at a time, with the websocket message sequence of the captures for a
prompt posted with a `client_id`. `mode` makes it misbehave the way a real server can:
"exec_error" (execution_error at the checkpoint loader), "hang" (runs until interrupted),
"drop_socket" (closes every websocket mid-run but finishes the prompt). Like the real server,
the history entry is written `history_delay_s` after `execution_success`, and `executing {node:
null}` follows it. Images are tiny PNGs.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import threading
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.server import ServerProtocol

from support.comfy_data import capture


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


class ComfyJobs:
    """The queue, the running prompt, its history and files, and the clients' websockets."""

    def __init__(self, *, delay_s: float, mode: str, history_delay_s: float = 0.02) -> None:
        self.delay_s = delay_s
        self.mode = mode
        self.history_delay_s = history_delay_s  # execution_success .. history entry written
        self.evil_ref: dict[str, str] | None = None  # what /history says was saved
        self.binary_previews = True
        self.busy_s = 0.0  # time spent executing prompts
        self.history: dict[str, Any] = {}
        self.files: dict[tuple[str, str], bytes] = {}
        self._sockets: dict[str, list[_Socket]] = {}
        self._counter = itertools.count(1)
        self._queue: asyncio.Queue[tuple[str, dict[str, Any], str | None, list[str]]] | None = None
        self._pending: list[str] = []
        self._deleted: set[str] = set()
        self._running: str | None = None
        self._interrupt = threading.Event()

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
        # like ComfyUI 0.3.64: the history entry is written after execution_success, and only
        # then comes `executing {node: null}` (sent by the worker)
        if self.history_delay_s:
            await asyncio.sleep(self.history_delay_s)
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
