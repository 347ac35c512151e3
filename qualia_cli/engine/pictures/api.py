"""The engine facade's image and workflow methods (bound onto `Engine` in facade.py).

Front ends reach ComfyUI, workflows, image files and image rows only through these.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qualia_cli.engine import events as ev
from qualia_cli.engine.pictures.records import add_request_row, find_existing
from qualia_cli.engine.pictures.scenes import location_scene, opening_scene, turn_scene
from qualia_cli.images.errors import ImageError, Problem
from qualia_cli.images.request import Scene, build_request
from qualia_cli.store import images as image_rows

if TYPE_CHECKING:
    from qualia_cli.engine.facade import Engine
    from qualia_cli.images.batch import BatchItem, BatchStats
    from qualia_cli.images.workflows import Workflow, WorkflowError
    from qualia_cli.store.images import ImageRecord


# ------------------------------------------------------------------------ jobs and rows


async def follow_images(
    self: Engine, turn_id: str, session_id: str | None = None
) -> AsyncIterator[ev.Event]:
    """queued, progress, then ready or failed, of the images a turn (or "opening") queued."""
    jobs = [
        j
        for j in self.images.jobs.values()
        if j.turn_id == turn_id and (session_id is None or j.session_id == session_id)
    ]
    for job in jobs:
        async for event in self.images.follow(job):
            yield event


def image_events(self: Engine) -> asyncio.Queue[ev.Event]:
    """Subscribe to every image event (unsubscribe with `engine.images.unsubscribe(q)`)."""
    return self.images.subscribe()


def images_in_flight(self: Engine, session_id: str) -> list[ev.Event]:
    """The events so far of a session's unfinished image jobs (for a view opened mid-job)."""
    return [
        event
        for job in list(self.images.jobs.values())
        if job.session_id == session_id and not job.finished
        for event in list(job.events)
    ]


def list_images(self: Engine, session_id: str) -> list[ImageRecord]:
    return image_rows.list_images(self.store, self.store.resolve_session_id(session_id))


def latest_image(self: Engine, session_id: str) -> Path | None:
    for row in reversed(list_images(self, session_id)):
        if row.status == "ready" and row.path and Path(row.path).is_file():
            return Path(row.path)
    return None


def branch_image(self: Engine, session_id: str, head_id: int | None = None) -> ImageRecord | None:
    """The newest ready image of the branch ending at ``head_id`` (default: the session's head).

    The image of the message nearest the head that has one (its latest reroll wins); flipping
    alternatives or rewinding changes the branch and so the picture.
    """
    sid = self.store.resolve_session_id(session_id)
    ready: dict[int | None, ImageRecord] = {}
    for row in list_images(self, sid):  # oldest first: later rows (rerolls) win
        if row.status == "ready" and row.path and Path(row.path).is_file():
            ready[row.message_id] = row
    if not ready:
        return None
    if head_id is None:
        head_id = self.open_session(sid).record.head_message_id
    if head_id is not None and any(k is not None for k in ready):
        for message in reversed(self.store.branch(head_id)):
            if message.id in ready:
                return ready[message.id]
    return ready.get(None)


def _message_scene(self: Engine, session_id: str, message_id: int, variant: int) -> Scene:
    session = self.open_session(session_id)
    message = self.store.get_message(message_id)
    if message is None or message.session_id != session.id:
        raise ImageError(f"message {message_id} is not part of session {session.id}")
    image = message.content.get("image") if message.sender == "partner" else None
    snap = message.partner_state_snapshot or {}
    if not image:
        scene = opening_scene(session.id, session.scenario, str(session.record.content_rating))
        return replace(scene, variant=variant)
    return turn_scene(
        session.id,
        image,
        session.scenario,
        str(session.record.content_rating),
        location=str(snap.get("location", "")),
        time=str(snap.get("time", "")),
        mood=str(snap.get("mood", "neutral")),
        variant=variant,
    )


def reroll_image(self: Engine, session_id: str, message_id: int | None = None) -> ev.Event | None:
    """Queue the same moment again with a new seed (the next variant)."""
    sid = self.store.resolve_session_id(session_id)
    rows = image_rows.list_images(self.store, sid)
    if message_id is None:
        with_images = [r.message_id for r in rows if r.message_id is not None]
        message_id = (
            with_images[-1] if with_images else self.open_session(sid).record.head_message_id
        )
    if message_id is None:
        raise ImageError(f"session {sid} has no message to draw")
    variant = 1 + max((r.variant for r in rows if r.message_id == message_id), default=0)
    scene = _message_scene(self, sid, message_id, variant)
    return self.images.queue(scene, session_id=sid, turn_id="reroll", message_id=message_id)


