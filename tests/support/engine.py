"""One way to build a scripted engine in tests, one way to close it, and one `play()`.

`make_engine` wires the scripted provider (tests/fakes.py) as model `fake/model`. Nothing in a
test writes `await engine.aclose()` by hand at its end, where a failing assertion would skip it
and leak the engine (an open SQLite file, a running model):

- the `scripted_engine` fixture is one scripted engine, closed after the test;
- the `engines` fixture builds (`engines(provider, **images)`) or adopts (`engines.keep(x)`)
  engines, providers and routers, and closes them all after the test, last first;
- `open_engine(...)` is the same as an async context manager, for code outside a test.

`play` runs one turn and follows its pictures; `turn_events` runs one turn of a session and
`play_lines` several, each checked to the end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Protocol, TypeVar

import pytest
from fakes import ScriptedProvider

from qualia_cli.config import load_settings
from qualia_cli.engine import Engine, GameSession
from qualia_cli.engine import events as ev
from qualia_cli.llm.router import ModelRouter


class Closable(Protocol):
    async def aclose(self) -> None: ...


C = TypeVar("C", bound=Closable)


def make_engine(
    provider: ScriptedProvider | None = None,
    *,
    pictures: bool = True,
    llm: str = "fake/model",
    settings: Mapping[str, Any] | None = None,
    **images: Any,
) -> Engine:
    """An engine whose every agent answers from `provider`, as model `llm` (a `fake/…` name).

    `images` are image settings (e.g. `enabled=False`, `comfyui_url=…`); `settings` are other
    settings (e.g. `{"memory": {"window_turns": 2}}`, `{"max_stat_delta": 3}`).
    """
    loaded = load_settings(models={"default": llm}, images=images or None, **dict(settings or {}))
    router = ModelRouter(loaded)
    router.register("fake", provider or ScriptedProvider())
    return Engine(loaded, router=router, pictures=pictures)


class Engines:
    """Engines (or anything with `aclose`) that the test opened, closed after it, last first."""

    def __init__(self) -> None:
        self._open: list[Closable] = []

    def __call__(
        self,
        provider: ScriptedProvider | None = None,
        *,
        pictures: bool = True,
        llm: str = "fake/model",
        settings: Mapping[str, Any] | None = None,
        **images: Any,
    ) -> Engine:
        """A scripted engine (see `make_engine`) closed after the test."""
        engine = make_engine(provider, pictures=pictures, llm=llm, settings=settings, **images)
        return self.keep(engine)

    def keep(self, thing: C) -> C:
        """Close `thing` after the test (closing it earlier by hand is fine: aclose twice is)."""
        self._open.append(thing)
        return thing

    async def aclose(self) -> None:
        """Close everything kept, last first; every one is closed even when one fails."""
        errors: list[BaseException] = []
        while self._open:
            try:
                await self._open.pop().aclose()
            except Exception as error:  # the others must still be closed
                errors.append(error)
        if errors:
            raise errors[0]


@pytest.fixture
async def engines() -> AsyncIterator[Engines]:
    """Build or adopt engines in a test; all are closed after it, whatever happened."""
    opened = Engines()
    try:
        yield opened
    finally:
        await opened.aclose()


@pytest.fixture
async def scripted_engine() -> AsyncIterator[Engine]:
    """A scripted engine (sketch pictures), closed after the test whatever happened."""
    async with open_engine() as engine:
        yield engine


@asynccontextmanager
async def open_engine(
    provider: ScriptedProvider | None = None,
    *,
    pictures: bool = True,
    llm: str = "fake/model",
    settings: Mapping[str, Any] | None = None,
    **images: Any,
) -> AsyncIterator[Engine]:
    """A scripted engine (see `make_engine`), closed on leaving the block."""
    engine = make_engine(provider, pictures=pictures, llm=llm, settings=settings, **images)
    try:
        yield engine
    finally:
        await engine.aclose()


async def turn_events(session: GameSession, text: str) -> list[ev.Event]:
    """The events of one turn of `session`, pictures not followed."""
    return [e async for e in session.turn(text)]


async def play_lines(session: GameSession, *lines: str) -> None:
    """Play `lines`, one whole turn each; a turn that does not end committed fails the test."""
    for line in lines:
        events = await turn_events(session, line)
        assert isinstance(events[-1], ev.ExtrasCommitted), f"{line!r} ended with {events[-1]!r}"


async def play(engine: Engine, session_id: str, text: str) -> tuple[list[ev.Event], list[ev.Event]]:
    """(turn events, picture events after the turn) for one turn."""
    session = engine.open_session(session_id)
    turn = [e async for e in session.turn(text)]
    later = [e async for e in engine.pictures.follow(turn[0].turn_id, session_id)]
    return turn, later


async def swiped_session(engine: Engine, title: str | None = None) -> str:
    """A session of two turns, rewound and played again: its tree has a swiped branch."""
    session = engine.new_session("fogbound_archive", title=title)
    await play_lines(session, "one", "two")
    session.rewind()
    await play_lines(session, "other two")
    return session.id
