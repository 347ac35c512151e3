"""Sessions that move: portable JSON (export → import elsewhere → identical turns), Markdown
and self-contained HTML transcripts, untrusted imports, delete / archive / rename."""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from fakes import ScriptedProvider
from support.cards import png_image
from support.cli import qualia
from support.engine import Engines, play_lines

from qualia_cli.config import load_settings
from qualia_cli.engine import Engine
from qualia_cli.engine.library.portability import PortabilityError
from qualia_cli.paths import get_paths


def echoing() -> ScriptedProvider:
    """A partner who answers what the player said; the engines that use it draw no pictures:
    these tests own the session's image folder (background sketches would race)."""
    return ScriptedProvider(
        answers={
            "partner": lambda r: {
                "dialogue": "Reply to: " + r.messages[-1]["content"].rsplit("Player: ", 1)[-1],
                "action": "looks up",
                "mood": "curious",
                "stat_deltas": {"trust": 2},
            }
        }
    )


async def played_session(engine: Engine) -> tuple[str, bytes]:
    """Three turns with a rewind in between (so the tree has a swiped branch) and an image."""
    s = engine.new_session("fogbound_archive", title="Fog & <Ledgers>")
    await play_lines(engine.open_session(s.id), "Hello, Maren.")
    after_first = engine.store.get_session(s.id).head_message_id  # type: ignore[union-attr]
    await play_lines(engine.open_session(s.id), "A path not taken.")
    engine.store.set_head(s.id, after_first)  # rewind: the last turn becomes another version
    await play_lines(engine.open_session(s.id), "Which ledger burned <first>?")
    image = png_image(20, 30, (9, 99, 199))
    folder = get_paths().images_dir / s.id
    folder.mkdir(parents=True, exist_ok=True)  # the engine may have drawn pictures there
    (folder / "scene.png").write_bytes(image)
    head = engine.store.get_session(s.id).head_message_id  # type: ignore[union-attr]
    engine.store.set_message_image(head, str(folder / "scene.png"))
    return s.id, image


def tree(engine: Engine, session_id: str) -> list[tuple[Any, ...]]:
    """The message tree without ids: (depth-first path of senders, content, snapshots…)."""
    dump = engine.store.dump_session(session_id)
    index = {m["id"]: i for i, m in enumerate(dump["messages"])}
    return [
        (
            index.get(m["parent_id"]),
            m["sender"],
            m["content"],
            m["turn_id"],
            m["created_at"],
            m["partner_state_snapshot"],
            m["state_snapshot"],
            m["ending"],
            m["model"],
        )
        for m in dump["messages"]
    ]


