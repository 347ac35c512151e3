"""A 10,000-message session opens on its last page and loads earlier pages on scroll-up."""

from __future__ import annotations

from typing import Any

from support.engine import make_engine
from support.tui import fill_long_session, wait_for

from qualia_cli.tui.app import QualiaApp
from qualia_cli.tui.screens.chat import ChatScreen
from qualia_cli.tui.view import PAGE
from qualia_cli.tui.widgets.log import MAX_MOUNTED, ChatLog

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

            async def read_back() -> None:
                """Scroll to the top and wait for exactly one earlier page."""
                total = len(log.views()) + len(log.below)
                log.scroll_home(animate=False)
                await wait_for(
                    pilot,
                    lambda: len(log.views()) + len(log.below) > total and not log._waiting,
                    what="an earlier page",
                )
                await pilot.pause(0.2)  # the place is restored after the refresh
                assert len(log.views()) + len(log.below) == total + PAGE

            first = views[0]
            await read_back()
            assert log.views()[PAGE] is first
            assert log.scroll_y > 1, "the view stays where the player was, not at the new top"
            assert log.views()[0].entry.text.startswith(("player line", "partner line"))

            # reading far back keeps at most MAX_MOUNTED message widgets…
            for _ in range(4):
                await read_back()
            assert len(log.views()) == MAX_MOUNTED
            assert len(log.below) == 2 * PAGE
            oldest = log.views()[0].entry.id
            # …and scrolling back down mounts the newer pages again, up to the last message
            while log.below:
                count = len(log.below)
                log.scroll_end(animate=False)
                await wait_for(pilot, lambda c=count: len(log.below) < c, what="newer page")
                await pilot.pause(0.2)
            assert log.views()[-1].entry.text == f"partner line {last_turn}"
            assert len(log.views()) == MAX_MOUNTED
            assert log.views()[0].entry.id != oldest and log.has_more

            # any earlier moment can be branched from, back to the opening
            from textual.widgets import Tree

            from qualia_cli.tui.screens.tree import CHUNK, StoryTreeScreen

            await pilot.press("ctrl+n")
            await wait_for(pilot, lambda: isinstance(app.screen, StoryTreeScreen), what="tree")
            tree = app.screen.query_one(Tree)
            chunks = tree.root.children
            assert len(chunks) == (last_turn + 1 + CHUNK - 1) // CHUNK  # every turn, opening
            assert str(chunks[0].label).startswith("opening")
            assert not chunks[0].children, "closed chunks are filled when opened"
            assert f"turn {last_turn} · " in str(tree.cursor_node.label)
    finally:
        await engine.aclose()
