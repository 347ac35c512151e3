"""Image jobs in the engine: queued by turns, run in the background, deduplicated, recorded.

The model is scripted (orchestration only); images are real: the sketch renderer, or the
ComfyUI stand-in over real HTTP and websocket.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fakes import ScriptedProvider
from support.comfy_stub import ComfyStub
from support.engine import make_engine, play

from qualia_cli.config import load_settings
from qualia_cli.engine import Engine
from qualia_cli.engine import events as ev
from qualia_cli.images.files import read_metadata

TINY = "tiny_random_sd15.safetensors"


async def test_a_turn_queues_a_sketch_without_waiting_for_it(scripted_engine: Engine) -> None:
    session = scripted_engine.new_session("fogbound_archive")
    turn, later = await play(scripted_engine, session.id, "Hello")
    assert not any(e.type.startswith("image_") for e in turn)  # the turn does not wait for it
    queued = later[0]
    assert isinstance(queued, ev.ImageQueued)
    committed = next(e for e in turn if isinstance(e, ev.TurnCommitted))
    assert queued.backend == "sketch" and queued.message_id == committed.message_ids[-1]
    assert "copper hair" in queued.prompt  # her stable appearance tags
    ready = later[-1]
    assert isinstance(ready, ev.ImageReady) and not ready.cached
    assert Path(ready.path).is_file() and ready.path.endswith(".webp")
    assert read_metadata(Path(ready.path))["seed"] == queued.seed
    message = scripted_engine.store.get_message(queued.message_id or 0)
    assert message is not None and message.image_path == ready.path
    rows = scripted_engine.pictures.list_images(session.id)
    assert [r.status for r in rows] == ["ready", "ready"]  # the opening, then this turn
    row = rows[-1]
    assert (row.seed, row.backend, row.message_id, row.turn_id) == (
        queued.seed,
        "sketch",
        queued.message_id,
        queued.turn_id,
    )
    assert row.workflow_json and row.workflow_json["location"] == row.workflow_json["location"]
    assert row.timings["cached"] is False and row.request_hash


async def test_the_opening_is_drawn_for_every_new_session(scripted_engine: Engine) -> None:
    session = scripted_engine.new_session("second_shelf")
    events = [e async for e in scripted_engine.pictures.follow("opening", session.id)]
    assert isinstance(events[-1], ev.ImageReady)
    head = session.record.head_message_id
    assert events[-1].message_id == head
    assert scripted_engine.pictures.latest_image(session.id) == Path(events[-1].path)


async def test_no_picture_unless_asked_or_the_scene_changes() -> None:
    quiet = {"generate": False, "framing": "portrait", "scene_tags": ["tea"], "negative_tags": []}
    moving = {
        "beat": "They go out.",
        "location": "the pier",
        "time": "night",
        "scene_changed": True,
    }
    provider = ScriptedProvider(answers={"visual": quiet})
    engine = make_engine(provider)
    try:
        session = engine.new_session("fogbound_archive")
        _, later = await play(engine, session.id, "Hello")
        assert later == []
        provider.answers["director"] = moving
        _, later = await play(engine, session.id, "Shall we walk to the pier?")
        assert isinstance(later[0], ev.ImageQueued)  # a scene change always draws
        assert isinstance(later[-1], ev.ImageReady)
    finally:
        await engine.aclose()


async def test_the_same_request_is_never_generated_twice() -> None:
    with ComfyStub(delay_s=0.05) as stub:
        engine = make_engine(comfyui_url=stub.url, workflow="sd15_txt2img", model=TINY)
        try:
            session = engine.new_session("fogbound_archive", title="one")
            opening = [e async for e in engine.pictures.follow("opening", session.id)]
            _, first = await play(engine, session.id, "Hello")
            assert len(stub.submitted) == 2
            # the same moment again (a regenerated branch): same seed, same request → same file
            engine.store.set_head(session.id, session.record.head_message_id or 0)
            again = engine.open_session(session.id)
            before = again.record.head_message_id
            turn = [e async for e in again.turn("Hello")]
            assert before is not None
            second = [e async for e in engine.pictures.follow(turn[0].turn_id, session.id)]
            assert len(stub.submitted) == 2  # nothing new was submitted
            ready1, ready2 = first[-1], second[-1]
            assert isinstance(ready1, ev.ImageReady) and isinstance(ready2, ev.ImageReady)
            assert ready2.cached and ready2.path == ready1.path
            assert isinstance(opening[-1], ev.ImageReady) and not opening[-1].cached
        finally:
            await engine.aclose()


async def test_two_identical_jobs_at_once_generate_once() -> None:
    with ComfyStub(delay_s=0.3) as stub:
        engine = make_engine(comfyui_url=stub.url, workflow="sd15_txt2img", model=TINY)
        try:
            session = engine.new_session("fogbound_archive", title="one")
            message = session.record.head_message_id
            from qualia_cli.engine.pictures.jobs import opening_scene

            twin = opening_scene(session.id, session.scenario, "general")
            engine.pictures.jobs.queue(
                twin, session_id=session.id, turn_id="twin", message_id=message
            )
            await engine.pictures.wait_all()
            assert len(stub.submitted) == 1
            statuses = [r.status for r in engine.pictures.list_images(session.id)]
            assert statuses == ["ready", "ready"]
        finally:
            await engine.aclose()


async def test_comfyui_progress_then_ready_with_provenance() -> None:
    with ComfyStub(delay_s=0.2) as stub:
        engine = make_engine(comfyui_url=stub.url, workflow="sd15_txt2img", model=TINY)
        try:
            session = engine.new_session("fogbound_archive")
            await engine.pictures.wait_all()
            _, later = await play(engine, session.id, "Hello")
            row = engine.pictures.list_images(session.id)[-1]
        finally:
            await engine.aclose()
    progress = [e.percent for e in later if isinstance(e, ev.ImageProgress)]
    assert len(progress) >= 3 and progress == sorted(progress)
    ready = later[-1]
    assert isinstance(ready, ev.ImageReady) and ready.backend == "comfyui"
    assert (ready.width, ready.height) == (96, 64)  # the stand-in draws at 1/8 of 768x512
    assert row.server == stub.url and row.model == TINY and row.workflow == "sd15_txt2img"
    assert row.workflow_json and row.workflow_json["3"]["inputs"]["seed"] == row.seed
    assert row.timings["submit_ms"] >= 0 and row.timings["run_ms"] > 0


@pytest.mark.parametrize("mode", ["bad_checkpoint", "exec_error", "down"])
async def test_a_failing_image_server_never_fails_the_story(mode: str) -> None:
    with ComfyStub(mode="exec_error" if mode == "exec_error" else "ok") as stub:
        url = stub.url
        if mode == "down":
            stub.stop()
        model = "nope.safetensors" if mode == "bad_checkpoint" else TINY
        engine = make_engine(comfyui_url=url, workflow="sd15_txt2img", model=model, timeout_s=5)
        try:
            session = engine.new_session("fogbound_archive")
            turn, later = await play(engine, session.id, "Hello")
            assert any(isinstance(e, ev.TurnCommitted) for e in turn)
            failed = later[-1]
            assert isinstance(failed, ev.ImageFailed)
            expected = {
                "bad_checkpoint": "rejected",
                "exec_error": "execution",
                "down": "unreachable",
            }
            assert failed.code == expected[mode]
            if mode == "bad_checkpoint":
                assert (
                    "node 4 CheckpointLoaderSimple: ckpt_name 'nope.safetensors'" in failed.message
                )
            row = engine.pictures.list_images(session.id)[-1]
            assert row.status == "failed" and row.error == failed.message
            assert engine.open_session(session.id).record.turns == 1
        finally:
            await engine.aclose()


async def test_images_can_be_switched_off() -> None:
    """`Engine(settings, pictures=False)`: the switch is the engine's, not set from outside."""
    assert load_settings().images.enabled
    engine = make_engine(pictures=False)
    try:
        session = engine.new_session("fogbound_archive")
        _, later = await play(engine, session.id, "Hello")
        assert later == []
        assert engine.pictures.list_images(session.id) == []
    finally:
        await engine.aclose()


