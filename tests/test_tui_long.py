"""A 10,000-message session opens on its last page and loads earlier pages on scroll-up."""

from __future__ import annotations

from typing import Any

from support.tui import fill_long_session, make_engine, wait_for

from qualia_cli.tui.app import QualiaApp
from qualia_cli.tui.screens.chat import ChatScreen
from qualia_cli.tui.view import PAGE
from qualia_cli.tui.widgets.log import ChatLog

TOTAL = 10_000


async def test_long_session_opens_at_its_last_message() -> None:
    engine = make_engine()
    try:
        s = engine.new_session("fogbound_archive")
        fill_long_session(engine, s.id, TOTAL)
        assert engine.store.count_messages(s.id) == TOTAL
        last_turn = (TOTAL - 2) // 2

        app = QualiaApp(engine, session_id=s.id)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen))
            screen: Any = app.screen
            await wait_for(pilot, lambda: screen.session_view is not None, what="first page")
            log = screen.query_one(ChatLog)
            views = log.views()
            assert len(views) == PAGE, "only one page is mounted"
            assert views[-1].entry.text == f"partner line {last_turn}"
            assert log.has_more
            assert log.region.contains_region(views[-1].region), "the last message is on screen"

            first = views[0]
            log.scroll_home(animate=False)
            await wait_for(pilot, lambda: len(log.views()) == 2 * PAGE, what="earlier page")
            await pilot.pause(0.1)
            assert log.views()[PAGE] is first
            assert log.scroll_y > 0, "the view stays where the player was, not at the new top"
            assert log.views()[0].entry.text.startswith(("player line", "partner line"))
    finally:
        await engine.aclose()
