"""Batches: every moment of a session (or a scenario's opening and places) × variants, drawn on
a pool of ComfyUI servers (images/batch.py) with provenance rows and no request drawn twice.

Reached through `PictureService.plan_batch` / `run_batch` (`qualia images batch`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qualia_cli.engine.pictures.moments import (
    FindScenario,
    scenario_moments,
    session_moments,
)
from qualia_cli.engine.pictures.records import add_request_row, find_existing
from qualia_cli.engine.pictures.workflow_checks import load_configured
from qualia_cli.images.request import build_request

if TYPE_CHECKING:
    from qualia_cli.config import Settings
    from qualia_cli.images.batch import BatchItem, BatchStats
    from qualia_cli.store import Store


def plan_batch(
    settings: Settings,
    store: Store,
    find_scenario: FindScenario,
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
        scenario_moments(find_scenario, target)
        if looks_like_file
        else session_moments(store, target)
    )
    use_comfy = bool(settings.images.comfyui_url) if comfy is None else comfy
    wf = load_configured(settings, workflow_name) if use_comfy else None
    session_id = None if looks_like_file else folder
    avatars: dict[str, bytes] = {}
    if wf is not None and scenes:
        from qualia_cli.engine.pictures.avatars import avatars_for

        if looks_like_file:
            scenario_path: str | None = str(find_scenario(target)[0])
        else:
            record = store.get_session(folder)
            scenario_path = record.scenario_path if record is not None else None
        partner = scenes[0][1].partner
        avatars = avatars_for(wf, settings.images, partner=partner, scenario_path=scenario_path)
    items = []
    for label, scene, message_id in scenes:
        for v in range(variants):
            request = build_request(
                replace(scene, variant=scene.variant + v),
                settings.images,
                wf,
                "comfyui" if use_comfy else "sketch",
                avatars,
            )
            name = label if variants == 1 else f"{label} #{v + 1}"
            items.append(BatchItem(name, folder, request, session_id, message_id))
    return items


async def run_batch(
    settings: Settings,
    store: Store,
    items: list[BatchItem],
    servers: list[str],
    *,
    concurrency: int = 3,
    on_update: Callable[[BatchItem], None] | None = None,
) -> BatchStats:
    from qualia_cli.images.batch import Server, run_batch
    from qualia_cli.images.comfy import ComfyClient

    timeout_s = settings.images.timeout_s
    connect_s = min(10.0, timeout_s / 4)  # a hung server is noticed well before a job's deadline
    clients = [
        ComfyClient(url, timeout_s=timeout_s, connect_timeout_s=connect_s) for url in servers
    ]
    pool = [Server(c.server, c) for c in clients]  # shown with its scheme, without credentials
    if not pool:
        pool = [Server("")]

    async def already_done(item: BatchItem) -> Path | None:
        existing = await asyncio.to_thread(find_existing, store, item.request, item.folder)
        return existing[0] if existing else None

    async def record(item: BatchItem, made: Any) -> None:
        if item.session_id is None:
            return
        await asyncio.to_thread(
            add_request_row,
            store,
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
