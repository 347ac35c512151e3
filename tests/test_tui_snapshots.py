"""Snapshots of the start, chat, story tree, help and options screens at 100×30, 80×24, 120×40
and 60×20 (pytest-textual-snapshot).

Deterministic: fixed session ids and times, UTC, the scripted model. After an intended change
to the look, review and update them with `uv run pytest tests/test_tui_snapshots.py
--snapshot-update`.
"""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import pytest
from support.engine import make_engine, play_lines
from support.tui import wait_for

from qualia_cli.engine import Engine
from qualia_cli.tui.app import QualiaApp
from qualia_cli.tui.screens.chat import ChatScreen
from qualia_cli.tui.screens.start import StartScreen
from qualia_cli.tui.widgets.chat_input import ChatInput
from qualia_cli.tui.widgets.log import ChatLog

SIZES = [(100, 30), (80, 24), (120, 40), (60, 20)]


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    ids = (f"5e55{n:06d}" for n in itertools.count(1))
    monkeypatch.setattr("qualia_cli.store.writes.random_session_id", lambda: next(ids))
    e = make_engine(enabled=False)  # no pictures: how they are drawn depends on the terminal
    yield e
    asyncio.run(e.aclose())
    monkeypatch.undo()
    time.tzset()


def fix_times(engine: Engine) -> None:
    con = sqlite3.connect(engine.store.path)
    with con:
        rows = con.execute("SELECT id FROM sessions ORDER BY id").fetchall()
        for i, (sid,) in enumerate(rows):
            stamp = f"2025-03-0{i + 1}T18:3{i}:00.000000Z"
            con.execute(
                "UPDATE sessions SET created_at = ?, updated_at = ? WHERE id = ?",
                [stamp, stamp, sid],
            )
        con.execute("UPDATE messages SET created_at = '2025-03-01T18:30:00.000000Z'")
    con.close()


def played_session(engine: Engine) -> str:
    session = engine.new_session("fogbound_archive")
    asyncio.run(play_lines(session, "Good evening. Is the lamp room open?"))
    return session.id


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_start_screen(engine: Engine, snap_compare: Any, size: tuple[int, int]) -> None:
    played_session(engine)
    engine.new_session("second_shelf", title="A quiet afternoon")
    fix_times(engine)

    async def loaded(pilot: Any) -> None:
        app = pilot.app
        await wait_for(pilot, lambda: isinstance(app.screen, StartScreen))
        await wait_for(pilot, lambda: app.screen.query_one("#scenarios").option_count)
        await wait_for(pilot, lambda: app.screen.query_one("#sessions").option_count == 2)
        await pilot.pause(0.1)

    assert snap_compare(QualiaApp(engine), terminal_size=size, run_before=loaded)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_chat_screen(engine: Engine, snap_compare: Any, size: tuple[int, int]) -> None:
    session_id = played_session(engine)
    fix_times(engine)

    async def loaded(pilot: Any) -> None:
        app = pilot.app
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen))
        await wait_for(pilot, lambda: app.screen.session_view is not None)
        app.screen.query_one(ChatInput).cursor_blink = False  # a steady cursor
        log = app.screen.query_one(ChatLog)
        await pilot.pause(0.1)
        log.scroll_end(animate=False)
        # where a scrollbar's thumb sits depends on when layout settles on a busy machine:
        # hide vertical scrollbars so the snapshot shows content and layout only
        for widget in app.screen.query("*"):
            widget.styles.scrollbar_size_vertical = 0
        await pilot.pause(0.2)

    app = QualiaApp(engine, session_id=session_id)
    assert snap_compare(app, terminal_size=size, run_before=loaded)


async def _open_chat(pilot: Any) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen))
    await wait_for(pilot, lambda: app.screen.session_view is not None)
    app.screen.query_one(ChatInput).cursor_blink = False
    await pilot.pause(0.1)


def _steady(app: Any) -> None:
    """No blinking cursors and no scrollbars whose thumb depends on timing."""
    for widget in app.screen.query("*"):
        widget.styles.scrollbar_size_vertical = 0
        if hasattr(widget, "cursor_blink"):
            widget.cursor_blink = False


@pytest.mark.parametrize("size", SIZES[1:], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("dialog", ["tree", "help", "options"])
def test_chat_dialogs(
    engine: Engine, snap_compare: Any, size: tuple[int, int], dialog: str
) -> None:
    from qualia_cli.tui.screens.dialogs import OptionsScreen
    from qualia_cli.tui.screens.help import HelpScreen
    from qualia_cli.tui.screens.tree import StoryTreeScreen

    session_id = played_session(engine)
    fix_times(engine)
    key, screen = {
        "tree": ("ctrl+n", StoryTreeScreen),
        "help": ("f1", HelpScreen),
        "options": ("ctrl+o", OptionsScreen),
    }[dialog]

    async def opened(pilot: Any) -> None:
        await _open_chat(pilot)
        await pilot.press(key)
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, screen))
        await pilot.pause(0.2)
        _steady(pilot.app)
        await pilot.pause(0.2)

    app = QualiaApp(engine, session_id=session_id)
    assert snap_compare(app, terminal_size=size, run_before=opened)
