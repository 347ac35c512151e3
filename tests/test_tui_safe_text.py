"""Terminal control sequences in data (a session title, a model's reply) are shown in the TUI,
never obeyed: widgets pass their text through textsafe's rule (tui/safe_text.py).

The app test comes first: the table is process-wide once installed."""

from __future__ import annotations

from support.engine import make_engine
from support.tui import wait_for
from textual.content import Content
from textual.widgets import OptionList

from qualia_cli.tui import safe_text
from qualia_cli.tui.app import QualiaApp
from qualia_cli.tui.screens.start import StartScreen

EVIL = "Evil\x1b]0;PWNED\x07 story\x1b[2J\u202e"


async def test_a_hostile_session_title_reaches_the_screen_inert() -> None:
    engine = make_engine()
    try:
        engine.new_session("fogbound_archive", title=EVIL)
        async with (app := QualiaApp(engine)).run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, StartScreen), what="start")
            table = app.screen.query_one("#sessions", OptionList)
            await wait_for(pilot, lambda: table.option_count == 1, what="the session")
            screen = app.export_screenshot()
            assert "\x1b" not in screen
            assert "\\x1b]0;PWNED" in screen
    finally:
        await engine.aclose()


def test_widget_text_shows_escapes() -> None:
    safe_text.install()
    shown = Content(EVIL).plain
    assert "\x1b" not in shown and "\u202e" not in shown
    assert "\\x1b]0;PWNED" in shown and "\\u202e" in shown
    assert Content("line\r\nnext\tcol").plain == "line\nnext\tcol"  # CR still dropped
