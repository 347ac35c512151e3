"""One way to build a scripted engine in tests, and one `play()`.

`make_engine` wires the scripted provider (tests/fakes.py) as model `fake/x`; the
`scripted_engine` fixture (registered in tests/conftest.py) closes the engine itself, so no test
writes `await engine.aclose()` by hand; `play` runs one turn and follows its pictures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from fakes import ScriptedProvider

from qualia_cli.config import load_settings
from qualia_cli.engine import Engine
from qualia_cli.engine import events as ev
from qualia_cli.llm.router import ModelRouter


def make_engine(
    provider: ScriptedProvider | None = None, *, pictures: bool = True, **images: Any
) -> Engine:
    """An engine whose every agent answers from `provider`; `images` are image settings."""
    settings = load_settings(models={"default": "fake/x"}, images=images)
    router = ModelRouter(settings)
    router.register("fake", provider or ScriptedProvider())
    return Engine(settings, router=router, pictures=pictures)


@pytest.fixture
async def scripted_engine() -> AsyncIterator[Engine]:
    """A scripted engine (sketch pictures), closed after the test whatever happened."""
    engine = make_engine()
    try:
        yield engine
    finally:
        await engine.aclose()


async def play(engine: Engine, session_id: str, text: str) -> tuple[list[ev.Event], list[ev.Event]]:
    """(turn events, picture events after the turn) for one turn."""
    session = engine.open_session(session_id)
    turn = [e async for e in session.turn(text)]
    later = [e async for e in engine.pictures.follow(turn[0].turn_id, session_id)]
    return turn, later
