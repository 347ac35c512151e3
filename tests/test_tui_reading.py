"""Reading a long story: home/end through the database, "↓ latest", ctrl+f search."""

from __future__ import annotations

from typing import Any

import pytest
from support.engine import make_engine
from support.tui import fill_long_session, wait_for

from qualia_cli.engine import Engine
from qualia_cli.tui.app import QualiaApp
from qualia_cli.tui.screens.chat import ChatScreen
from qualia_cli.tui.view import PAGE
from qualia_cli.tui.widgets.chat_input import ChatInput
from qualia_cli.tui.widgets.log import ChatLog

TOTAL = 5_000


@pytest.fixture
async def engine() -> Any:
    e = make_engine(enabled=False)
    yield e
    await e.aclose()


async def opened(pilot: Any, app: QualiaApp) -> ChatScreen:
    await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen), what="chat screen")
    screen: Any = app.screen
    await wait_for(pilot, lambda: screen.session_view is not None, what="session view")
    return screen


def texts(log: ChatLog) -> list[str]:
    return [v.entry.text for v in log.views()]


async def test_home_and_end_jump_through_a_long_story(engine: Engine) -> None:
    s = engine.new_session("fogbound_archive")
    fill_long_session(engine, s.id, TOTAL)
    last_turn = (TOTAL - 2) // 2
    app = QualiaApp(engine, session_id=s.id)
    async with app.run_test(size=(100, 30)) as pilot:
        chat = await opened(pilot, app)
        log = chat.query_one(ChatLog)
        latest = chat.query_one("#latest")
        assert not latest.display
        assert app.focused is chat.query_one(ChatInput)
        await pilot.press("home")  # one key: the opening, not one page up
        await wait_for(pilot, lambda: not log.has_more and log.more_below, what="the start")
        await pilot.pause(0.2)
        assert texts(log)[0].startswith("Rain drums on the tall windows")
        assert log.scroll_y == 0 and len(log.views()) == PAGE
        assert latest.display, "↓ latest shows while the newest message is out of view"
        # scrolling down reads the next page from the database, keeping the place
        first = log.views()[-1]
        log.scroll_end(animate=False)
        await wait_for(pilot, lambda: len(log.views()) == 2 * PAGE, what="the next page")
        await pilot.pause(0.2)
        assert log.views()[PAGE - 1] is first and log.scroll_y < log.max_scroll_y
        await pilot.press("end")
        await wait_for(pilot, lambda: not log.more_below, what="the end")
        await pilot.pause(0.2)
        assert texts(log)[-1] == f"partner line {last_turn}"
        assert log.scroll_y >= log.max_scroll_y - 1 and not latest.display


async def test_ctrl_f_finds_a_message_and_shows_it(engine: Engine) -> None:
    from textual.widgets import OptionList

    from qualia_cli.tui.screens.search import SearchScreen

    s = engine.new_session("fogbound_archive")
    fill_long_session(engine, s.id, TOTAL)
    app = QualiaApp(engine, session_id=s.id)
    async with app.run_test(size=(80, 24)) as pilot:
        chat = await opened(pilot, app)
        log = chat.query_one(ChatLog)
        await pilot.press("ctrl+f")
        await wait_for(pilot, lambda: isinstance(app.screen, SearchScreen), what="search")
        await pilot.press(*"line 1234", "enter")
        hits = app.screen.query_one(OptionList)
        await wait_for(pilot, lambda: hits.option_count == 2, what="two hits")
        assert "1234" in str(hits.get_option_at_index(0).prompt)
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: app.screen is chat, what="back to the story")
        await wait_for(pilot, lambda: log.more_below, what="the page of the hit")
        await pilot.pause(0.3)
        shown = [v for v in log.views() if v.entry.text.endswith("line 1234")]
        assert any(log.region.contains_region(v.region) for v in shown), "the hit is in view"
        assert log.has_more, "earlier pages are still there above it"
