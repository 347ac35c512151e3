"""Scene image jobs: queued by the engine, run in the background, never blocking the story.

A job is queued for a session's opening, for every turn whose Visual Director asks for a
picture (always on a scene change) and on a reroll. It emits `image_queued`, `image_progress`,
then `image_ready` or `image_failed`; any failure ends as an event, never as an exception in
the turn. Provenance goes to the `images` table; a request whose hash already has a finished
file reuses it instead of generating again.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qualia_cli.config import Settings
from qualia_cli.engine import events as ev
from qualia_cli.images.errors import ImageError
from qualia_cli.images.request import ImageRequest, Scene, build_request
from qualia_cli.store import images as image_rows

if TYPE_CHECKING:
    from qualia_cli.images.comfy import ComfyClient
    from qualia_cli.images.workflows import Workflow
    from qualia_cli.scenario.models import Scenario
    from qualia_cli.store import Store

log = logging.getLogger("qualia.images")


@dataclass
class ImageJob:
    id: str
    session_id: str
    turn_id: str
    message_id: int | None
    request: ImageRequest
    events: list[ev.Event] = field(default_factory=list)
    finished: bool = False
    task: asyncio.Task[None] | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def result(self) -> ev.Event | None:
        return self.events[-1] if self.finished and self.events else None


def _tags(*groups: Any) -> str:
    seen: dict[str, None] = {}
    for group in groups:
        for tag in [group] if isinstance(group, str) else group:
            t = str(tag).strip().strip(",").strip()
            if t and t.lower() not in {k.lower() for k in seen}:
                seen[t] = None
    return ", ".join(seen)


def opening_scene(session_id: str, scenario: Scenario, rating: str) -> Scene:
    """The opening picture: style + her stable appearance + the starting place and time."""
    s = scenario
    location, time_ = s.setting.start_location, s.setting.start_time
    return Scene(
        key=session_id,
        prompt=_tags(s.images.style_tags, s.partner.appearance.tags, "upper body", location, time_),
        negative_prompt=_tags(s.images.negative_tags),
        location=location,
        time=time_,
        mood=s.starting_mood,
        framing="upper body",
        partner=s.partner.name,
        title=s.title,
        rating=rating,
    )


class ImageJobs:
    """All image jobs of one engine. Front ends read events through `follow` or `subscribe`."""

    def __init__(self, settings: Settings, store: Callable[[], Store]) -> None:
        self.settings = settings
        self.enabled = settings.images.enabled
        self._store = store
        self.jobs: dict[str, ImageJob] = {}
        self._making: dict[str, ImageJob] = {}  # request hash -> the job generating it
        self._listeners: list[asyncio.Queue[ev.Event]] = []
        self._loop: asyncio.AbstractEventLoop | None = None  # the listeners' loop
        self._deferred: list[ImageJob] = []
        self._workflow: Workflow | None = None
        self._client: ComfyClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._slots: asyncio.Semaphore | None = None

    @property
    def backend(self) -> str:
        return "comfyui" if self.settings.images.comfyui_url else "sketch"

    def workflow(self) -> Workflow:
        if self._workflow is None:
            from qualia_cli.images.workflows import load_workflow

            self._workflow = load_workflow(self.settings.images.workflow)
        return self._workflow

    def request(self, scene: Scene) -> ImageRequest:
        backend = self.backend
        workflow = self.workflow() if backend == "comfyui" else None
        return build_request(scene, self.settings.images, workflow, backend)

    # ------------------------------------------------------------------ queueing

    def queue(
        self, scene: Scene, *, session_id: str, turn_id: str, message_id: int | None
    ) -> ev.Event | None:
        """Start a job; returns its `image_queued` event (or `image_failed` if it cannot start)."""
        if not self.enabled:
            return None
        job_id = uuid.uuid4().hex[:12]
        try:
            request = self.request(scene)
        except ImageError as err:
            log.warning("image for %s not queued: %s", session_id, err)
            return ev.ImageFailed(
                turn_id,
                job_id=job_id,
                session_id=session_id,
                message_id=message_id,
                code=getattr(err, "code", "image"),
                message=str(err),
            )
        job = ImageJob(job_id, session_id, turn_id, message_id, request)
        self.jobs[job_id] = job
        queued = ev.ImageQueued(
            turn_id,
            job_id=job_id,
            session_id=session_id,
            message_id=message_id,
            backend=request.backend,
            workflow=request.workflow,
            seed=request.seed,
            prompt=request.prompt,
        )
        self._emit(job, queued)
        try:
            asyncio.get_running_loop()
            job.task = asyncio.ensure_future(self._run(job))
        except RuntimeError:  # a sync caller (or a worker thread)
            if self._loop is not None and self._loop.is_running():
                self._loop.call_soon_threadsafe(self._start, job)  # on the listeners' loop
            else:  # no loop yet: starts with the next follow() or subscribe()
                self._deferred.append(job)
        return queued

    def _start(self, job: ImageJob) -> None:
        job.task = asyncio.ensure_future(self._run(job))

    def queue_turn(
        self,
        turn_id: str,
        session_id: str,
        message_id: int,
        scenario: Scenario,
        rating: str,
        state: Any,
        image: dict[str, Any],
    ) -> ev.Event | None:
        """The hook in the turn: `image` is the prompt the turn stored with the message."""
        scene = Scene(
            key=session_id,
            prompt=image["prompt"],
            negative_prompt=image["negative_prompt"],
            location=state.location,
            time=state.time,
            mood=state.mood,
            framing=image.get("framing", "upper body"),
            scene_tags=tuple(image.get("scene_tags") or ()),
            partner=scenario.partner.name,
            title=scenario.title,
            rating=rating,
        )
        return self.queue(scene, session_id=session_id, turn_id=turn_id, message_id=message_id)

    def queue_opening(
        self, session_id: str, message_id: int | None, scenario: Scenario, rating: str
    ) -> ev.Event | None:
        scene = opening_scene(session_id, scenario, rating)
        return self.queue(scene, session_id=session_id, turn_id="opening", message_id=message_id)

    def _start_deferred(self) -> None:
        while self._deferred:
            job = self._deferred.pop(0)
            job.task = asyncio.ensure_future(self._run(job))

    # ------------------------------------------------------------------ events

    def _emit(self, job: ImageJob, event: ev.Event) -> None:
        job.events.append(event)
        if isinstance(event, ev.ImageReady | ev.ImageFailed):
            job.finished = True
        job.changed.set()
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        for listener in self._listeners:
            if here is None and self._loop is not None and self._loop.is_running():
                self._loop.call_soon_threadsafe(listener.put_nowait, event)  # from a thread
            else:
                listener.put_nowait(event)

    def subscribe(self) -> asyncio.Queue[ev.Event]:
        """Every image event from now on (the TUI's image pane listens here).

        Called on a running loop, jobs queued before there was one start now, and jobs queued
        later from worker threads run on this loop.
        """
        queue: asyncio.Queue[ev.Event] = asyncio.Queue()
        self._listeners.append(queue)
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            return queue
        self._start_deferred()
        return queue

    def unsubscribe(self, queue: asyncio.Queue[ev.Event]) -> None:
        if queue in self._listeners:
            self._listeners.remove(queue)

    async def follow(self, job: ImageJob) -> AsyncIterator[ev.Event]:
        """A job's events from the start until it is ready or failed."""
        self._start_deferred()
        seen = 0
        while True:
            while seen < len(job.events):
                seen += 1
                yield job.events[seen - 1]
            if job.finished:
                return
            job.changed.clear()
            await job.changed.wait()

    # ------------------------------------------------------------------ running

    async def _run(self, job: ImageJob) -> None:
        t0 = time.monotonic()
        req = job.request
        store = self._store()
        row_id: int | None = None
        other = self._making.get(req.request_hash)
        if other is None:
            self._making[req.request_hash] = job
        try:
            row_id = await asyncio.to_thread(
                image_rows.add_image,
                store,
                session_id=job.session_id,
                message_id=job.message_id,
                turn_id=job.turn_id,
                status="queued",
                prompt=req.prompt,
                negative_prompt=req.negative_prompt,
                seed=req.seed,
                workflow=req.workflow,
                workflow_json=req.graph or req.sketch,
                request_hash=req.request_hash,
                backend=req.backend,
                model=req.model,
                variant=req.scene.variant,
                format=req.format,
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

    async def _reuse(
        self, req: ImageRequest, folder: str, other: ImageJob | None
    ) -> tuple[Path, int, int, str, dict[str, Any]] | None:
        """A finished file for the same request (waiting for another job that is making it)."""
        from qualia_cli.images.files import image_path, image_size

        if other is not None:
            async for _ in self.follow(other):
                pass
        found = await asyncio.to_thread(image_rows.find_ready, self._store(), req.request_hash)
        if found and found.path and Path(found.path).is_file():
            return Path(found.path), found.width or 0, found.height or 0, found.server or "", {}
        path = image_path(folder, req.request_hash, req.format)
        if path.is_file():  # made before, its row gone (or made by a batch)
            width, height = await asyncio.to_thread(image_size, path)
            return path, width, height, "", {}
        return None

    async def _make(self, job: ImageJob, row_id: int) -> tuple[Path, int, int, str, dict[str, Any]]:
        from qualia_cli.images.maker import make_image

        self._making.setdefault(job.request.request_hash, job)
        if self._slots is None:
            self._slots = asyncio.Semaphore(2 if self.backend == "comfyui" else 1)
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
        self._emit(
            job,
            ev.ImageFailed(
                job.turn_id,
                job_id=job.id,
                session_id=job.session_id,
                message_id=job.message_id,
                code=code,
                message=message,
            ),
        )

    async def wait_all(self) -> None:
        self._start_deferred()
        tasks = [j.task for j in self.jobs.values() if j.task is not None and not j.task.done()]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def aclose(self) -> None:
        """Cancel what still runs (a ComfyUI prompt is interrupted) and close the client."""
        for job in self._deferred:
            self._emit(
                job,
                ev.ImageFailed(
                    job.turn_id,
                    job_id=job.id,
                    session_id=job.session_id,
                    message_id=job.message_id,
                    code="cancelled",
                    message="the image job never started",
                ),
            )
        self._deferred.clear()
        tasks = [j.task for j in self.jobs.values() if j.task is not None and not j.task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._client is not None and self._client_loop is asyncio.get_running_loop():
            await self._client.aclose()
        self._client = None