# ------------------------------------------------------------------------ workflows


def list_workflows(self: Engine) -> list[tuple[Path, Workflow | WorkflowError]]:
    from qualia_cli.images.workflows import list_workflows as listing

    return listing()


def workflow(self: Engine, name: str | None = None) -> Workflow:
    from qualia_cli.images.workflows import load_workflow

    return load_workflow(name or self.settings.images.workflow)


SAMPLE_SCENE = Scene(
    key="sample",
    prompt="1girl, reading by a window, warm lamplight",
    negative_prompt="lowres, blurry",
    location="the library",
    time="evening",
)


def resolve_workflow(self: Engine, wf: Workflow, scene: Scene | None = None) -> dict[str, Any]:
    """`wf` with every placeholder filled from its defaults, config.yaml and a (sample) scene."""
    from qualia_cli.engine.pictures.avatars import avatars_for

    scene = scene or SAMPLE_SCENE
    avatars = avatars_for(wf, self.settings.images, partner=scene.partner, scenario_path=None)
    request = build_request(scene, self.settings.images, wf, "comfyui", avatars)
    assert request.graph is not None
    return request.graph


@dataclass
class WorkflowCheck:
    workflow: Workflow
    against: str  # "structure only", a server URL or an object_info file
    problems: list[Problem] = field(default_factory=list)
    graph: dict[str, Any] | None = None