async def test_json_round_trip_to_another_machine(
    engines: Engines, qualia_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = engines(echoing(), enabled=False)
    sid, image = await played_session(engine)
    exported = tmp_path / "session.json"
    exported.write_text(engine.library.export(sid, "json"))
    before_tree = tree(engine, sid)
    before_branch = [(m.sender, m.content) for m in engine.open_session(sid).history()]
    before_state = engine.store.get_partner_state(sid)
    before_calls = [
        {k: v for k, v in c.items() if k not in ("id", "message_id", "session_id")}
        for c in engine.agent_calls(sid)
    ]
    await engine.aclose()

    monkeypatch.setenv("QUALIA_HOME", str(tmp_path / "other-machine"))
    other = engines(echoing(), enabled=False)
    record = other.library.import_file(exported)
    assert record.id == sid and record.title == "Fog & <Ledgers>" and record.turns == 3
    assert tree(other, sid) == before_tree
    assert [(m.sender, m.content) for m in other.open_session(sid).history()] == before_branch
    assert other.store.get_partner_state(sid) == before_state
    after_calls = [
        {k: v for k, v in c.items() if k not in ("id", "message_id", "session_id")}
        for c in other.agent_calls(sid)
    ]
    assert after_calls == before_calls
    head = other.store.get_message(record.head_message_id)  # type: ignore[arg-type]
    assert head is not None and head.image_path is not None
    assert Path(head.image_path).read_bytes() == image
    assert Path(head.image_path).is_relative_to(get_paths().images_dir)
    await play_lines(other.open_session(sid), "Still here.")  # the imported session plays on


async def test_extra_per_session_tables_travel_with_remapped_ids(
    engines: Engines, qualia_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows of later per-session tables (here: image provenance) come along: message ids are
    renumbered and their files embedded."""
    engine = engines(echoing(), enabled=False)
    sid, image = await played_session(engine)
    head = engine.store.get_session(sid).head_message_id  # type: ignore[union-attr]
    picture = engine.store.get_message(head).image_path  # type: ignore[union-attr]
    engine.store.conn.execute(
        "INSERT INTO images (session_id, message_id, status, path, prompt, timings, created_at)"
        " VALUES (?, ?, 'ready', ?, '1girl, copper hair', '{\"total_s\": 1.5}', 'now')",
        [sid, head, picture],
    )
    engine.store.conn.commit()
    exported = tmp_path / "s.json"
    exported.write_text(engine.library.export(sid, "json"))
    doc = json.loads(exported.read_text())
    row = next(r for r in doc["tables"]["images"] if r.get("prompt") == "1girl, copper hair")
    assert row["image"] == doc["messages"][-1]["image"]  # one embedded file, shared
    await engine.aclose()

    monkeypatch.setenv("QUALIA_HOME", str(tmp_path / "elsewhere"))
    other = engines(echoing(), enabled=False)
    record = other.library.import_file(exported)
    rows = other.store.conn.execute(
        "SELECT message_id, path, prompt, timings FROM images WHERE session_id = ? AND prompt = ?",
        [record.id, "1girl, copper hair"],
    ).fetchall()
    assert len(rows) == 1
    message_id, path, prompt, timings = rows[0]
    assert message_id == record.head_message_id and prompt == "1girl, copper hair"
    assert json.loads(timings) == {"total_s": 1.5}
    assert Path(path).read_bytes() == image
    assert path == other.store.get_message(message_id).image_path  # type: ignore[union-attr]


async def test_importing_twice_gives_a_second_session(
    engines: Engines, qualia_home: Path, tmp_path: Path
) -> None:
    engine = engines(echoing(), enabled=False)
    sid, _ = await played_session(engine)
    path = tmp_path / "s.json"
    path.write_text(engine.library.export(sid, "json"))
    copy = engine.library.import_file(path)
    assert copy.id != sid and tree(engine, copy.id) == tree(engine, sid)


async def test_branch_export_keeps_only_the_story_as_played(
    engines: Engines, qualia_home: Path
) -> None:
    engine = engines(echoing(), enabled=False)
    sid, _ = await played_session(engine)
    full = engine.library.portable(sid)
    branch = engine.library.portable(sid, branch_only=True)
    texts = [m["content"].get("text") for m in full["messages"]]
    assert "A path not taken." in texts
    assert "A path not taken." not in [m["content"].get("text") for m in branch["messages"]]
    assert len(branch["messages"]) == len(engine.open_session(sid).history())
    kept = {m["id"] for m in branch["messages"]}
    assert all(c["message_id"] in kept for c in branch["agent_calls"])


async def test_html_is_self_contained_with_transcript_and_images(
    engines: Engines, qualia_home: Path
) -> None:
    engine = engines(echoing(), enabled=False)
    sid, image = await played_session(engine)
    page = engine.library.export(sid, "html")
    branch_page = engine.library.export(sid, "html", branch_only=True)
    await engine.aclose()
    assert page.startswith("<!DOCTYPE html>") and "<title>Fog &amp; &lt;Ledgers&gt;</title>" in page
    assert "Rain drums on the tall windows" in page  # the opening narration
    assert "Which ledger burned &lt;first&gt;?" in page and "<first>" not in page
    assert "Reply to: Hello, Maren." in page and "Maren Voss" in page
    assert f"data:image/png;base64,{base64.b64encode(image).decode()}" in page
    assert "<details><summary>1 other version</summary>" in page and "A path not taken." in page
    assert "<details>" not in branch_page and "A path not taken." not in branch_page
    assert "<script" not in page and "http://" not in page.replace("http-equiv", "")
    assert "default-src 'none'" in page  # nothing outside the file can load


async def test_markdown_transcript(engines: Engines, qualia_home: Path) -> None:
    engine = engines(echoing(), enabled=False)
    sid, _ = await played_session(engine)
    md = engine.library.export(sid, "md")
    await engine.aclose()
    assert md.startswith("# Fog & <Ledgers>\n")
    assert "**You:** Hello, Maren." in md
    assert "**Maren Voss:** *(looks up)* Reply to: Hello, Maren." in md
    assert "> other version: **You:** A path not taken." in md
    assert "![scene](data:image/png;base64," in md


# --------------------------------------------------------------------------- untrusted input


def _doc(engine: Engine, sid: str) -> dict[str, Any]:
    return json.loads(engine.library.export(sid, "json"))


def _mutations() -> list[tuple[str, Any, str]]:
    def set_(path: list[Any], value: Any):  # type: ignore[no-untyped-def]
        def apply(doc: dict[str, Any]) -> dict[str, Any]:
            node = doc
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value
            return doc

        return apply

    def orphan(doc: dict[str, Any]) -> dict[str, Any]:
        doc["messages"][1]["parent_id"] = 999_999
        return doc

    def head_on_player(doc: dict[str, Any]) -> dict[str, Any]:
        player = next(m for m in doc["messages"] if m["sender"] == "player")
        doc["session"]["head_message_id"] = player["id"]
        return doc

    def image(value: str):  # type: ignore[no-untyped-def]
        def apply(doc: dict[str, Any]) -> dict[str, Any]:
            doc["images"][next(iter(doc["images"]))] = value
            return doc

        return apply

    return [
        ("wrong format", set_(["format"], "something-else"), "not a qualia session export"),
        ("future version", set_(["version"], 99), "version"),
        ("unknown key", set_(["surprise"], 1), "surprise"),
        ("bad session id", set_(["session", "id"], "../../etc"), "session.id"),
        ("orphan message", orphan, "replies to message 999999"),
        ("secret in settings", set_(["session", "settings"], {"api_key": "sk-x"}), "refusing"),
        ("bad sender", set_(["messages", 0, "sender"], "admin"), "sender"),
        (
            "image is not an image",
            image("data:image/png;base64," + base64.b64encode(b"MZ\x90").decode()),
            "not a PNG",
        ),
        ("image bad base64", image("data:image/png;base64,!!!"), "not valid base64"),
        ("image not a data URI", image("http://example.com/x.png"), "not a base64 data URI"),
        ("broken scenario", set_(["session", "scenario", "stats"], []), "session.scenario"),
        # issue 13.7: numbers SQLite cannot hold end cleanly, with no image files left behind
        ("number over 2**63", set_(["agent_calls", 0, "prompt_tokens"], 10**20), "too large"),
        ("number of 31 digits", set_(["agent_calls", 0, "prompt_tokens"], 10**30), "too large"),
        ("head on a player message", head_on_player, "is a player message with no answer"),
    ]


MUTATIONS = _mutations()


@pytest.mark.parametrize(("label", "mutate", "needle"), MUTATIONS, ids=[m[0] for m in MUTATIONS])
async def test_bad_imports_fail_cleanly(
    engines: Engines, qualia_home: Path, tmp_path: Path, label: str, mutate: Any, needle: str
) -> None:
    engine = engines(echoing(), enabled=False)
    sid, _ = await played_session(engine)
    doc = mutate(_doc(engine, sid))
    engine.store.delete_session(sid)
    images_before = sorted(get_paths().images_dir.rglob("*"))
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(PortabilityError) as info:
        engine.library.import_file(path)
    assert needle in str(info.value) and "\n" not in str(info.value)
    assert engine.library.list_sessions(include_archived=True) == []  # nothing half-written
    assert sorted(get_paths().images_dir.rglob("*")) == images_before


def test_not_json_and_too_large(
    engines: Engines, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qualia_cli.engine.library import portability

    engine = engines.keep(Engine(load_settings()))
    path = tmp_path / "x.json"
    path.write_text('{"format": "qualia-session",\n  oops}')
    with pytest.raises(PortabilityError, match=r"x.json:2:3: not valid JSON"):
        engine.library.import_file(path)
    monkeypatch.setattr(portability, "MAX_IMPORT_BYTES", 10)
    with pytest.raises(PortabilityError, match="too large"):
        engine.library.import_file(path)


# --------------------------------------------------------------------------- CLI


async def test_cli_export_import_rename_archive_delete(
    engines: Engines, qualia_home: Path, tmp_path: Path
) -> None:
    engine = engines(echoing(), enabled=False)
    sid, _ = await played_session(engine)
    image_path = engine.store.get_message(
        engine.store.get_session(sid).head_message_id  # type: ignore[arg-type, union-attr]
    ).image_path  # type: ignore[union-attr]
    shared = get_paths().images_dir / "fogbound_archive" / "opening.png"
    shared.parent.mkdir(parents=True)
    shared.write_bytes(png_image())
    first = engine.store.branch(engine.store.get_session(sid).head_message_id)[0]  # type: ignore[arg-type, union-attr]
    engine.store.set_message_image(first.id, str(shared))
    await engine.aclose()

    html = tmp_path / "out" / "story.html"
    out = qualia("sessions", "export", sid[:5], "--format", "html", "--out", str(html))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(html) and "data:image/png;base64," in html.read_text()
    md = qualia("sessions", "export", sid, "--branch")  # markdown on stdout by default
    assert md.returncode == 0 and "**You:** Hello, Maren." in md.stdout
    assert "A path not taken." not in md.stdout

    portable = tmp_path / "s.json"
    assert (
        qualia("sessions", "export", sid, "--format", "json", "--out", str(portable)).returncode
        == 0
    )
    imported = qualia("sessions", "import", str(portable), "--json")
    assert imported.returncode == 0, imported.stderr
    new_id = json.loads(imported.stdout)["id"]
    assert new_id != sid and json.loads(imported.stdout)["turns"] == 3

    renamed = qualia("sessions", "rename", new_id, "  The   copy ", "--json")
    assert json.loads(renamed.stdout) == {"id": new_id, "title": "The copy"}
    assert qualia("sessions", "archive", new_id).returncode == 0
    listed = [r["id"] for r in json.loads(qualia("sessions", "list", "--json").stdout)]
    assert listed == [sid]
    everything = json.loads(qualia("sessions", "list", "--archived", "--json").stdout)
    assert {r["id"]: r["archived"] for r in everything} == {sid: False, new_id: True}
    assert qualia("sessions", "archive", new_id, "--undo").returncode == 0
    assert len(json.loads(qualia("sessions", "list", "--json").stdout)) == 2

    refused = qualia("sessions", "delete", sid)  # no terminal to confirm on
    assert refused.returncode == 2 and "--yes" in refused.stderr
    deleted = qualia("sessions", "delete", sid, "--yes", "--json")
    assert deleted.returncode == 0 and json.loads(deleted.stdout) == {"id": sid, "deleted": True}
    assert image_path is not None and not Path(image_path).exists()
    assert shared.exists()  # a scenario-level picture other sessions may use stays
    con = sqlite3.connect(get_paths().db_path)
    left = con.execute("select count(*) from messages where session_id = ?", [sid]).fetchone()
    con.close()
    assert left == (0,)
    for args in (
        ["delete", "zzz", "--yes"],
        ["rename", "zzz", "x"],
        ["archive", "zzz"],
        ["export", "zzz"],
        ["import", str(tmp_path / "none.json")],
    ):
        bad = qualia("sessions", *args)
        assert bad.returncode == 2 and bad.stderr.count("\n") == 1, (args, bad.stderr)
