"""Workflow templates as the engine uses them: load the configured one, fill it, check it.

`resolve_workflow` fills every placeholder from the workflow's defaults, config.yaml and a
(sample) scene; `validate_workflow` checks a workflow against a live ComfyUI or a saved
object_info; `check_images` is `qualia doctor`'s images row. Reached through `PictureService`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qualia_cli.images.errors import ImageError, Problem
from qualia_cli.images.request import Scene, build_request

if TYPE_CHECKING:
    from qualia_cli.config import Settings
    from qualia_cli.images.workflows import Workflow

SAMPLE_SCENE = Scene(
    key="sample",
    prompt="1girl, reading by a window, warm lamplight",
    negative_prompt="lowres, blurry",
    location="the library",
    time="evening",
)


@dataclass
class WorkflowCheck:
    workflow: Workflow
    against: str  # "structure only", a server URL or an object_info file
    problems: list[Problem] = field(default_factory=list)
    graph: dict[str, Any] | None = None


def load_configured(settings: Settings, name: str | None = None) -> Workflow:
    """The workflow `name` (a name or a path), by default the configured one."""
    from qualia_cli.images.workflows import load_workflow

    return load_workflow(name or settings.images.workflow)


def resolve_workflow(
    settings: Settings, wf: Workflow, scene: Scene | None = None
) -> dict[str, Any]:
    """`wf` with every placeholder filled from its defaults, config.yaml and a (sample) scene."""
    from qualia_cli.engine.pictures.avatars import avatars_for

    scene = scene or SAMPLE_SCENE
    avatars = avatars_for(wf, settings.images, partner=scene.partner, scenario_path=None)
    request = build_request(scene, settings.images, wf, "comfyui", avatars)
    assert request.graph is not None
    return request.graph


def _partial_graph(settings: Settings, wf: Workflow) -> dict[str, Any]:
    """`wf` with what has a value filled in (a placeholder without one stays as it is)."""
    from qualia_cli.images.workflows import WorkflowError, substitute

    try:
        values = wf.values({**settings.images.params, "model": settings.images.model})
    except WorkflowError:
        values = {}
    sample = {"prompt": SAMPLE_SCENE.prompt, "negative_prompt": "", "seed": 1}
    return substitute(wf.graph, {**values, **sample})


async def validate_workflow(
    settings: Settings, name: str, *, server: str | None = None, object_info: Path | None = None
) -> WorkflowCheck:
    """Check a workflow; against a live server's or a saved object_info when one is given."""
    from qualia_cli.images.comfy import ComfyClient, redact_url
    from qualia_cli.images.validate import check_graph
    from qualia_cli.images.workflows import WorkflowError

    wf = load_configured(settings, name)
    problems: list[Problem] = []
    try:
        graph = resolve_workflow(settings, wf)
    except WorkflowError as err:  # go on: every problem is listed in one pass
        problems = list(err.problems)
        graph = _partial_graph(settings, wf)
    server = server or (None if object_info else settings.images.comfyui_url)
    if server:
        async with ComfyClient(server, timeout_s=settings.images.timeout_s) as client:
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


async def check_images(settings: Settings) -> dict[str, Any]:
    """`qualia doctor`'s row: the sketch renderer, or ComfyUI reachable and the workflow valid."""
    cfg = settings.images
    if not cfg.enabled:
        return {"check": "images", "ok": True, "detail": "switched off (images.enabled: false)"}
    if not cfg.comfyui_url:
        return {"check": "images", "ok": True, "detail": "sketch renderer (no ComfyUI configured)"}
    from qualia_cli.images.comfy import ComfyClient, redact_url
    from qualia_cli.images.workflows import WorkflowError

    shown = redact_url(cfg.comfyui_url)
    try:  # the workflow first: it matters even while the server is down
        wf = load_configured(settings, cfg.workflow)
        resolve_workflow(settings, wf)
    except WorkflowError as err:
        return {"check": f"images workflow {cfg.workflow}", "ok": False, "detail": str(err)}
    try:
        async with ComfyClient(cfg.comfyui_url, connect_timeout_s=5) as client:
            version = (await client.system_stats())["system"].get("comfyui_version", "?")
        check = await validate_workflow(settings, cfg.workflow)
    except ImageError as err:
        return {"check": f"images {shown}", "ok": False, "detail": str(err)}
    if check.problems:
        return {"check": f"images {shown}", "ok": False, "detail": str(check.problems[0])}
    return {
        "check": f"images {shown}",
        "ok": True,
        "detail": f"ComfyUI {version}; workflow {check.workflow.id} valid",
    }