async def validate_workflow(
    self: Engine, name: str, *, server: str | None = None, object_info: Path | None = None
) -> WorkflowCheck:
    """Check a workflow; against a live server's or a saved object_info when one is given."""
    from qualia_cli.images.comfy import ComfyClient, redact_url
    from qualia_cli.images.validate import check_graph
    from qualia_cli.images.workflows import WorkflowError

    wf = workflow(self, name)
    problems: list[Problem] = []
    try:
        graph = resolve_workflow(self, wf)
    except WorkflowError as err:  # go on: every problem is listed in one pass
        problems = list(err.problems)
        graph = _partial_graph(self, wf)
    server = server or (None if object_info else self.settings.images.comfyui_url)
    if server:
        async with ComfyClient(server, timeout_s=self.settings.images.timeout_s) as client:
            info = await client.object_info()
        against = redact_url(server)
    elif object_info is not None:
        try:
            info = json.loads(object_info.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise ImageError(
                f"{object_info}: not a readable object_info JSON file ({err})"
            ) from None
        if not isinstance(info, dict):
            raise ImageError(f"{object_info}: not an object_info answer (expected an object)")
        against = str(object_info)
    else:
        return WorkflowCheck(wf, "structure only", problems, None if problems else graph)
    problems += check_graph(wf, graph, info)
    return WorkflowCheck(wf, against, problems, graph)


def _partial_graph(self: Engine, wf: Workflow) -> dict[str, Any]:
    """`wf` with what has a value filled in (a placeholder without one stays as it is)."""
    from qualia_cli.images.workflows import WorkflowError, substitute

    try:
        values = wf.values({**self.settings.images.params, "model": self.settings.images.model})
    except WorkflowError:
        values = {}
    sample = {"prompt": SAMPLE_SCENE.prompt, "negative_prompt": "", "seed": 1}
    return substitute(wf.graph, {**values, **sample})


# ------------------------------------------------------------------------ batches


def _scenario_scenes(self: Engine, target: str) -> tuple[str, list[tuple[str, Scene, int | None]]]:
    _, sc = self.find_scenario(target)
    key = f"scenario:{sc.id}"
    rating = sc.content_rating.value
    out = [("opening", opening_scene(key, sc, rating), None)]
    places = [sc.setting.start_location, *sc.setting.locations]
    out += [(place, location_scene(key, sc, place), None) for place in dict.fromkeys(places)]
    return f"scenario_{sc.id}", out


def _session_scenes(self: Engine, target: str) -> tuple[str, list[tuple[str, Scene, int | None]]]:
    session = self.open_session(target)
    out: list[tuple[str, Scene, int | None]] = []
    head = session.record.head_message_id
    messages = self.store.branch(head) if head is not None else []
    opening = next((m for m in messages if m.turn_id is None), None)
    if opening is not None:
        scene = opening_scene(session.id, session.scenario, str(session.record.content_rating))
        last_opening = [m for m in messages if m.turn_id is None][-1]
        out.append(("opening", scene, last_opening.id))
    for m in messages:
        image = m.content.get("image") if m.sender == "partner" else None
        if image and image.get("generate"):
            turn = (m.partner_state_snapshot or {}).get("turn", "?")
            out.append((f"turn {turn}", _message_scene(self, session.id, m.id, 0), m.id))
    return session.id, out


def plan_batch(
    self: Engine,
    target: str,
    *,
    workflow_name: str | None = None,
    variants: int = 1,
    comfy: bool | None = None,
) -> list[BatchItem]:
    """Every scene moment of a session (or a scenario's opening and locations) × variants."""
    from qualia_cli.images.batch import BatchItem

    looks_like_file = target.endswith((".yaml", ".yml")) or "/" in target
    folder, scenes = (
        _scenario_scenes(self, target) if looks_like_file else _session_scenes(self, target)
    )
    use_comfy = bool(self.settings.images.comfyui_url) if comfy is None else comfy
    wf = workflow(self, workflow_name) if use_comfy else None
    session_id = None if looks_like_file else folder
    avatars: dict[str, bytes] = {}
    if wf is not None and scenes:
        from qualia_cli.engine.pictures.avatars import avatars_for

        if looks_like_file:
            scenario_path: str | None = str(self.find_scenario(target)[0])
        else:
            scenario_path = self.open_session(folder).record.scenario_path
        partner = scenes[0][1].partner
        avatars = avatars_for(
            wf, self.settings.images, partner=partner, scenario_path=scenario_path
        )
    items = []
    for label, scene, message_id in scenes:
        for v in range(variants):
            request = build_request(
                replace(scene, variant=scene.variant + v),
                self.settings.images,
                wf,
                "comfyui" if use_comfy else "sketch",
                avatars,
            )
            name = label if variants == 1 else f"{label} #{v + 1}"
            items.append(BatchItem(name, folder, request, session_id, message_id))
    return items


async def run_batch(
    self: Engine,
    items: list[BatchItem],
    servers: list[str],
    *,
    concurrency: int = 3,
    on_update: Callable[[BatchItem], None] | None = None,
) -> BatchStats:
    from qualia_cli.images.batch import Server, run_batch
    from qualia_cli.images.comfy import ComfyClient

    timeout_s = self.settings.images.timeout_s
    connect_s = min(10.0, timeout_s / 4)  # a hung server is noticed well before a job's deadline
    clients = [
        ComfyClient(url, timeout_s=timeout_s, connect_timeout_s=connect_s) for url in servers
    ]
    pool = [Server(c.server, c) for c in clients]  # shown with its scheme, without credentials
    if not pool:
        pool = [Server("")]

    async def already_done(item: BatchItem) -> Path | None:
        existing = await asyncio.to_thread(find_existing, self.store, item.request, item.folder)
        return existing[0] if existing else None

    async def record(item: BatchItem, made: Any) -> None:
        if item.session_id is None:
            return
        await asyncio.to_thread(
            add_request_row,
            self.store,
            item.request,
            session_id=item.session_id,
            message_id=item.message_id,
            turn_id="batch",
            status="ready",
            path=str(made.path),
            server=made.server,
            timings=made.timings,
            width=made.width,
            height=made.height,
        )

    try:
        return await run_batch(
            items,
            pool,
            concurrency=max(1, concurrency),
            already_done=already_done,
            on_update=on_update,
            record=record,
        )
    finally:
        for server in pool:
            if server.client is not None:
                await server.client.aclose()


async def check_images(self: Engine) -> dict[str, Any]:
    """`qualia doctor`'s row: the sketch renderer, or ComfyUI reachable and the workflow valid."""
    cfg = self.settings.images
    if not cfg.enabled:
        return {"check": "images", "ok": True, "detail": "switched off (images.enabled: false)"}
    if not cfg.comfyui_url:
        return {"check": "images", "ok": True, "detail": "sketch renderer (no ComfyUI configured)"}
    from qualia_cli.images.comfy import ComfyClient, redact_url
    from qualia_cli.images.workflows import WorkflowError

    shown = redact_url(cfg.comfyui_url)
    try:  # the workflow first: it matters even while the server is down
        wf = workflow(self, cfg.workflow)
        resolve_workflow(self, wf)
    except WorkflowError as err:
        return {"check": f"images workflow {cfg.workflow}", "ok": False, "detail": str(err)}
    try:
        async with ComfyClient(cfg.comfyui_url, connect_timeout_s=5) as client:
            version = (await client.system_stats())["system"].get("comfyui_version", "?")
        check = await validate_workflow(self, cfg.workflow)
    except ImageError as err:
        return {"check": f"images {shown}", "ok": False, "detail": str(err)}
    if check.problems:
        return {"check": f"images {shown}", "ok": False, "detail": str(check.problems[0])}
    return {
        "check": f"images {shown}",
        "ok": True,
        "detail": f"ComfyUI {version}; workflow {check.workflow.id} valid",
    }