async def test_reroll_draws_the_moment_again_with_a_new_seed(scripted_engine: Engine) -> None:
    session = scripted_engine.new_session("fogbound_archive")
    _, later = await play(scripted_engine, session.id, "Hello")
    first = later[-1]
    assert isinstance(first, ev.ImageReady)
    queued = scripted_engine.pictures.reroll(session.id)
    assert isinstance(queued, ev.ImageQueued) and queued.message_id == first.message_id
    assert queued.seed != first.seed
    rerolled = [e async for e in scripted_engine.pictures.follow("reroll", session.id)][-1]
    assert isinstance(rerolled, ev.ImageReady) and rerolled.path != first.path
    rows = scripted_engine.pictures.list_images(session.id)
    assert [r.variant for r in rows if r.message_id == first.message_id] == [0, 1]


async def test_closing_the_engine_interrupts_a_running_image() -> None:
    with ComfyStub(mode="hang") as stub:
        engine = make_engine(comfyui_url=stub.url, workflow="sd15_txt2img", model=TINY)
        session = engine.new_session("fogbound_archive")
        listener = engine.pictures.subscribe()
        engine.pictures.jobs._start_deferred()
        async with asyncio.timeout(20):  # a job that fails before submitting fails the test
            while not stub.submitted:
                await asyncio.sleep(0.02)
        await engine.aclose()
        assert len(stub.interrupts) == 1
        events = []
        while not listener.empty():
            events.append(listener.get_nowait())
        assert isinstance(events[-1], ev.ImageFailed) and events[-1].code == "cancelled"
        assert events[-1].session_id == session.id


async def test_doctor_checks_the_image_backend() -> None:
    engine = make_engine()
    try:
        assert (await engine.pictures.check())["detail"].startswith("sketch renderer")
    finally:
        await engine.aclose()
    with ComfyStub() as stub:
        for model, ok in (("sd_xl_base_1.0.safetensors", False), (TINY, True)):
            engine = make_engine(comfyui_url=stub.url, workflow="sdxl_txt2img", model=model)
            try:
                row = await engine.pictures.check()
            finally:
                await engine.aclose()
            assert row["ok"] is ok and row["check"] == f"images {stub.url}"
            if not ok:
                assert "ckpt_name 'sd_xl_base_1.0.safetensors' is not installed" in row["detail"]
            else:
                assert row["detail"] == "ComfyUI 0.3.64; workflow sdxl_txt2img valid"
        assert stub.submitted == []  # validated before anything was submitted
