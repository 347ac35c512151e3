"""Batch generation over several ComfyUI servers (or the sketch renderer), resumable by hash.

Each item goes to the least-loaded server that has a free slot (`concurrency` jobs in flight per
server, so its queue never runs dry); a server that cannot be reached is dropped and its item
goes back to the others. An item whose file already exists (same request hash) is skipped, so a
batch interrupted half-way resumes where it stopped, and a second run submits nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qualia_cli.images.errors import ComfyError, ImageError
from qualia_cli.images.maker import Made, make_image
from qualia_cli.images.request import ImageRequest


@dataclass
class BatchItem:
    label: str
    folder: str
    request: ImageRequest
    session_id: str | None = None
    message_id: int | None = None
    status: str = "pending"  # pending, running, skipped, done, failed
    path: Path | None = None
    server: str = ""
    error: str = ""
    elapsed_ms: float = 0.0


@dataclass
class Server:
    url: str  # "" for the sketch renderer
    client: Any = None
    in_flight: int = 0
    done: int = 0
    failed: int = 0
    down: str = ""  # why it was dropped
    busy_ms: float = 0.0


@dataclass
class BatchStats:
    items: list[BatchItem]
    servers: list[Server]
    wall_s: float = 0.0
    submitted: int = 0
    counts: dict[str, int] = field(default_factory=dict)


async def run_batch(
    items: list[BatchItem],
    servers: list[Server],
    *,
    concurrency: int,
    already_done: Callable[[BatchItem], Awaitable[Path | None]],
    on_update: Callable[[BatchItem], None] | None = None,
    record: Callable[[BatchItem, Made], Awaitable[None]] | None = None,
) -> BatchStats:
    """Make every item; returns per-item outcomes and per-server load."""
    t0 = time.monotonic()
    stats = BatchStats(items, servers)
    notify = on_update or (lambda item: None)
    pending: deque[BatchItem] = deque()
    for item in items:
        found = await already_done(item)
        if found is not None:
            item.status, item.path = "skipped", found
            notify(item)
        else:
            pending.append(item)

    def least_loaded() -> Server | None:
        free = [s for s in servers if not s.down and s.in_flight < concurrency]
        return min(free, key=lambda s: (s.in_flight, s.done + s.failed), default=None)

    async def run_one(item: BatchItem, server: Server) -> None:
        started = time.monotonic()
        item.status, item.server = "running", server.url
        notify(item)
        try:
            if server.url:
                stats.submitted += 1
            made = await make_image(item.request, item.folder, client=server.client)
            item.status, item.path = "done", made.path
            server.done += 1
            if record is not None:
                await record(item, made)
        except ComfyError as err:
            if err.code == "unreachable":
                server.down = str(err)
                item.status = "pending"
                pending.appendleft(item)  # another server takes it
                return
            item.status, item.error = "failed", str(err)
            server.failed += 1
        except ImageError as err:
            item.status, item.error = "failed", str(err)
            server.failed += 1
        finally:
            server.in_flight -= 1
            server.busy_ms += (time.monotonic() - started) * 1000
            item.elapsed_ms = (time.monotonic() - started) * 1000
        notify(item)

    running: set[asyncio.Task[None]] = set()
    try:
        while pending or running:
            while pending and (server := least_loaded()) is not None:
                item = pending.popleft()
                server.in_flight += 1
                running.add(asyncio.ensure_future(run_one(item, server)))
            if not running:
                break  # every server is down
            done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            running -= done
    finally:
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
    for item in pending:
        item.status = "failed"
        item.error = "no server left: " + "; ".join(s.down for s in servers if s.down)
        notify(item)
    stats.wall_s = time.monotonic() - t0
    for item in items:
        stats.counts[item.status] = stats.counts.get(item.status, 0) + 1
    return stats
