"""The start screen: resume a session, start a new one from a scenario, archive."""

from __future__ import annotations

from typing import Any

import pytest
from support.engine import make_engine
from support.tui import wait_for
from textual.widgets import OptionList

from qualia_cli.engine import Engine
from qualia_cli.tui.app import QualiaApp
from qualia_cli.tui.screens.chat import ChatScreen
from qualia_cli.tui.screens.start import StartScreen


@pytest.fixture
async def engine() -> Any:
    e = make_engine()
    yield e
    await e.aclose()


async def loaded(pilot: Any, app: QualiaApp) -> StartScreen:
    await wait_for(pilot, lambda: isinstance(app.screen, StartScreen), what="start screen")
    screen = app.screen
    assert isinstance(screen, StartScreen)
    await wait_for(
        pilot, lambda: screen.query_one("#scenarios", OptionList).option_count, what="scenarios"
    )
    return screen


async def test_resume_the_highlighted_session(engine: Engine) -> None:
    older = engine.new_session("second_shelf", title="Older story")
    newer = engine.new_session("fogbound_archive", title="Newer story")
    async with (app := QualiaApp(engine)).run_test(size=(100, 30)) as pilot:
        screen = await loaded(pilot, app)
        table = screen.query_one("#sessions", OptionList)
        assert table.option_count == 2
        rows = [str(table.get_option_at_index(i).prompt) for i in range(2)]
        assert rows[0].startswith("Newer story") and rows[1].startswith("Older story")
        scenarios = screen.query_one("#scenarios", OptionList)
        titles = [
            str(scenarios.get_option_at_index(i).prompt) for i in range(scenarios.option_count)
        ]
        assert any("The Fogbound Archive" in t for t in titles)
        assert screen.focused is table
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen), what="chat")
        chat = app.screen
        assert isinstance(chat, ChatScreen)
        assert chat.service.session_id == older.id
        await wait_for(pilot, lambda: chat.session_view is not None)
        assert chat.title == "Older story"
        # and back to the list from the palette's "Sessions" command
        app.action_show_start()
        await loaded(pilot, app)
    assert newer.id != older.id


async def test_new_story_from_a_scenario(engine: Engine) -> None:
    async with (app := QualiaApp(engine)).run_test(size=(100, 30)) as pilot:
        screen = await loaded(pilot, app)
        assert not screen.query_one("#sessions").display, "no sessions yet"
        scenarios = screen.query_one("#scenarios", OptionList)
        assert screen.focused is scenarios
        titles = [
            str(scenarios.get_option_at_index(i).prompt) for i in range(scenarios.option_count)
        ]
        index = next(i for i, t in enumerate(titles) if "The Fogbound Archive" in t)
        scenarios.highlighted = index
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen), what="new session")
        chat = app.screen
        assert isinstance(chat, ChatScreen)
        await wait_for(pilot, lambda: chat.session_view is not None)
        assert chat.session_view is not None
        assert chat.session_view.scenario_title == "The Fogbound Archive"
    sessions = engine.library.list_sessions()
    assert [s.scenario_id for s in sessions] == ["fogbound_archive"]


async def test_archive_hides_a_session(engine: Engine) -> None:
    keep = engine.new_session("second_shelf", title="Keep")
    engine.new_session("fogbound_archive", title="Archive me")
    async with (app := QualiaApp(engine)).run_test(size=(100, 30)) as pilot:
        screen = await loaded(pilot, app)
        table = screen.query_one("#sessions", OptionList)
        assert str(table.get_option_at_index(0).prompt).startswith("Archive me")
        await pilot.press("d")
        await wait_for(pilot, lambda: table.option_count == 1, what="archive")
        assert str(table.get_option_at_index(0).prompt).startswith("Keep")
    assert [s.id for s in engine.library.list_sessions()] == [keep.id]
    assert len(engine.library.list_sessions(include_archived=True)) == 2


async def test_small_terminal_branch_turns_ids_and_archive_undo(engine: Engine) -> None:
    twin_a = engine.new_session("fogbound_archive", title="Same title")
    twin_b = engine.new_session("fogbound_archive", title="Same title")
    for line in ("one", "two", "three"):
        async for _ in twin_a.turn(line):
            pass
    twin_a.rewind()
    twin_a.rewind()  # three turns stored, one on the branch shown
    async with (app := QualiaApp(engine)).run_test(size=(60, 20)) as pilot:
        screen = await loaded(pilot, app)
        table = screen.query_one("#sessions", OptionList)
        await wait_for(pilot, lambda: table.option_count == 2, what="sessions")
        rows = [str(table.get_option_at_index(i).prompt) for i in range(2)]
        assert {r.split()[3] for r in rows} == {twin_a.id, twin_b.id}, "ids tell twins apart"
        row_a = next(r for r in rows if twin_a.id in r)
        assert row_a.split()[4] == "1", "turns on the branch shown, not on all branches"
        scenarios = screen.query_one("#scenarios", OptionList)
        assert scenarios.region.height >= 4 and app.screen.region.contains_region(scenarios.region)
        assert table.region.height >= 3
        first = table.get_option_at_index(0).id
        await pilot.press("d")
        await wait_for(pilot, lambda: table.option_count == 1, what="archived")
        assert engine.store.get_session(first).archived
        await pilot.press("u")
        await wait_for(pilot, lambda: table.option_count == 2, what="back again")
        assert not engine.store.get_session(first).archived
