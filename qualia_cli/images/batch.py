"""Batch generation over several ComfyUI servers (or the sketch renderer), resumable by hash.

Each item goes to the least-loaded server that has a free slot (`concurrency` jobs in flight per
server, so its queue never runs dry). A server that fails its health check — before the batch,
or after a job broke off on it (unreachable, hung, cut mid-request) — is dropped, and its items,
including those in flight, go to the others. Every item ends "done", "skipped" or "failed" with
a reason. An item whose file already exists (same request hash) is skipped, so a batch
interrupted half-way resumes where it stopped, and a second run submits nothing.
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


SERVER_FAULTS = frozenset({"unreachable", "disconnected", "timeout", "protocol"})
PROBE_TIMEOUT_S = 5.0


async def probe(server: Server) -> str:
    """ "" if the server answers its health check quickly, else why not."""
    if server.client is None:
        return ""
    try:
        async with asyncio.timeout(min(PROBE_TIMEOUT_S, server.client.call_timeout_s)):
            await server.client.system_stats()
    except TimeoutError:
        return f"{server.client.server} did not answer its health check"
    except ImageError as err:
        return str(err)
    return ""


async def run_batch(
    items: list[BatchItem],
    servers: list[Server],
    *,
    concurrency: int,
    already_done: Callable[[BatchItem], Awaitable[Path | None]],
    on_update: Callable[[BatchItem], None] | None = None,
    record: Callable[[BatchItem, Made], Awaitable[None]] | None = None,
) -> BatchStats:
    """Make every item; returns per-item outcomes and per-server load.

    Every item ends made ("done"), "skipped" or "failed" with a reason, whatever happens. A
    server that fails its health check (before the batch, or after a job broke off on it) is
    dropped, and its items — the one that failed and those still in flight — go to the others.
    """
    t0 = time.monotonic()
    stats = BatchStats(items, servers)
    notify = on_update or (lambda item: None)
    pending: deque[BatchItem] = deque()
    # each server is health-checked first; the batch starts on those that answer, not after all
    checks = {asyncio.ensure_future(probe(s)): s for s in servers}
    for item in items:
        found = await already_done(item)
        if found is not None:
            item.status, item.path = "skipped", found
            notify(item)
        else:
            pending.append(item)

    running: dict[asyncio.Task[None], tuple[BatchItem, Server]] = {}
    moving: set[int] = set()  # ids of items whose task was cancelled to move them

    def least_loaded() -> Server | None:
        checking = {id(s) for s in checks.values()}
        free = [
            s for s in servers if not s.down and id(s) not in checking and s.in_flight < concurrency
        ]
        return min(free, key=lambda s: (s.in_flight, s.done + s.failed), default=None)

    def fail(item: BatchItem, server: Server | None, reason: str) -> None:
        item.status, item.error = "failed", reason or "failed"
        if server is not None:
            server.failed += 1

    async def drop(server: Server, reason: str) -> None:
        """Take `server` out and move every item still in flight on it to the others."""
        if server.down:
            return
        server.down = reason
        for task, (other, where) in running.items():
            if where is server and not task.done() and task is not asyncio.current_task():
                moving.add(id(other))
                task.cancel()

    async def run_one(item: BatchItem, server: Server) -> None:
        try:
            await attempt(item, server)
        except asyncio.CancelledError:  # wherever it lands, a health check included
            if id(item) in moving:  # its server was dropped: another one takes it
                moving.discard(id(item))
                item.status = "pending"
                pending.appendleft(item)
                return
            fail(item, None, "interrupted")
            raise
        notify(item)

    async def attempt(item: BatchItem, server: Server) -> None:
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
            if err.code in SERVER_FAULTS and server.client is not None:
                down = str(err) if err.code == "unreachable" else await probe(server)
                if down or server.down:
                    await drop(server, down or server.down)
                    item.status = "pending"
                    pending.appendleft(item)  # another server takes it
                    return
            fail(item, server, str(err))
        except ImageError as err:
            fail(item, server, str(err))
        except Exception as err:  # a bug or a malformed answer: this item fails, not the batch
            fail(item, server, f"{type(err).__name__}: {err}")
        finally:
            server.in_flight -= 1
            server.busy_ms += (time.monotonic() - started) * 1000
            item.elapsed_ms = (time.monotonic() - started) * 1000

    completed = False
    try:
        while pending or running:
            while pending and (server := least_loaded()) is not None:
                item = pending.popleft()
                server.in_flight += 1
                running[asyncio.ensure_future(run_one(item, server))] = (item, server)
            if not running and (not checks or not pending):
                break  # every server is down, or the work ran out while some were checked
            done, _ = await asyncio.wait([*running, *checks], return_when=asyncio.FIRST_COMPLETED)
            for check in [t for t in done if t in checks]:
                checks.pop(check).down = check.result()
            for task in [t for t in done if t in running]:
                item, server = running.pop(task)
                if not task.cancelled() and task.exception() is not None:
                    fail(item, server, f"{type(task.exception()).__name__}: {task.exception()}")
                    notify(item)
        completed = True
    finally:
        for slow in checks.values():  # never used: the work ran out first
            slow.down = slow.down or f"{slow.url} had not answered its health check"
        for task in [*running, *checks]:
            task.cancel()
        if checks:
            await asyncio.gather(*checks, return_exceptions=True)
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
        for item in items:  # nothing is left "running" or "pending"
            if item.status == "running":
                fail(item, None, "interrupted")
            elif item.status == "pending" and not completed:
                fail(item, None, "interrupted before it started")
    reasons = "; ".join(s.down for s in servers if s.down)
    for item in pending:
        fail(item, None, "no server left: " + reasons if reasons else "no server left")
        notify(item)
    stats.wall_s = time.monotonic() - t0
    for item in items:
        stats.counts[item.status] = stats.counts.get(item.status, 0) + 1
    return stats
