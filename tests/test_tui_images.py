"""The chat screen's scene pane on real images: the offline sketch renderer (or a ComfyUI
stand-in that is down), the scripted model for the turn. Asserts on the image widget and the
file it shows, never on pixels."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from fakes import ScriptedProvider
from support.comfy_stub import ComfyStub
from support.engine import make_engine
from support.tui import wait_for

from qualia_cli.engine import Engine
from qualia_cli.tui.app import QualiaApp
from qualia_cli.tui.screens.chat import ChatScreen
from qualia_cli.tui.widgets.chat_input import ChatInput
from qualia_cli.tui.widgets.image_pane import ImagePane, PromptView
from qualia_cli.tui.widgets.log import ChatLog, TypingView

SIZE = (110, 40)


@pytest.fixture
async def engine() -> Any:
    e = make_engine(ScriptedProvider())
    yield e
    await e.aclose()


def pane(app: QualiaApp) -> ImagePane:
    screen = app.screen
    assert isinstance(screen, ChatScreen)
    return screen.query_one(ImagePane)


def shown(app: QualiaApp) -> Path | None:
    """The file the pane's image widget draws (None: no picture on show)."""
    scene = pane(app).scene
    if scene is None:
        return None
    from textual_image.widget import Image

    found = scene.query(Image)
    if not found:  # the view is mounted, its picture not yet composed (seen under load)
        return None
    assert Path(str(found.first().image)) == scene.path
    return scene.path


def ready_paths(engine: Engine, session_id: str) -> list[Path]:
    return [
        Path(r.path)
        for r in engine.pictures.list_images(session_id)
        if r.status == "ready" and r.path
    ]


async def opened(pilot: Any, app: QualiaApp) -> ChatScreen:
    await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen), what="chat screen")
    screen = app.screen
    assert isinstance(screen, ChatScreen)
    await wait_for(pilot, lambda: screen.session_view is not None, what="session view")
    return screen


async def say(pilot: Any, screen: ChatScreen, text: str) -> None:
    screen.query_one(ChatInput).focus()
    await pilot.press(*text)
    await pilot.press("enter")
    await wait_for(
        pilot,
        lambda: not screen.busy and not screen.extras_pending and not screen.query(TypingView),
        timeout=30,
        what="the turn to finish",
    )


async def test_a_turn_draws_its_scene_and_rewinding_goes_back(engine: Engine) -> None:
    session = engine.new_session("fogbound_archive")
    app = QualiaApp(engine, session_id=session.id)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot, app)
        await wait_for(pilot, lambda: shown(app) is not None, timeout=30, what="opening image")
        opening = shown(app)
        assert opening == engine.pictures.latest_image(session.id)

        await say(pilot, screen, "Hello")
        await wait_for(pilot, lambda: len(ready_paths(engine, session.id)) == 2, timeout=30)
        turn_image = ready_paths(engine, session.id)[-1]
        assert turn_image != opening and turn_image.is_file()
        await wait_for(pilot, lambda: shown(app) == turn_image, timeout=30, what="turn image")
        scene = pane(app).scene
        assert scene is not None and scene.message_id == screen.session_view.head_id  # type: ignore[union-attr]
        assert not pane(app).query_one("#image-progress").has_class("-active")

        await pilot.press("ctrl+b")  # rewind: the branch is back at the opening
        await wait_for(pilot, lambda: shown(app) == opening, timeout=15, what="opening again")
        # each image event is handled once: nothing keeps looking the picture up afterwards
        await wait_for(
            pilot,
            lambda: not [w for w in app.workers if w.name == "scene image" and not w.is_finished],
            what="the lookups to settle",
        )
    assert engine.pictures.jobs._listeners == []  # the feed worker ended with the app


