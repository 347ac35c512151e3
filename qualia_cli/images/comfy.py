"""A ComfyUI client: httpx for HTTP, `websockets` for live progress on `/ws?clientId=…`.

One `generate()` call opens the socket first (so no message is missed), posts the prompt with
its `client_id`, follows that prompt's messages (skipping binary preview frames and everyone
else's), falls back to polling `/history/{id}` if the socket drops, and fetches the output with
`/view`. On timeout or cancellation it interrupts the prompt (and removes it from the queue if
it had not started). Filenames the server returns are only ever sent back to `/view`.

A prompt has ended when ComfyUI sends `executing {node: null}` for it: `execution_success`
comes *before* the history entry is written, so reading `/history` then can find nothing. Even
after the end, `/history` is read again with a short backoff until the entry has its outputs
(bounded by the job's deadline). `/view` is streamed and cut at `max_image_bytes`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from qualia_cli.images.comfy_errors import describe_rejection
from qualia_cli.images.comfy_follow import Progress, follow_prompt, output_images, raise_status
from qualia_cli.images.errors import ComfyError

log = logging.getLogger("qualia.images")

MAX_IMAGE_BYTES = 64 * 1024 * 1024
HISTORY_GRACE_S = 10.0  # how long a finished prompt's history may take to show its outputs
IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"RIFF", b"GIF8")


@dataclass
class ComfyResult:
    prompt_id: str
    image: bytes
    outputs: list[dict[str, Any]]  # the server's references, never used as local paths
    timings: dict[str, float] = field(default_factory=dict)
    via: str = "websocket"  # or "history" when the socket dropped


def normalize_url(url: str) -> str:
    """`localhost:8188` -> `http://localhost:8188` (a server given without its scheme)."""
    url = url.strip()
    if "://" not in url:
        url = "http://" + url
    return url.rstrip("/")


def redact_url(url: str) -> str:
    """The URL without user:password (safe for logs, the database and image metadata)."""
    parts = urlsplit(normalize_url(url))
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = host + (f":{parts.port}" if parts.port else "")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts).rstrip("/")


def ws_url(base_url: str, client_id: str) -> str:
    parts = urlsplit(base_url.rstrip("/"))
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, parts.path + "/ws", f"clientId={client_id}", ""))


class ComfyClient:
    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 300.0,
        poll_interval_s: float = 0.5,
        connect_timeout_s: float = 10.0,
        max_image_bytes: int = MAX_IMAGE_BYTES,
    ) -> None:
        self.base_url = normalize_url(base_url)
        self.server = redact_url(self.base_url)
        self.timeout_s = timeout_s
        self.poll_interval_s = poll_interval_s
        self.connect_timeout_s = connect_timeout_s
        self.call_timeout_s = connect_timeout_s * 3  # total deadline of one plain HTTP call
        self.max_image_bytes = max_image_bytes
        self.history_grace_s = HISTORY_GRACE_S
        self.client_id = f"qualia-{uuid.uuid4().hex[:12]}"
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(connect_timeout_s * 3, connect=connect_timeout_s),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> ComfyClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ plain HTTP

    async def _request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            async with asyncio.timeout(self.call_timeout_s):
                return await self._http.request(method, path, **kw)
        except TimeoutError:
            raise ComfyError(
                "timeout",
                f"ComfyUI at {self.server} did not answer {method} {path} "
                f"within {self.call_timeout_s:g} s",
                server=self.server,
            ) from None
        except (httpx.ConnectError, httpx.ConnectTimeout) as err:
            raise ComfyError(
                "unreachable", f"cannot reach ComfyUI at {self.server}: {err}", server=self.server
            ) from None
        except httpx.TimeoutException:
            raise ComfyError(
                "timeout",
                f"ComfyUI at {self.server} did not answer {method} {path}",
                server=self.server,
            ) from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as err:
            raise ComfyError(
                "disconnected",
                f"ComfyUI at {self.server} closed the connection during {method} {path}: "
                f"{type(err).__name__}",
                server=self.server,
            ) from None
        except httpx.HTTPError as err:
            raise ComfyError(
                "protocol",
                f"ComfyUI at {self.server}: {type(err).__name__}: {err}",
                server=self.server,
            ) from None

    async def _json(self, path: str) -> Any:
        response = await self._request("GET", path)
        if response.status_code != 200:
            raise ComfyError(
                "protocol",
                f"ComfyUI at {self.server}: GET {path} answered {response.status_code}",
                server=self.server,
            )
        try:
            return response.json()
        except ValueError:
            raise ComfyError(
                "protocol",
                f"ComfyUI at {self.server}: GET {path} did not answer JSON",
                server=self.server,
            ) from None

    async def system_stats(self) -> dict[str, Any]:
        """The health check: versions, devices, memory."""
        data = await self._json("/system_stats")
        if not isinstance(data, dict) or "system" not in data:
            raise ComfyError(
                "protocol", f"{self.server} does not look like ComfyUI", server=self.server
            )
        return data

    async def object_info(self, class_type: str | None = None) -> dict[str, Any]:
        data = await self._json(f"/object_info/{class_type}" if class_type else "/object_info")
        return data if isinstance(data, dict) else {}

    async def queue(self) -> dict[str, Any]:
        data = await self._json("/queue")
        return data if isinstance(data, dict) else {}

    async def history(self, prompt_id: str) -> dict[str, Any] | None:
        data = await self._json(f"/history/{prompt_id}")
        entry = data.get(prompt_id) if isinstance(data, dict) else None
        return entry if isinstance(entry, dict) else None

    async def submit(
        self, graph: dict[str, Any], client_id: str | None = None, prompt_id: str | None = None
    ) -> str:
        """POST /prompt; a refusal becomes a ComfyError naming the node and input."""
        body: dict[str, Any] = {"prompt": graph, "client_id": client_id or self.client_id}
        if prompt_id is not None:  # ComfyUI accepts an id chosen by the client
            body["prompt_id"] = prompt_id
        response = await self._request("POST", "/prompt", json=body)
        try:
            data = response.json()
        except ValueError:
            data = response.text
        if response.status_code != 200:
            await self._fill_long_lists(data)
            raise ComfyError(
                "rejected", describe_rejection(response.status_code, data), server=self.server
            )
        if isinstance(data, dict) and data.get("node_errors"):
            await self._fill_long_lists(data)
            raise ComfyError("rejected", describe_rejection(400, data), server=self.server)
        prompt_id = data.get("prompt_id") if isinstance(data, dict) else None
        if not isinstance(prompt_id, str):
            raise ComfyError(
                "protocol", f"{self.server}: POST /prompt gave no prompt_id", server=self.server
            )
        return prompt_id

    async def _fill_long_lists(self, answer: Any) -> None:
        """ComfyUI leaves a choice list of more than 20 entries out of a `value_not_in_list`
        refusal (`input_config: null`, "not in (list of length 42)"): take it from
        `/object_info/{class}` so the message can say what is installed."""
        if not isinstance(answer, dict) or not isinstance(answer.get("node_errors"), dict):
            return
        for entry in answer["node_errors"].values():
            if not isinstance(entry, dict):
                continue
            for err in entry.get("errors") or []:
                extra = err.get("extra_info") if isinstance(err, dict) else None
                if (
                    not isinstance(extra, dict)
                    or err.get("type") != "value_not_in_list"
                    or extra.get("input_config") is not None
                    or not extra.get("input_name")
                ):
                    continue
                class_type = str(entry.get("class_type", ""))
                try:
                    info = (await self.object_info(class_type)).get(class_type) or {}
                except ComfyError:
                    continue
                from qualia_cli.images.validate import input_spec

                spec = (
                    input_spec(info, str(extra["input_name"])) if isinstance(info, dict) else None
                )
                if spec is not None:
                    extra["input_config"] = spec

    async def upload_image(
        self, data: bytes, filename: str, *, subfolder: str = "qualia", overwrite: bool = True
    ) -> str:
        """POST /upload/image; the name to give a LoadImage node (`subfolder/name`)."""
        files = {"image": (filename, data, "image/png")}
        form = {"subfolder": subfolder, "type": "input", "overwrite": str(overwrite).lower()}
        response = await self._request("POST", "/upload/image", files=files, data=form)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code != 200 or not isinstance(answer, dict) or "name" not in answer:
            raise ComfyError(
                "rejected",
                f"ComfyUI at {self.server} refused the upload of {filename} "
                f"(HTTP {response.status_code})",
                server=self.server,
            )
        folder = str(answer.get("subfolder") or "")
        return f"{folder}/{answer['name']}" if folder else str(answer["name"])

    async def interrupt(self, prompt_id: str | None = None) -> None:
        """Stop a running prompt (only this one when `prompt_id` is given)."""
        await self._request(
            "POST", "/interrupt", json={"prompt_id": prompt_id} if prompt_id else None
        )

    async def delete_queued(self, prompt_id: str) -> None:
        await self._request("POST", "/queue", json={"delete": [prompt_id]})

    async def view(self, ref: dict[str, Any]) -> bytes:
        """Fetch one output image, streamed: more than `max_image_bytes` is refused as it
        arrives (never buffered). The reference goes back to the server as query parameters."""
        params = {
            "filename": str(ref.get("filename", "")),
            "subfolder": str(ref.get("subfolder", "")),
            "type": str(ref.get("type", "output")),
        }
        try:
            return await self._read_view(params)
        except (httpx.ConnectError, httpx.ConnectTimeout) as err:
            raise ComfyError(
                "unreachable", f"cannot reach ComfyUI at {self.server}: {err}", server=self.server
            ) from None
        except httpx.TimeoutException:
            raise ComfyError(
                "timeout", f"ComfyUI at {self.server} did not send the image", server=self.server
            ) from None
        except httpx.HTTPError as err:
            raise ComfyError(
                "disconnected",
                f"ComfyUI at {self.server} broke off sending the image: {type(err).__name__}",
                server=self.server,
            ) from None

    async def _read_view(self, params: dict[str, str]) -> bytes:
        cap = self.max_image_bytes
        too_big = ComfyError(
            "output",
            f"ComfyUI at {self.server} sent an image larger than {cap // (1024 * 1024)} MB",
            server=self.server,
        )
        async with self._http.stream("GET", "/view", params=params) as response:
            if response.status_code != 200:
                raise ComfyError(
                    "output",
                    f"ComfyUI at {self.server} refused to serve output {params['filename']!r} "
                    f"(HTTP {response.status_code})",
                    server=self.server,
                )
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > cap:
                raise too_big
            buf = bytearray()
            async for chunk in response.aiter_raw():
                buf += chunk
                if len(buf) > cap:
                    raise too_big
        data = bytes(buf)
        if not data.startswith(IMAGE_MAGIC):
            raise ComfyError(
                "output",
                f"ComfyUI at {self.server} sent something that is not an image",
                server=self.server,
            )
        return data

    # ------------------------------------------------------------------ one job

    async def generate(
        self, graph: dict[str, Any], on_progress: Callable[[Progress], None] | None = None
    ) -> ComfyResult:
        """Run `graph` to completion within `timeout_s` and return its first output image."""
        t0 = time.monotonic()
        prompt_id: str | None = None
        # one client id per job: ComfyUI keeps one socket per id, a second would steal the first
        client_id = f"{self.client_id}-{uuid.uuid4().hex[:8]}"
        try:
            async with asyncio.timeout(self.timeout_s):
                socket = await self._open_socket(client_id)
                try:
                    # our own id: a job cancelled while POST /prompt is under way can still
                    # be interrupted or taken off the queue
                    prompt_id = str(uuid.uuid4())
                    prompt_id = await self.submit(graph, client_id, prompt_id)
                    timings = {"submit_ms": (time.monotonic() - t0) * 1000}
                    via = "websocket"
                    finished = False
                    if socket is not None:
                        finished = await follow_prompt(
                            socket, prompt_id, len(graph), on_progress, self.server
                        )
                    if not finished:
                        via = "history"
                        log.info("ComfyUI socket unavailable; polling history of %s", prompt_id)
                        await self._poll(prompt_id)
                finally:
                    if socket is not None:
                        await socket.close()
                timings["run_ms"] = (time.monotonic() - t0) * 1000 - timings["submit_ms"]
                outputs = await self._outputs(prompt_id)
                t_fetch = time.monotonic()
                image = await self.view(outputs[0])
                timings["fetch_ms"] = (time.monotonic() - t_fetch) * 1000
        except TimeoutError:
            if prompt_id is not None:
                await self._abandon(prompt_id)
            raise ComfyError(
                "timeout",
                f"ComfyUI at {self.server} did not finish within {self.timeout_s:g} s",
                server=self.server,
            ) from None
        except asyncio.CancelledError:
            if prompt_id is not None:
                await self._abandon(prompt_id)
            raise
        timings["total_ms"] = (time.monotonic() - t0) * 1000
        return ComfyResult(prompt_id, image, outputs, timings, via)

    async def _abandon(self, prompt_id: str) -> None:
        """Interrupt the prompt if it runs and drop it from the queue if it waits."""
        try:
            async with asyncio.timeout(5):
                await self.interrupt(prompt_id)
                await self.delete_queued(prompt_id)
        except (ComfyError, TimeoutError):
            log.warning("could not interrupt ComfyUI prompt %s on %s", prompt_id, self.server)

    async def _open_socket(self, client_id: str) -> Any:
        from websockets.asyncio.client import connect

        try:
            return await connect(
                ws_url(self.base_url, client_id),
                open_timeout=self.connect_timeout_s,
                max_size=MAX_IMAGE_BYTES,
            )
        except Exception as err:  # no socket is fine: we poll instead
            log.info("ComfyUI websocket at %s unavailable: %s", self.server, err)
            return None

    async def _outputs(self, prompt_id: str) -> list[dict[str, Any]]:
        """The finished prompt's images from `/history`, asked again with a short backoff while
        the entry is missing or has no outputs yet (bounded by the job's deadline)."""
        delay, waited = 0.05, 0.0
        while True:
            entry = await self.history(prompt_id)
            outputs = output_images(entry)
            if outputs:
                return outputs
            status = (entry or {}).get("status") or {}
            if status.get("status_str") == "error":
                raise_status(status, self.server)
            if waited >= self.history_grace_s:
                raise ComfyError(
                    "output",
                    f"{self.server}: the workflow saved no image (history of {prompt_id} "
                    f"{'has no outputs' if entry else 'is missing'} after {waited:.1f} s)",
                    server=self.server,
                )
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, 1.0)

    async def _poll(self, prompt_id: str) -> None:
        """Wait for the prompt through `/history/{id}` (used when the socket is gone)."""
        while True:
            entry = await self.history(prompt_id)
            status = (entry or {}).get("status") or {}
            if entry is not None and (status.get("completed") or status.get("status_str")):
                raise_status(status, self.server)
                return
            await asyncio.sleep(self.poll_interval_s)
