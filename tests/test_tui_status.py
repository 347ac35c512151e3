"""The status line names the stage of the running turn, with its time; esc says "cancelling…"
at once; a failed turn explains itself in one place."""

from __future__ import annotations

from typing import Any

import pytest
from fakes import ScriptedProvider, failing
from support.engine import make_engine
from support.tui import wait_for
from textual.widgets import Static

from qualia_cli.engine import events as ev
from qualia_cli.tui.app import QualiaApp
from qualia_cli.tui.screens.chat import ChatScreen
from qualia_cli.tui.stage import TurnStage
from qualia_cli.tui.widgets.chat_input import ChatInput
from qualia_cli.tui.widgets.log import ChatLog, RetryBox


def test_stage_text_follows_the_events() -> None:
    now = [100.0]
    stage = TurnStage("Maren Voss", clock=lambda: now[0])
    assert stage.text() == ""
    stage.begin()
    now[0] += 3.2
    assert stage.text() == "planning the scene… 3 s"
    stage.track(ev.DirectorPlanned(turn_id="t1", plan={}))
    assert stage.text() == "Maren is answering… 3 s"
    stage.track(ev.PartnerMessage("t1", "Maren", "hi", "", "calm", ""))
    stage.drawing = 40.0
    assert stage.text() == "the scene, her state and your next moves… 3 s · drawing the scene 40 %"
    stage.cancelling()
    stage.track(ev.PartnerDelta("t1", " words", "late words"))  # a late event does not undo it
    assert stage.text().startswith("cancelling…")
    stage.end()
    stage.drawing = None
    assert stage.text() == ""


@pytest.fixture
def provider() -> ScriptedProvider:
    return ScriptedProvider()


@pytest.fixture
async def engine(provider: ScriptedProvider) -> Any:
    e = make_engine(provider, enabled=False)
    yield e
    await e.aclose()


async def opened(pilot: Any, app: QualiaApp) -> ChatScreen:
    await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen), what="chat screen")
    screen: Any = app.screen
    await wait_for(pilot, lambda: screen.session_view is not None, what="session view")
    return screen


async def test_status_names_each_stage_and_esc_says_cancelling(
    engine: Any, provider: ScriptedProvider
) -> None:
    provider.delays = {"director": 1.5, "partner": 3.0}
    s = engine.new_session("fogbound_archive")
    app = QualiaApp(engine, session_id=s.id)
    async with app.run_test(size=(100, 30)) as pilot:
        chat = await opened(pilot, app)
        status = chat.query_one("#status", Static)
        log = chat.query_one(ChatLog)

        def slot() -> str:  # the reply's place, until her first words arrive
            return str(log.typing.render()) if log.typing is not None else ""

        await pilot.press(*"Hello", "enter")
        await wait_for(pilot, lambda: "planning the scene…" in slot())
        assert "planning" not in str(status.render()), "shown in one place only"
        await wait_for(pilot, lambda: "Maren is answering…" in slot() + str(status.render()))
        assert (slot() + str(status.render())).rstrip().endswith(" s")
        shown: list[str] = []  # what the screen says after each update
        render = chat._render_stage

        def recorded() -> None:
            render()
            shown.append(slot() + str(status.render()))

        chat._render_stage = recorded  # type: ignore[method-assign]
        await pilot.press("escape")
        await wait_for(pilot, lambda: not chat.busy, what="the turn to stop")
        assert shown[0].startswith("cancelling…"), "at once on esc"
        await wait_for(pilot, lambda: "cancelling" not in str(status.render()))


async def test_a_refused_connection_is_explained_once_with_retry(
    engine: Any, provider: ScriptedProvider
) -> None:
    provider.answers["partner"] = failing(
        message="[Errno 111] Connect call failed ('127.0.0.1', 9)"
    )
    s = engine.new_session("fogbound_archive")
    app = QualiaApp(engine, session_id=s.id)
    async with app.run_test(size=(80, 24)) as pilot:
        chat = await opened(pilot, app)
        chat.query_one(ChatInput).focus()
        await pilot.press(*"Hello", "enter")
        log = chat.query_one(ChatLog)
        await wait_for(pilot, lambda: log.query(RetryBox), what="the failure notice", timeout=20)
        box = log.query_one(RetryBox)
        assert box.error.startswith("Cannot reach the model server")
        assert "ctrl+o" in box.error and "[Errno 111]" in box.error
        assert not [n for n in app._notifications if n.severity == "error"], "no toast over it"
