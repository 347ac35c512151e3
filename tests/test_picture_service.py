"""The pictures area as a service: `PictureService` works without an `Engine`.

Built here from settings and a real SQLite store (opened lazily, on first use), with sessions
written straight to the store; pictures are real (the sketch renderer, or the ComfyUI stand-in
over real HTTP and websocket). `Engine(pictures=False)` queues nothing, and the engine's
surface for pictures is `engine.pictures` alone.
"""

from __future__ import annotations

import ast
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support.comfy_stub import ComfyStub
from support.engine import make_engine

from qualia_cli.config import load_settings
from qualia_cli.engine import Engine
from qualia_cli.engine import events as ev
from qualia_cli.engine.pictures.service import PictureService
from qualia_cli.engine.story.greetings import opening_messages
from qualia_cli.engine.turn.state import initial_state
from qualia_cli.scenario.loader import default_search_dirs, find_scenario, load_scenario
from qualia_cli.scenario.models import Scenario
from qualia_cli.store import Store

TINY = "tiny_random_sd15.safetensors"
PACKAGE = Path(__file__).resolve().parents[1] / "qualia_cli"


class LazyStore:
    """A store provider like the engine's: opens the SQLite file on the first call only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.opened: Store | None = None
        self.calls = 0

    def __call__(self) -> Store:
        self.calls += 1
        if self.opened is None:
            self.opened = Store(self.path)
        return self.opened


def stored_session(store: Store, name: str = "fogbound_archive") -> tuple[str, Scenario]:
    """A session written straight to the store (what `Engine.new_session` writes)."""
    path = find_scenario(name, default_search_dirs())
    sc = load_scenario(path)
    record = store.create_session(
        title=sc.title,
        scenario_id=sc.id,
        scenario_path=str(path),
        scenario=sc.model_dump(mode="json"),
        genre=sc.genre,
        narrative_pace=sc.narrative_pace.value,
        content_rating=sc.content_rating.value,
        settings={},
        world_state={"facts": {}},
        partner=initial_state(sc),
        opening=opening_messages(sc),
    )
    return record.id, sc


@pytest.fixture
async def pictures(tmp_path: Path) -> AsyncIterator[tuple[PictureService, LazyStore]]:
    provider = LazyStore(tmp_path / "pictures.db")
    service = PictureService(load_settings(), provider)
    try:
        yield service, provider
    finally:
        await service.aclose()
        if provider.opened is not None:
            provider.opened.close()


async def test_the_store_opens_only_when_a_picture_needs_it(
    pictures: tuple[PictureService, LazyStore],
) -> None:
    service, provider = pictures
    assert service.enabled
    wf = service.workflow("sd15_txt2img")
    assert service.resolve_workflow(wf)["3"]["inputs"]["seed"] >= 0  # filled from a sample
    assert any(path.stem == "sd15_txt2img" for path, _ in service.list_workflows())
    assert provider.calls == 0 and not (provider.path).exists()
    assert (await service.check())["detail"].startswith("sketch renderer")
    assert provider.calls == 0
    assert service.list_images(stored_session(provider())[0]) == []
    assert provider.path.is_file()


async def test_opening_list_latest_branch_and_reroll_without_an_engine(
    pictures: tuple[PictureService, LazyStore],
) -> None:
    service, provider = pictures
    store = provider()
    sid, sc = stored_session(store)
    head = store.get_session(sid).head_message_id  # type: ignore[union-attr]
    queued = service.queue_opening(sid, head, sc, sc.content_rating.value)
    assert isinstance(queued, ev.ImageQueued) and queued.backend == "sketch"
    opening = [e async for e in service.follow("opening", sid)]
    assert isinstance(opening[-1], ev.ImageReady) and opening[-1].message_id == head
    assert service.in_flight(sid) == []  # finished jobs are not "in flight"
    assert service.latest_image(sid[:8]) == Path(opening[-1].path)  # a prefix is enough
    row = service.branch_image(sid)
    assert row is not None and row.path == opening[-1].path and row.variant == 0

    rerolled = service.reroll(sid)  # the newest moment with a picture: the opening
    assert isinstance(rerolled, ev.ImageQueued) and rerolled.message_id == head
    assert rerolled.seed != queued.seed
    assert [type(e) for e in service.in_flight(sid)][:1] == [ev.ImageQueued]
    ready = [e async for e in service.follow("reroll", sid)][-1]
    assert isinstance(ready, ev.ImageReady) and ready.path != opening[-1].path
    rows = service.list_images(sid)
    assert [(r.variant, r.status) for r in rows] == [(0, "ready"), (1, "ready")]
    assert service.latest_image(sid) == Path(ready.path)
    assert service.branch_image(sid).path == ready.path  # type: ignore[union-attr]


async def test_a_listener_hears_what_the_service_queues(
    pictures: tuple[PictureService, LazyStore],
) -> None:
    service, provider = pictures
    store = provider()
    sid, sc = stored_session(store)
    listener = service.subscribe()
    service.queue_opening(sid, store.get_session(sid).head_message_id, sc, "general")  # type: ignore[union-attr]
    await service.wait_all()
    heard = [listener.get_nowait() for _ in range(listener.qsize())]
    assert isinstance(heard[0], ev.ImageQueued) and isinstance(heard[-1], ev.ImageReady)
    service.unsubscribe(listener)
    service.reroll(sid)
    await service.wait_all()
    assert listener.empty()


async def test_a_stored_session_batch_on_the_comfy_stand_in(tmp_path: Path) -> None:
    settings = load_settings(images={"workflow": "sd15_txt2img", "model": TINY})
    provider = LazyStore(tmp_path / "batch.db")
    found: list[str] = []

    def finder(name: str) -> tuple[Path, Scenario]:
        found.append(name)
        path = find_scenario(Path(name).stem, default_search_dirs())
        return path, load_scenario(path)

    service = PictureService(settings, provider, find_scenario=finder)
    try:
        sid, _ = stored_session(provider())
        items = service.plan_batch(sid, comfy=True, variants=2)
        assert [i.label for i in items] == ["opening #1", "opening #2"]
        assert {i.session_id for i in items} == {sid} and found == []
        with ComfyStub() as stub:
            stats = await service.run_batch(items, [stub.url], concurrency=2)
            assert len(stub.submitted) == 2
        assert all(i.status == "done" for i in items), [(i.status, i.error) for i in items]
        rows = service.list_images(sid)
        assert [(r.turn_id, r.server, r.variant) for r in rows] == [
            ("batch", stub.url, 0),
            ("batch", stub.url, 1),
        ]
        assert stats.counts.get("done") == 2
        planned = service.plan_batch("mine/fogbound_archive.yaml", comfy=False)
        assert found and found[0] == "mine/fogbound_archive.yaml"  # through the given finder
        assert planned[0].folder == "scenario_fogbound_archive" and planned[0].session_id is None
    finally:
        await service.aclose()
        if provider.opened is not None:
            provider.opened.close()


async def test_an_engine_without_pictures_queues_nothing() -> None:
    engine = make_engine(pictures=False)
    try:
        assert engine.settings.images.enabled and not engine.pictures.enabled
        listener = engine.pictures.subscribe()
        session = engine.new_session("fogbound_archive")
        assert engine.pictures.reroll(session.id) is None
        assert engine.pictures.in_flight(session.id) == []
        assert [e async for e in engine.pictures.follow("opening", session.id)] == []
        await engine.pictures.wait_all()
        assert listener.empty() and engine.pictures.list_images(session.id) == []
    finally:
        await engine.aclose()


def test_pictures_are_one_service_on_the_engine() -> None:
    old = ["follow_images", "image_events", "images_in_flight", "list_images", "latest_image"]
    old += ["branch_image", "reroll_image", "list_workflows", "workflow", "resolve_workflow"]
    old += ["validate_workflow", "plan_batch", "run_batch", "check_images"]
    assert [name for name in old if hasattr(Engine, name)] == []
    engine = Engine(load_settings(), pictures=False)
    assert isinstance(engine.pictures, PictureService) and not hasattr(engine, "images")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_the_pictures_area_never_reaches_for_the_engine() -> None:
    """Any import counts (lazy or for type checking): the service gets settings and a store."""
    for path in sorted((PACKAGE / "engine" / "pictures").glob("*.py")):
        reached = _imports(path) & {"qualia_cli.engine.facade", "qualia_cli.engine.story.session"}
        assert not reached, f"{path.name} imports {reached}"


def test_workflows_and_their_sidecar_import_one_way() -> None:
    """The sidecar checks placeholder values without importing the loader that imports it."""
    images = PACKAGE / "images"
    assert "qualia_cli.images.workflows" not in _imports(images / "workflow_sidecar.py")
    assert "qualia_cli.images.workflow_sidecar" in _imports(images / "workflows.py")


def test_front_ends_reach_pictures_through_the_service_alone() -> None:
    """`engine.pictures.jobs` is what the engine's sessions queue into, not a front-end surface."""
    for layer in ("cli", "tui", "headless"):
        for path in sorted((PACKAGE / layer).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Attribute) and node.attr in {"jobs", "images"}:
                    inner = node.value
                    owner = (
                        inner.attr
                        if isinstance(inner, ast.Attribute)
                        else inner.id
                        if isinstance(inner, ast.Name)
                        else ""
                    )
                    assert owner not in {"pictures", "engine"}, (
                        f"{path.relative_to(PACKAGE)}:{node.lineno} reaches {owner}.{node.attr}"
                    )