async def test_a_failed_image_shows_a_note_and_the_turn_completes() -> None:
    with ComfyStub() as stub:
        url = stub.url
        stub.stop()  # nothing listens there any more
    engine = make_engine(ScriptedProvider(), comfyui_url=url, workflow="sd15_txt2img", timeout_s=5)
    try:
        session = engine.new_session("fogbound_archive")
        app = QualiaApp(engine, session_id=session.id)
        async with app.run_test(size=SIZE) as pilot:
            screen = await opened(pilot, app)
            await say(pilot, screen, "Hello")
            note = pane(app).query_one("#image-note")
            await wait_for(pilot, lambda: note.has_class("-active"), timeout=30, what="note")
            assert "No picture (unreachable)" in str(note.render())
            partner = [v for v in screen.query_one(ChatLog).views() if v.entry.sender == "partner"]
            assert partner and partner[-1].entry.id is not None  # committed
            assert engine.open_session(session.id).record.turns == 1
            assert pane(app).scene is None and pane(app).query(PromptView)
    finally:
        await engine.aclose()


async def test_reroll_draws_a_new_picture(engine: Engine) -> None:
    session = engine.new_session("fogbound_archive")
    app = QualiaApp(engine, session_id=session.id)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        await wait_for(pilot, lambda: shown(app) is not None, timeout=30, what="opening image")
        first = shown(app)
        await pilot.press("f3")
        await wait_for(pilot, lambda: shown(app) not in (None, first), timeout=30, what="reroll")
        rows = [r for r in engine.pictures.list_images(session.id) if r.status == "ready"]
        assert [r.variant for r in rows] == [0, 1]
        assert shown(app) == Path(str(rows[-1].path))


async def test_opening_a_played_session_shows_its_latest_image(engine: Engine) -> None:
    session = engine.new_session("fogbound_archive")
    async for _ in session.turn("Hello"):
        pass
    await engine.pictures.wait_all()
    latest = engine.pictures.latest_image(session.id)
    assert latest is not None and len(ready_paths(engine, session.id)) == 2
    app = QualiaApp(engine, session_id=session.id)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        await wait_for(pilot, lambda: shown(app) == latest, timeout=15, what="latest image")


async def test_with_images_off_the_pane_keeps_the_prompt() -> None:
    engine = make_engine(ScriptedProvider(), enabled=False)
    try:
        session = engine.new_session("fogbound_archive")
        app = QualiaApp(engine, session_id=session.id)
        async with app.run_test(size=SIZE) as pilot:
            screen = await opened(pilot, app)
            await say(pilot, screen, "Hello")
            await pilot.press("f3")
            await wait_for(pilot, lambda: app._notifications, what="a notification")
            assert any("switched off" in n.message for n in app._notifications)
            await asyncio.sleep(0.1)
            assert pane(app).scene is None and engine.pictures.list_images(session.id) == []
            prompt = (pane(app).image or {}).get("prompt")
            assert prompt and prompt in str(pane(app).query_one(PromptView).render())
    finally:
        await engine.aclose()


async def test_the_opening_progress_shows_when_the_story_started_before_the_app() -> None:
    """`qualia play SCENARIO` creates the session (and queues its opening picture) before the
    app runs: the chat screen catches up with the job's events so far."""
    from textual.widgets import ProgressBar

    with ComfyStub(delay_s=1.5) as stub:
        engine = make_engine(
            ScriptedProvider(),
            comfyui_url=stub.url,
            workflow="sd15_txt2img",
            model="tiny_random_sd15.safetensors",
            timeout_s=30,
        )
        try:
            session = engine.new_session("fogbound_archive")
            app = QualiaApp(engine, session_id=session.id)
            async with app.run_test(size=SIZE) as pilot:
                await opened(pilot, app)
                bar = pane(app).query_one("#image-progress", ProgressBar)
                await wait_for(pilot, lambda: bar.has_class("-active"), what="progress bar")
                await wait_for(pilot, lambda: shown(app) is not None, timeout=30, what="picture")
                assert not bar.has_class("-active")
        finally:
            await engine.aclose()
