"""Themes and NO_COLOR: the chat screen draws only greys when NO_COLOR is set."""

from __future__ import annotations

import re
from typing import Any

import pytest
from support.engine import make_engine
from support.tui import wait_for

from qualia_cli.tui.app import QualiaApp
from qualia_cli.tui.screens.chat import ChatScreen

HEX = re.compile(r"(?:fill|color)[:=]\s*\"?#([0-9a-fA-F]{6})")


def colours(svg: str) -> set[str]:
    """Colours of the screen's cells (not the window decoration the SVG adds around them)."""
    svg = re.sub(r"<circle[^>]*>", "", svg)
    return {m.lower() for m in HEX.findall(svg)} - {"c5c8c6"}  # the SVG's default text colour


def is_grey(hex6: str) -> bool:
    r, g, b = (int(hex6[i : i + 2], 16) for i in (0, 2, 4))
    return max(r, g, b) - min(r, g, b) <= 2


async def screenshot(engine: Any, theme: str | None = None) -> str:
    s = engine.new_session("fogbound_archive")
    async for _ in s.turn("Hello"):
        pass
    app = QualiaApp(engine, session_id=s.id)
    async with app.run_test(size=(100, 30)) as pilot:
        if theme:
            app.theme = theme
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen))
        await wait_for(pilot, lambda: app.screen.session_view is not None)  # type: ignore[attr-defined]
        await pilot.pause(0.1)
        return app.export_screenshot()


async def test_colours_by_default_and_greys_with_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine()
    try:
        coloured = colours(await screenshot(engine))
        assert any(not is_grey(c) for c in coloured), "the default theme uses colour"
        monkeypatch.setenv("NO_COLOR", "1")
        plain = colours(await screenshot(engine))
        assert plain and all(is_grey(c) for c in plain), sorted(c for c in plain if not is_grey(c))
    finally:
        await engine.aclose()


async def test_theme_changes_the_colours() -> None:
    engine = make_engine()
    try:
        dark = colours(await screenshot(engine))
        light = colours(await screenshot(engine, theme="textual-light"))
        assert dark != light
    finally:
        await engine.aclose()


async def test_the_theme_picked_last_is_remembered(qualia_home: Any) -> None:
    from qualia_cli.paths import get_paths

    engine = make_engine()
    try:
        s = engine.new_session("fogbound_archive")
        app = QualiaApp(engine, session_id=s.id)
        default = app.theme
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen))
            app.theme = "nord"
            state = get_paths().ui_state_file
            await wait_for(pilot, lambda: state.exists(), what="the theme saved")
        assert QualiaApp(engine, session_id=s.id).theme == "nord"
        # a damaged state file only costs the preference
        state.write_text("{not json", encoding="utf-8")
        assert QualiaApp(engine, session_id=s.id).theme == default
    finally:
        await engine.aclose()
