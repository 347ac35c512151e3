"""`images batch` against stand-ins that misbehave like real ComfyUI servers: history written
late, a server that hangs, one that dies mid-batch, answers that make qualia's code throw."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from support.comfy_stub import ComfyStub
from support.engine import Engines

from qualia_cli.config import load_settings
from qualia_cli.engine import Engine

TINY = "tiny_random_sd15.safetensors"
SCENARIO = str(Path(__file__).resolve().parent.parent / "scenarios" / "fogbound_archive.yaml")


def engine(timeout_s: float = 20.0) -> Engine:
    settings = load_settings(
        images={"workflow": "sd15_txt2img", "model": TINY, "timeout_s": timeout_s}
    )
    return Engine(settings)


@pytest.mark.slow  # two batches against stand-ins that answer late (over a second)
async def test_a_batch_with_history_written_late_loses_no_picture(engines: Engines) -> None:
    eng = engines.keep(engine())
    with (
        ComfyStub(delay_s=0.02, history_delay_s=0.2) as one,
        ComfyStub(delay_s=0.02, history_delay_s=0.2) as two,
    ):
        items = eng.pictures.plan_batch(SCENARIO, comfy=True, variants=3)
        stats = await eng.pictures.run_batch(items, [one.url, two.url], concurrency=3)
        again = await eng.pictures.run_batch(
            eng.pictures.plan_batch(SCENARIO, comfy=True, variants=3),
            [one.url, two.url],
            concurrency=3,
        )
        submitted = len(one.submitted) + len(two.submitted)
    assert stats.counts == {"done": len(items)}, [i.error for i in items if i.error]
    assert again.counts == {"skipped": len(items)}
    assert submitted == len(items)  # the re-run submitted nothing


async def test_a_hung_server_is_dropped_and_the_other_makes_everything(engines: Engines) -> None:
    eng = engines.keep(engine(timeout_s=2.0))
    with ComfyStub(delay_s=0.02) as good, ComfyStub(mode="unresponsive") as hung:
        items = eng.pictures.plan_batch(SCENARIO, comfy=True, variants=2)
        stats = await eng.pictures.run_batch(items, [hung.url, good.url], concurrency=2)
    assert stats.counts == {"done": len(items)}
    assert all(i.server == good.url for i in items)
    hung_row = next(s for s in stats.servers if s.url == hung.url)
    assert "health check" in hung_row.down or "did not answer" in hung_row.down


@pytest.mark.slow  # a stand-in dies mid-batch (over a second)
async def test_a_dying_server_hands_its_items_including_in_flight_ones_to_the_other(
    engines: Engines,
) -> None:
    eng = engines.keep(engine(timeout_s=5.0))
    with ComfyStub(delay_s=0.3) as dying, ComfyStub(delay_s=0.05) as good:
        items = eng.pictures.plan_batch(SCENARIO, comfy=True, variants=3)

        def kill_when_busy() -> None:
            while len(dying.submitted) < 2:
                threading.Event().wait(0.01)
            dying.die()

        killer = threading.Thread(target=kill_when_busy)
        killer.start()
        stats = await eng.pictures.run_batch(items, [dying.url, good.url], concurrency=2)
        killer.join(5)
    assert stats.counts == {"done": len(items)}, [i.error for i in items if i.error]
    row = next(s for s in stats.servers if s.url == dying.url)
    assert row.down
    assert all(i.path is not None and i.path.is_file() for i in items)


async def test_every_item_is_accounted_for_when_qualia_itself_throws(
    engines: Engines,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A decompression bomb, malformed data…: the item fails with a reason, nothing is left
    running and no task exception goes unretrieved."""
    import qualia_cli.images.batch as batch

    real = batch.make_image
    calls = 0

    async def flaky(*args, **kw):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls % 2:
            raise RuntimeError("boom from a malformed answer")
        return await real(*args, **kw)

    monkeypatch.setattr(batch, "make_image", flaky)
    unretrieved: list[dict] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, ctx: unretrieved.append(ctx))
    eng = engines.keep(engine())  # closed by hand below: the check follows the close
    with ComfyStub(delay_s=0.02) as one:
        items = eng.pictures.plan_batch(SCENARIO, comfy=True, variants=2)
        stats = await eng.pictures.run_batch(items, [one.url], concurrency=2)
    await eng.aclose()
    import gc

    gc.collect()
    await asyncio.sleep(0)
    assert set(stats.counts) == {"done", "failed"}
    assert stats.counts["failed"] == (len(items) + 1) // 2
    failed = [i for i in items if i.status == "failed"]
    assert all(i.error == "RuntimeError: boom from a malformed answer" for i in failed)
    assert unretrieved == []
