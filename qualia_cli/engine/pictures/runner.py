"""Running one image job: reuse a finished file for the same request, or make it.

One job at a time per request hash: a twin job waits for the one making its picture, then
reuses the file. Progress, ready and failed go out through `emit`; provenance is recorded in
the `images` row as the job runs. Any failure ends as an `image_failed` event, never as an
exception.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qualia_cli.config import Settings
from qualia_cli.engine import events as ev
from qualia_cli.engine.pictures.records import add_request_row, find_existing
from qualia_cli.images.errors import ImageError
from qualia_cli.images.request import ImageRequest
from qualia_cli.store import images as image_rows

if TYPE_CHECKING:
    from qualia_cli.images.comfy import ComfyClient
    from qualia_cli.store import Store

log = logging.getLogger("qualia.images")

Made = tuple[Path, int, int, str, dict[str, Any]]  # path, width, height, server, timings


@dataclass
class ImageJob:
    id: str
    session_id: str
    turn_id: str
    message_id: int | None
    request: ImageRequest | None  # None: the job failed before it had one (a broken workflow)
    events: list[ev.Event] = field(default_factory=list)
    finished: bool = False
    task: asyncio.Task[None] | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    error: tuple[str, str] | None = None  # (code, message) of a job that could not be queued

    @property
    def result(self) -> ev.Event | None:
        return self.events[-1] if self.finished and self.events else None

    def failed(self, code: str, message: str) -> ev.ImageFailed:
        return ev.ImageFailed(
            self.turn_id,
            job_id=self.id,
            session_id=self.session_id,
            message_id=self.message_id,
            code=code,
            message=message,
        )


class ImageRunner:
    """Runs the jobs of one `ImageJobs`: a few at a time, one ComfyUI client per event loop."""

    def __init__(
        self,
        settings: Settings,
        store: Callable[[], Store],
        emit: Callable[[ImageJob, ev.Event], None],
        follow: Callable[[ImageJob], AsyncIterator[ev.Event]],
    ) -> None:
        self.settings = settings
        self._store = store
        self._emit = emit
        self.follow = follow
        self._making: dict[str, ImageJob] = {}  # request hash -> the job generating it
        self._client: ComfyClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._slots: asyncio.Semaphore | None = None

    async def run(self, job: ImageJob) -> None:
        """Reuse or make the job's picture, recording it; every failure ends as an event."""
        t0 = time.monotonic()
        req = job.request
        assert req is not None, "a job without a request never runs"
        store = self._store()
        row_id: int | None = None
        other = self._making.get(req.request_hash)
        if other is None:
            self._making[req.request_hash] = job
        try:
            row_id = await asyncio.to_thread(
                add_request_row,
                store,
                req,
                session_id=job.session_id,
                message_id=job.message_id,
                turn_id=job.turn_id,
                status="queued",
            )
            ready = await self._reuse(req, job.session_id, other)
            cached = ready is not None
            if ready is None:
                ready = await self._make(job, row_id)
            path, width, height, server, timings = ready
            timings = {**timings, "wall_ms": (time.monotonic() - t0) * 1000, "cached": cached}
            await asyncio.to_thread(
                image_rows.update_image,
                store,
                row_id,
                status="ready",
                path=str(path),
                width=width,
                height=height,
                server=server,
                timings=timings,
            )
            self._emit(
                job,
                ev.ImageReady(
                    job.turn_id,
                    job_id=job.id,
                    session_id=job.session_id,
                    message_id=job.message_id,
                    path=str(path),
                    cached=cached,
                    backend=req.backend,
                    seed=req.seed,
                    width=width,
                    height=height,
                    elapsed_ms=round(timings["wall_ms"], 1),
                ),
            )
        except asyncio.CancelledError:
            await self._fail(job, row_id, "cancelled", "the image job was cancelled")
            raise
        except ImageError as err:
            await self._fail(job, row_id, getattr(err, "code", "image"), str(err))
        except Exception as err:  # never let an image break the story
            log.exception("image job %s crashed", job.id)
            await self._fail(job, row_id, "internal", f"{type(err).__name__}: {err}")
        finally:
            if self._making.get(req.request_hash) is job:
                del self._making[req.request_hash]

    async def _reuse(self, req: ImageRequest, folder: str, other: ImageJob | None) -> Made | None:
        """A finished file for the same request (waiting for another job that is making it)."""
        from qualia_cli.images.files import image_size

        if other is not None:
            async for _ in self.follow(other):
                pass
        existing = await asyncio.to_thread(find_existing, self._store(), req, folder)
        if existing is None:
            return None
        path, found = existing
        if found is not None:
            return path, found.width or 0, found.height or 0, found.server or "", {}
        width, height = await asyncio.to_thread(image_size, path)  # its row gone
        return path, width, height, "", {}

    async def _make(self, job: ImageJob, row_id: int) -> Made:
        from qualia_cli.images.maker import make_image

        assert job.request is not None
        self._making.setdefault(job.request.request_hash, job)
        if self._slots is None:
            self._slots = asyncio.Semaphore(2 if self.settings.images.comfyui_url else 1)
        async with self._slots:
            await asyncio.to_thread(
                image_rows.update_image, self._store(), row_id, status="running"
            )

            def progress(p: Any) -> None:
                self._emit(
                    job,
                    ev.ImageProgress(
                        job.turn_id, job_id=job.id, percent=p.percent, step=p.step, steps=p.steps
                    ),
                )

            made = await make_image(
                job.request, job.session_id, client=self._comfy(), on_progress=progress
            )
        return made.path, made.width, made.height, made.server, made.timings

    def _comfy(self) -> ComfyClient | None:
        url = self.settings.images.comfyui_url
        if not url:
            return None
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:  # httpx binds to one loop
            from qualia_cli.images.comfy import ComfyClient

            self._client = ComfyClient(url, timeout_s=self.settings.images.timeout_s)
            self._client_loop = loop
        return self._client

    async def _fail(self, job: ImageJob, row_id: int | None, code: str, message: str) -> None:
        log.warning("image job %s failed (%s): %s", job.id, code, message)
        if row_id is not None:
            try:
                await asyncio.to_thread(
                    image_rows.update_image, self._store(), row_id, status="failed", error=message
                )
            except Exception:
                log.exception("could not record the failure of image job %s", job.id)
        self._emit(job, job.failed(code, message))

    async def aclose(self) -> None:
        """Close the ComfyUI client (when it belongs to the running loop)."""
        if self._client is not None and self._client_loop is asyncio.get_running_loop():
            await self._client.aclose()
        self._client = None
