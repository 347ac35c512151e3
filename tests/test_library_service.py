"""The library of sessions as a service (engine/library/service.py): it works on a store alone,
without an Engine; the Engine builds each of its services once and none of them holds the
Engine; ctrl+s and `qualia sessions export --format md` write the same Markdown."""

from __future__ import annotations

import ast
import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from support.engine import make_engine, swiped_session
from support.tui import wait_for

from qualia_cli.engine import Engine
from qualia_cli.engine.library.portability import PortabilityError
from qualia_cli.engine.library.service import LibraryService
from qualia_cli.engine.store_opener import StoreOpener
from qualia_cli.paths import get_paths
from qualia_cli.store import Store

ROOT = Path(__file__).resolve().parents[1] / "qualia_cli"
# the services the Engine composes, and what they use: none may know the Engine
SERVICES = (
    "engine/library/service.py",
    "engine/library/portability.py",
    "engine/library/transcript.py",
    "engine/story/tree.py",
    "engine/memory.py",
    "engine/checks/models_info.py",
    "engine/authoring.py",
    "engine/store_opener.py",
)


def _engine_imports(path: Path) -> list[str]:
    """Imports of the facade or of `Engine` anywhere in the file (TYPE_CHECKING ones too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = {a.name for a in node.names}
            if node.module == "qualia_cli.engine.facade" or (
                node.module == "qualia_cli.engine" and "Engine" in names
            ):
                found.append(f"{path.name}:{node.lineno}")
        elif isinstance(node, ast.Import):
            found += [
                f"{path.name}:{node.lineno}"
                for a in node.names
                if a.name == "qualia_cli.engine.facade"
            ]
    return found


def test_services_import_nothing_of_the_engine() -> None:
    found = [hit for name in SERVICES for hit in _engine_imports(ROOT / name)]
    assert found == [], "a service imports the Engine (even for types): pass it what it needs"


async def test_engine_builds_each_service_once_and_none_holds_it() -> None:
    engine = make_engine(pictures=False)
    try:
        services = [engine.library, engine.memory, engine.models, engine.authoring]
        again = [engine.library, engine.memory, engine.models, engine.authoring]
        assert all(a is b for a, b in zip(services, again, strict=True)), "built once"
        for service in services:
            held = list(vars(service).values())
            assert not any(isinstance(v, Engine) for v in held), type(service).__name__
            closures = [
                c.cell_contents for v in held for c in getattr(v, "__closure__", None) or ()
            ]
            assert not any(isinstance(c, Engine) for c in closures), type(service).__name__
        assert engine.library.store is engine.store is engine.memory.store
    finally:
        await engine.aclose()


async def test_library_round_trip_on_a_store_alone(tmp_path: Path) -> None:
    engine = make_engine(pictures=False)
    try:
        sid = await swiped_session(engine, "Fog and ledgers")
    finally:
        await engine.aclose()
    store = Store(get_paths().db_path)  # the same database file, no Engine
    try:
        library = LibraryService(StoreOpener(store))
        [record] = library.list_sessions()
        assert record.id == sid and library.branch_turns(record) == 2
        assert library.rename(sid[:6], "  The   fog\tledger ") == sid  # a prefix is enough
        assert store.get_session(sid).title == "The fog ledger"  # type: ignore[union-attr]
        with pytest.raises(PortabilityError, match="cannot be empty"):
            library.rename(sid, "   ")
        assert library.archive(sid) == sid
        assert library.list_sessions() == []
        assert [r.id for r in library.list_sessions(include_archived=True)] == [sid]
        library.archive(sid, archived=False)
        assert [r.id for r in library.list_sessions()] == [sid]

        whole = library.export(sid, "md")
        branch = library.export(sid, "md", branch_only=True)
        assert "> other version: **You:** two" in whole, "the whole tree keeps the swiped turn"
        assert "**You:** two" not in branch and "**You:** other two" in branch
        copy = library.export_to_file(sid, "json", tmp_path / "copy.json")
        folder = get_paths().images_dir / sid
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "scene.png").write_bytes(b"\x89PNG\r\n\x1a\n")
        assert library.delete(sid) == sid
        assert library.list_sessions(include_archived=True) == [] and not folder.exists()

        back = library.import_file(copy)
        assert back.id == sid and back.title == "The fog ledger" and back.turns == 3
        assert library.branch_turns(back) == 2
        stamp = re.compile(r"exported \S+\*")
        assert stamp.sub("", library.export(sid, "md")) == stamp.sub("", whole)
    finally:
        store.close()


async def test_ctrl_s_writes_what_sessions_export_prints(qualia_home: Path) -> None:
    from typer.testing import CliRunner

    from qualia_cli.cli.app import app as cli
    from qualia_cli.tui.app import QualiaApp
    from qualia_cli.tui.screens.chat import ChatScreen

    engine = make_engine(pictures=False)
    try:
        sid = await swiped_session(engine, "Fog and ledgers")
        app = QualiaApp(engine, session_id=sid)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen))
            chat: Any = app.screen
            await wait_for(pilot, lambda: chat.session_view is not None)
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: app.screen.query("#export-save"), what="export dialog")
            await pilot.click("#export-save")  # the defaults: Markdown, the whole story
            target = engine.library.default_export_path("Fog and ledgers", sid, "md")
            await wait_for(pilot, target.exists, what="the export")
    finally:
        await engine.aclose()
    saved = target.read_text(encoding="utf-8")
    printed = await asyncio.to_thread(
        CliRunner().invoke, cli, ["sessions", "export", sid, "--format", "md"]
    )
    assert printed.exit_code == 0, printed.output
    stamp = re.compile(r"exported \S+\*")
    assert stamp.sub("", printed.stdout) == stamp.sub("", saved)
    assert "**You:** other two" in saved and "> other version: **You:** two" in saved
