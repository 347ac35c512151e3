"""`qualia memory …` as a user runs it: a real process on a session with memories."""

from __future__ import annotations

import json
from contextlib import aclosing
from pathlib import Path

from fakes import ScriptedProvider
from story_gen import StoryScript
from support.cli import qualia

from qualia_cli.config import load_settings
from qualia_cli.engine import Engine
from qualia_cli.llm.router import ModelRouter
from qualia_cli.paths import bundled_scenarios_dir
from qualia_cli.scenario import load_scenario


async def session_with_memories() -> str:
    script = StoryScript(name="Edmund Harlow")
    settings = load_settings(
        models={"default": "fake/m"}, memory={"window_turns": 2, "summarize_every": 2}
    )
    router = ModelRouter(settings)
    router.register("fake", ScriptedProvider(answers=script.answers()))
    async with aclosing(Engine(settings, router=router)) as engine:
        session = engine.new_session("fogbound_archive")
        for n in range(1, 9):
            async for _ in engine.open_session(session.id).turn(script.player(n)):
                pass
    return session.id


async def test_show_pin_edit_search(qualia_home: Path) -> None:
    session_id = await session_with_memories()
    shown = qualia("memory", "show", session_id[:5], "--json")
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    memories = data["memories"]
    assert data["session"] == session_id and len(memories) >= 3
    fact = next(m for m in memories if "Edmund Harlow" in m["text"])
    assert fact["kind"] == "fact" and fact["on_branch"] and not fact["pinned"]

    pinned = qualia("memory", "pin", session_id, str(fact["id"]), "--json")
    assert pinned.returncode == 0 and json.loads(pinned.stdout)["pinned"] is True
    table = qualia("memory", "show", session_id)
    assert table.returncode == 0 and "★" in table.stdout and "Edmund Harlow" in table.stdout
    unpinned = qualia("memory", "unpin", session_id, str(fact["id"]))
    assert unpinned.returncode == 0 and f"memory {fact['id']} (fact)" in unpinned.stdout

    edited = qualia("memory", "edit", session_id, str(fact["id"]), "The player is Ed Harlow.")
    assert edited.returncode == 0, edited.stderr
    found = json.loads(qualia("memory", "search", session_id, "Harlow", "--json").stdout)
    kinds = {(h["kind"], h["id"]) for h in found}
    assert ("memory", fact["id"]) in kinds
    assert any(h["kind"] == "message" and "Edmund Harlow" in h["text"] for h in found)
    assert json.loads(qualia("memory", "search", session_id, "zzzz", "--json").stdout) == []

    for args in (
        ("edit", session_id, "999999", "x"),
        ("pin", session_id, "999999"),
        ("edit", session_id, str(fact["id"]), "   "),
        ("show", "nosuchsession"),
    ):
        bad = qualia("memory", *args)
        assert bad.returncode == 2, (args, bad.stderr)
        assert bad.stderr.startswith("error: ") and bad.stderr.count("\n") == 1
        assert "Traceback" not in bad.stderr


def test_import_lorebook_into_a_scenario(tmp_path: Path) -> None:
    card = tmp_path / "card.json"
    card.write_text(
        json.dumps(
            {
                "spec": "chara_card_v3",
                "data": {
                    "character_book": {
                        "name": "Linden",
                        "entries": [
                            {"keys": ["tram"], "content": "Tram 4.", "use_regex": False},
                            {"keys": ["/cats?/i"], "content": "Marmalade.", "priority": 3},
                        ],
                    }
                },
            }
        )
    )
    out = qualia("memory", "import-lorebook", str(card))
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("lorebook:\n")
    source = (bundled_scenarios_dir() / "second_shelf.yaml").read_text()
    scenario = tmp_path / "mine.yaml"
    scenario.write_text(source.split("\nlorebook:")[0] + "\n" + out.stdout)
    book = load_scenario(scenario).lorebook
    assert book.name == "Linden" and [e.content for e in book.entries] == ["Tram 4.", "Marmalade."]
    assert book.entries[1].extensions == {"card_entry": {"priority": 3}}
    as_json = json.loads(qualia("memory", "import-lorebook", str(card), "--json").stdout)
    assert as_json["entries"][0]["keys"] == ["tram"]

    for content in ("not json", json.dumps({"name": "no book"})):
        card.write_text(content)
        bad = qualia("memory", "import-lorebook", str(card))
        assert bad.returncode == 2 and bad.stderr.startswith(f"error: {card}:")
    missing = qualia("memory", "import-lorebook", str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and "file not found" in missing.stderr
