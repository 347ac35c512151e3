"""ctrl+s: the export dialog writes what `qualia sessions export` writes (format, scope)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.engine import make_engine, swiped_session
from support.tui import wait_for

from qualia_cli.engine import Engine
from qualia_cli.engine.story.branching import SessionActionError
from qualia_cli.tui.app import QualiaApp
from qualia_cli.tui.screens.chat import ChatScreen


@pytest.fixture
async def engine() -> Any:
    e = make_engine(enabled=False)
    yield e
    await e.aclose()


async def test_dialog_exports_json_of_this_branch_to_a_chosen_file(
    engine: Engine, tmp_path: Path
) -> None:
    from textual.widgets import Input, Select

    session_id = await swiped_session(engine)
    target = tmp_path / "out" / "story.json"
    app = QualiaApp(engine, session_id=session_id)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen))
        chat: Any = app.screen
        await wait_for(pilot, lambda: chat.session_view is not None)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen.query("#export-save"), what="export dialog")
        dialog = app.screen
        path = dialog.query_one("#path", Input)
        assert path.value.endswith(f"-{session_id}.md"), "the usual file, in the exports dir"
        dialog.query_one("#format", Select).value = "json"
        await pilot.pause()
        assert path.value.endswith(f"-{session_id}.json"), "the suggested name follows the format"
        await pilot.click("#branch")
        path.value = str(target)
        await pilot.click("#export-save")
        await wait_for(pilot, target.exists, what="the export")
    doc = json.loads(target.read_text(encoding="utf-8"))
    said = [m["content"].get("text") for m in doc["messages"] if m["sender"] == "player"]
    assert said == ["one", "other two"], "this branch only"
    again = json.loads(engine.library.export(session_id, "json", branch_only=True))
    doc.pop("exported_at", None), again.pop("exported_at", None)
    assert doc == again, "the same renderer as `sessions export`"


async def test_export_to_file_writes_the_whole_tree_or_nothing(
    engine: Engine, tmp_path: Path
) -> None:
    session_id = await swiped_session(engine)
    out = engine.library.export_to_file(session_id, "md", tmp_path / "story.md")
    text = out.read_text(encoding="utf-8")
    assert "one" in text and "two" in text and "other two" in text  # every branch
    with pytest.raises(SessionActionError, match="is a folder"):
        engine.library.export_to_file(session_id, "md", tmp_path)
    blocked = tmp_path / "file"
    blocked.write_text("x")
    with pytest.raises(SessionActionError, match="cannot write"):
        engine.library.export_to_file(session_id, "md", blocked / "story.md")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "story.md"]  # no leftovers
