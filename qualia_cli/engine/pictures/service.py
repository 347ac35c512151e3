"""The pictures area as one service: `engine.pictures`.

`PictureService` owns the background image jobs (engine/pictures/jobs.py) and offers what the
front ends need: follow or subscribe to image events, a session's image rows, the picture of a
branch, rerolls, workflows (list, load, fill, validate), batches and `qualia doctor`'s row.
It is built from settings and a store provider (the store opens on first use), never from the
`Engine`: scenario files are found by the scenario loader (or a finder given to it) and a
stored session's scene comes from the store.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qualia_cli.engine import events as ev
from qualia_cli.engine.pictures import batches, workflow_checks
from qualia_cli.engine.pictures.jobs import ImageJobs
from qualia_cli.engine.pictures.moments import FindScenario, message_scene
from qualia_cli.images.errors import ImageError
from qualia_cli.store import images as image_rows

if TYPE_CHECKING:
    from qualia_cli.config import Settings
    from qualia_cli.engine.pictures.workflow_checks import WorkflowCheck
    from qualia_cli.images.batch import BatchItem, BatchStats
    from qualia_cli.images.request import Scene
    from qualia_cli.images.workflows import Workflow, WorkflowError
    from qualia_cli.scenario.models import Scenario
    from qualia_cli.store import Store
    from qualia_cli.store.images import ImageRecord


def _find_scenario(name: str) -> tuple[Path, Scenario]:
    """The scenario loader's search, as `Engine.find_scenario`: the user's, then the bundled."""
    from qualia_cli.scenario.loader import default_search_dirs, find_scenario, load_scenario

    path = find_scenario(name, default_search_dirs())
    return path, load_scenario(path)


class PictureService:
    """Scene pictures, workflows and batches of one engine (`engine.pictures`)."""

    def __init__(
        self,
        settings: Settings,
        store: Callable[[], Store],
        *,
        enabled: bool = True,
        find_scenario: FindScenario | None = None,
    ) -> None:
        """`enabled=False` queues no picture whatever the settings say."""
        self.settings = settings
        self._store = store
        self._find_scenario = find_scenario or _find_scenario
        self.jobs = ImageJobs(settings, store)  # what sessions queue into (inside the engine)
        self.jobs.enabled = self.jobs.enabled and enabled

    @property
    def enabled(self) -> bool:
        """Whether pictures are drawn at all (settings and the engine's `pictures` switch)."""
        return self.jobs.enabled

    @property
    def store(self) -> Store:
        return self._store()

    # ------------------------------------------------------------------ events

    async def follow(self, turn_id: str, session_id: str | None = None) -> AsyncIterator[ev.Event]:
        """queued, progress, then ready or failed, of the images a turn (or "opening") queued."""
        jobs = [
            j
            for j in self.jobs.jobs.values()
            if j.turn_id == turn_id and (session_id is None or j.session_id == session_id)
        ]
        for job in jobs:
            async for event in self.jobs.follow(job):
                yield event

    def subscribe(self) -> asyncio.Queue[ev.Event]:
        """Every image event from now on (end it with `unsubscribe`)."""
        return self.jobs.subscribe()

    def unsubscribe(self, queue: asyncio.Queue[ev.Event]) -> None:
        self.jobs.unsubscribe(queue)

    def in_flight(self, session_id: str) -> list[ev.Event]:
        """The events so far of a session's unfinished image jobs (for a view opened mid-job)."""
        return [
            event
            for job in list(self.jobs.jobs.values())
            if job.session_id == session_id and not job.finished
            for event in list(job.events)
        ]

    async def wait_all(self) -> None:
        """Until every queued picture is ready or failed."""
        await self.jobs.wait_all()

    def queue_opening(
        self, session_id: str, message_id: int | None, scenario: Scenario, rating: str
    ) -> ev.Event | None:
        """A new session's opening picture (called by the engine when it creates one)."""
        return self.jobs.queue_opening(session_id, message_id, scenario, rating)

    # ------------------------------------------------------------------ rows

    def list_images(self, session_id: str) -> list[ImageRecord]:
        return image_rows.list_images(self.store, self.store.resolve_session_id(session_id))

    def latest_image(self, session_id: str) -> Path | None:
        for row in reversed(self.list_images(session_id)):
            if row.status == "ready" and row.path and Path(row.path).is_file():
                return Path(row.path)
        return None

    def branch_image(self, session_id: str, head_id: int | None = None) -> ImageRecord | None:
        """The newest ready image of the branch ending at ``head_id`` (default: the session's head).

        The image of the message nearest the head that has one (its latest reroll wins);
        flipping alternatives or rewinding changes the branch and so the picture.
        """
        store = self.store
        sid = store.resolve_session_id(session_id)
        ready: dict[int | None, ImageRecord] = {}
        for row in self.list_images(sid):  # oldest first: later rows (rerolls) win
            if row.status == "ready" and row.path and Path(row.path).is_file():
                ready[row.message_id] = row
        if not ready:
            return None
        if head_id is None:
            record = store.get_session(sid)
            head_id = record.head_message_id if record is not None else None
        if head_id is not None and any(k is not None for k in ready):
            for message in reversed(store.branch(head_id)):
                if message.id in ready:
                    return ready[message.id]
        return ready.get(None)

    def reroll(self, session_id: str, message_id: int | None = None) -> ev.Event | None:
        """Queue the same moment again with a new seed (the next variant)."""
        store = self.store
        sid = store.resolve_session_id(session_id)
        rows = image_rows.list_images(store, sid)
        if message_id is None:
            with_images = [r.message_id for r in rows if r.message_id is not None]
            if with_images:
                message_id = with_images[-1]
            else:
                record = store.get_session(sid)
                message_id = record.head_message_id if record is not None else None
        if message_id is None:
            raise ImageError(f"session {sid} has no message to draw")
        variant = 1 + max((r.variant for r in rows if r.message_id == message_id), default=0)
        scene = message_scene(store, sid, message_id, variant)
        return self.jobs.queue(scene, session_id=sid, turn_id="reroll", message_id=message_id)

    # ------------------------------------------------------------------ workflows

    def list_workflows(self) -> list[tuple[Path, Workflow | WorkflowError]]:
        from qualia_cli.images.workflows import list_workflows

        return list_workflows()

    def workflow(self, name: str | None = None) -> Workflow:
        """The workflow `name` (a name or a path), by default the configured one."""
        return workflow_checks.load_configured(self.settings, name)

    def resolve_workflow(self, wf: Workflow, scene: Scene | None = None) -> dict[str, Any]:
        """`wf` with every placeholder filled (workflow_checks.resolve_workflow)."""
        return workflow_checks.resolve_workflow(self.settings, wf, scene)

    async def validate_workflow(
        self, name: str, *, server: str | None = None, object_info: Path | None = None
    ) -> WorkflowCheck:
        """Check a workflow; against a live server's or a saved object_info when one is given."""
        return await workflow_checks.validate_workflow(
            self.settings, name, server=server, object_info=object_info
        )

    async def check(self) -> dict[str, Any]:
        """`qualia doctor`'s row: the sketch renderer, or ComfyUI up and the workflow valid."""
        return await workflow_checks.check_images(self.settings)

    # ------------------------------------------------------------------ batches

    def plan_batch(
        self,
        target: str,
        *,
        workflow_name: str | None = None,
        variants: int = 1,
        comfy: bool | None = None,
    ) -> list[BatchItem]:
        """Every scene moment of a session (or a scenario's opening and locations) × variants."""
        return batches.plan_batch(
            self.settings,
            self.store,
            self._find_scenario,
            target,
            workflow_name=workflow_name,
            variants=variants,
            comfy=comfy,
        )

    async def run_batch(
        self,
        items: list[BatchItem],
        servers: list[str],
        *,
        concurrency: int = 3,
        on_update: Callable[[BatchItem], None] | None = None,
    ) -> BatchStats:
        return await batches.run_batch(
            self.settings,
            self.store,
            items,
            servers,
            concurrency=concurrency,
            on_update=on_update,
        )

    async def aclose(self) -> None:
        """Cancel the pictures still being drawn (a ComfyUI prompt is interrupted)."""
        await self.jobs.aclose()
