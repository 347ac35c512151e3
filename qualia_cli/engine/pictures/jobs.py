"""Scene image jobs: queued by the engine, run in the background, never blocking the story.

A job is queued for a session's opening, for every turn whose Visual Director asks for a
picture (always on a scene change) and on a reroll. It emits `image_queued`, `image_progress`,
then `image_ready` or `image_failed`; any failure ends as an event, never as an exception in
the turn. This module queues jobs and delivers their events; engine/pictures/runner.py runs them
(provenance in the `images` table, a finished file for the same request reused) and
engine/pictures/scenes.py composes what they draw.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from qualia_cli.config import Settings
from qualia_cli.engine import events as ev
from qualia_cli.engine.pictures.runner import ImageJob, ImageRunner
from qualia_cli.engine.pictures.scenes import opening_scene, turn_scene
from qualia_cli.images.errors import ImageError
from qualia_cli.images.request import ImageRequest, Scene, build_request

if TYPE_CHECKING:
    from qualia_cli.images.workflows import Workflow
    from qualia_cli.scenario.models import Scenario
    from qualia_cli.store import Store

log = logging.getLogger("qualia.images")


class ImageJobs:
    """All image jobs of one engine. Front ends read events through `follow` or `subscribe`."""

    def __init__(self, settings: Settings, store: Callable[[], Store]) -> None:
        self.settings = settings
        self.enabled = settings.images.enabled
        self._store = store
        self.jobs: dict[str, ImageJob] = {}
        self._listeners: list[asyncio.Queue[ev.Event]] = []
        self._loop: asyncio.AbstractEventLoop | None = None  # the listeners' loop
        self._deferred: list[ImageJob] = []
        self._workflow: Workflow | None = None
        self._runner = ImageRunner(settings, store, self._emit, self.follow)

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
        avatars = {}
        if workflow is not None and {"char_avatar", "user_avatar"} & set(workflow.uses()):
            from qualia_cli.engine.pictures.avatars import avatars_for

            record = self._store().get_session(scene.key)  # a session's scene: key = its id
            avatars = avatars_for(
                workflow,
                self.settings.images,
                partner=scene.partner,
                scenario_path=record.scenario_path if record is not None else None,
            )
        return build_request(scene, self.settings.images, workflow, backend, avatars)

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
            # e.g. the configured workflow does not load: a job that has already failed, so
            # the reason reaches every front end like any other image failure
            log.warning("image for %s not queued: %s", session_id, err)
            broken = ImageJob(job_id, session_id, turn_id, message_id, None)
            broken.error = (getattr(err, "code", "image"), str(err))
            self.jobs[job_id] = broken
            self._schedule(broken)  # fails when it starts, so later listeners hear it too
            return broken.failed(*broken.error)
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
        self._schedule(job)
        return queued

    def _schedule(self, job: ImageJob) -> None:
        try:
            asyncio.get_running_loop()
            self._start(job)
        except RuntimeError:  # a sync caller (or a worker thread)
            if self._loop is not None and self._loop.is_running():
                self._loop.call_soon_threadsafe(self._start, job)  # on the listeners' loop
            else:  # no loop yet: starts with the next follow() or subscribe()
                self._deferred.append(job)

    def _start(self, job: ImageJob) -> None:
        if job.error is not None:  # could not even be queued (e.g. its workflow is broken)
            self._emit(job, job.failed(*job.error))
            return
        job.task = asyncio.ensure_future(self._runner.run(job))

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
        scene = turn_scene(
            session_id,
            image,
            scenario,
            rating,
            location=state.location,
            time=state.time,
            mood=state.mood,
        )
        return self.queue(scene, session_id=session_id, turn_id=turn_id, message_id=message_id)

    def queue_opening(
        self, session_id: str, message_id: int | None, scenario: Scenario, rating: str
    ) -> ev.Event | None:
        scene = opening_scene(session_id, scenario, rating)
        return self.queue(scene, session_id=session_id, turn_id="opening", message_id=message_id)

    def _start_deferred(self) -> None:
        while self._deferred:
            self._start(self._deferred.pop(0))

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

    async def wait_all(self) -> None:
        self._start_deferred()
        tasks = [j.task for j in self.jobs.values() if j.task is not None and not j.task.done()]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def aclose(self) -> None:
        """Cancel what still runs (a ComfyUI prompt is interrupted) and close the client."""
        for job in self._deferred:
            reason = job.error or ("cancelled", "the image job never started")
            self._emit(job, job.failed(*reason))
        self._deferred.clear()
        tasks = [j.task for j in self.jobs.values() if j.task is not None and not j.task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        await self._runner.aclose()
