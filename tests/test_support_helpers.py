"""The test helpers themselves: engines closed whatever happens, derived marks, profiles."""

from __future__ import annotations

import sqlite3
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import settings
from support.engine import Engines, open_engine
from support.markers import mark


class Thing:
    def __init__(self, name: str, log: list[str], fails: bool = False) -> None:
        self.name, self.log, self.fails = name, log, fails

    async def aclose(self) -> None:
        self.log.append(self.name)
        if self.fails:
            raise RuntimeError(f"{self.name} would not close")


async def test_engines_close_last_first_and_all_of_them_when_one_fails() -> None:
    log: list[str] = []
    opened = Engines()
    first = opened.keep(Thing("first", log))
    opened.keep(Thing("second", log, fails=True))
    opened.keep(Thing("third", log))
    assert first.name == "first"  # keep hands the thing back
    with pytest.raises(RuntimeError, match="second would not close"):
        await opened.aclose()
    assert log == ["third", "second", "first"]
    await opened.aclose()  # nothing left: nothing closed twice
    assert log == ["third", "second", "first"]


async def test_a_kept_engine_is_really_closed() -> None:
    opened = Engines()
    engine = opened(enabled=False)
    session = engine.new_session("fogbound_archive")
    assert engine.store.count_messages(session.id) >= 1
    await opened.aclose()
    with pytest.raises(sqlite3.ProgrammingError):
        engine.store.count_messages(session.id)


async def test_open_engine_closes_when_the_block_fails() -> None:
    with pytest.raises(AssertionError):
        async with open_engine(enabled=False) as engine:
            engine.new_session("fogbound_archive")
            raise AssertionError("a failing check inside the block")
    with pytest.raises(sqlite3.ProgrammingError):
        engine.store.count_messages("x")


# -- derived marks --------------------------------------------------------------------------


class Item:
    """Just what tests/support/markers.py reads of a pytest item."""

    def __init__(self, function: Any, fixtures: tuple[str, ...] = ()) -> None:
        self.function, self.fixturenames = function, fixtures
        self.fspath = __file__
        self.marks: list[pytest.Mark] = []

    def get_closest_marker(self, name: str) -> pytest.Mark | None:
        return next((m for m in self.marks if m.name == name), None)

    def add_marker(self, marker: pytest.MarkDecorator) -> None:
        self.marks.append(marker.mark)


async def _drives_the_app(app: Any) -> None:
    async with app.run_test(size=(80, 24)):
        pass


def _uses_a_snapshot(snap_compare: Any) -> None:
    assert snap_compare("app.py")


def _plain() -> None:
    assert sum([1, 2]) == 3


# in a dict, so the test below does not call them (a called helper would mark the test itself)
SAMPLES = {"app": _drives_the_app, "snapshot": _uses_a_snapshot, "plain": _plain}


def _marks(function: Any, fixtures: tuple[str, ...] = ()) -> set[str]:
    item = Item(function, fixtures)
    mark([item])  # type: ignore[list-item]
    return {m.name for m in item.marks}


def test_a_test_that_runs_the_app_or_a_snapshot_is_slow_and_a_plain_one_is_not() -> None:
    assert _marks(SAMPLES["app"]) == {"slow"}
    assert _marks(SAMPLES["snapshot"], ("snap_compare",)) == {"slow"}
    assert _marks(SAMPLES["plain"]) == set()


# -- hypothesis profiles --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "examples"),
    [("not embedded and not slow", 100), ("", 1000), ("embedded", 1000), ("slow", 1000)],
)
def test_the_quick_loop_runs_fewer_examples(expression: str, examples: int) -> None:
    import conftest

    options = {"hypothesis_profile": None, "markexpr": expression}
    config = SimpleNamespace(getoption=lambda name, default=None: options.get(name, default))
    before = settings.get_current_profile_name()
    try:
        conftest.pytest_configure(config)  # type: ignore[arg-type]
        assert settings.default.max_examples == examples
    finally:
        settings.load_profile(before)


async def test_image_settings_reach_the_images_and_the_agents_keep_the_fake_model() -> None:
    async with open_engine(model="tiny.safetensors", workflow="sd15_txt2img") as engine:
        assert engine.settings.images.model == "tiny.safetensors"
        assert engine.settings.images.workflow == "sd15_txt2img"
        assert engine.settings.models.default == "fake/model"
    async with open_engine(llm="fake/x", settings={"max_stat_delta": 3}) as engine:
        assert engine.settings.models.default == "fake/x"
        assert engine.settings.max_stat_delta == 3
