"""Store: schema and migrations, sessions, atomic turns."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Database

from qualia_cli.store import (
    AgentCall,
    NewMessage,
    PartnerState,
    SessionRecord,
    Store,
    StoreError,
    TurnRecord,
)
from qualia_cli.store import writes as store_writes
from qualia_cli.store.migrations import migrations

TABLES = {"sessions", "characters", "messages", "agent_calls", "images", "_sqlite_migrations"}


def migration_names() -> list[str]:
    return [m.name for m in migrations.pending(Database(memory=True))]


def partner(**changes: Any) -> PartnerState:
    values: dict[str, Any] = {
        "name": "Aki",
        "stats": {"affection": 20, "trust": 10},
        "mood": "curious",
        "memory_summary": "",
        "location": "café",
        "time": "evening",
        "profile": {"age": 24, "occupation": "barista", "personality": {"traits": ["shy"]}},
    }
    return PartnerState(**(values | changes))


def make_session(store: Store, *, opening: list[NewMessage] | None = None) -> SessionRecord:
    if opening is None:
        opening = [
            NewMessage("narrator", {"text": "Rain taps on the café window."}),
            NewMessage("partner", {"dialogue": "Oh, hello again."}, model="m"),
        ]
    return store.create_session(
        title="Rainy café",
        scenario_id="cafe",
        scenario_path="scenarios/cafe.yaml",
        scenario={"id": "cafe", "stats": ["affection", "trust"]},
        genre="romance",
        narrative_pace="slow",
        content_rating="sfw",
        settings={"model": "local"},
        world_state={"day": 1, "flags": []},
        partner=partner(),
        opening=opening,
    )


def turn(
    session_id: str,
    expected_head: int | None,
    *,
    n: int = 1,
    turn_id: str | None = None,
    cost: float | None = 0.001,
    ending: str | None = None,
) -> TurnRecord:
    return TurnRecord(
        session_id=session_id,
        turn_id=turn_id or f"t{n}",
        expected_head=expected_head,
        messages=[
            NewMessage("player", {"text": f"player line {n}"}),
            NewMessage(
                "partner",
                {"dialogue": f"partner line {n}", "action": "smiles"},
                processing_time_ms=123.5,
                model="smol",
                image_prompt="1girl, café",
                partner_state_snapshot={"stats": {"affection": 20 + n}},
                prompt_tokens=100,
                completion_tokens=20,
            ),
        ],
        partner_state=partner(stats={"affection": 20 + n, "trust": 10}, mood="happy"),
        world_state={"day": 1, "turn": n},
        agent_calls=[
            AgentCall("director", "smol", ok=True, latency_ms=10.0, cost_usd=cost),
            AgentCall(
                "partner",
                "smol",
                ok=False,
                latency_ms=20.0,
                prompt_tokens=5,
                cost_usd=cost,
                repairs=1,
                retries=2,
                error="bad json",
                error_code="parse",
                raw_output="{oops",
                started_at=0.5,
            ),
        ],
        ending=ending,
    )


def table_counts(store: Store) -> dict[str, int]:
    return {t: store.conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}


def snapshot_db(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    return {
        t: store.conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall()
        for t in TABLES - {"_sqlite_migrations"}
    }


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with Store(tmp_path / "data" / "qualia.db") as s:
        yield s


# ------------------------------------------------------------------ schema and migrations


def test_new_database_has_schema_and_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "qualia.db"
    with Store(path) as store:
        assert path.exists()
        assert set(store.db.table_names()) >= TABLES
        applied = [m.name for m in migrations.applied(store.db)]
        assert applied == migration_names()
        assert applied[0] == "m001_initial"
        assert store.db.journal_mode == "wal"
        assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert store.conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
        message_columns = {c.name for c in store.db["messages"].columns}
        assert {"parent_id", "turn_id", "partner_state_snapshot", "image_path"} <= message_columns
        assert not any("key" in c.name.lower() for c in store.db["sessions"].columns)


def test_reopen_applies_nothing_and_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "qualia.db"
    with Store(path) as store:
        session = make_session(store)
        store.commit_turn(turn(session.id, session.head_message_id))
        applied = migrations.applied(store.db)
    with Store(path) as store:
        assert migrations.applied(store.db) == applied
        assert migrations.pending(store.db) == []
        again = store.get_session(session.id)
        assert again is not None
        assert again.title == "Rainy café"
        assert again.turns == 1
        assert store.count_messages(session.id) == 4


@pytest.mark.parametrize("applied_count", range(1, len(migration_names())))
def test_upgrade_from_older_schema_keeps_data(tmp_path: Path, applied_count: int) -> None:
    names = migration_names()
    path = tmp_path / "old.db"
    old = Database(path)
    old.execute("PRAGMA foreign_keys = ON")
    migrations.apply(old, stop_before=names[applied_count])
    assert [m.name for m in migrations.applied(old)] == names[:applied_count]
    # rows using only the columns m001 created
    now = "2025-01-01T00:00:00.000000Z"
    old.execute(
        "INSERT INTO sessions (id, title, scenario_id, scenario, settings, world_state, "
        "created_at, updated_at) VALUES ('legacy0001', 'Old', 'cafe', '{}', '{}', "
        "'{\"day\": 3}', ?, ?)",
        [now, now],
    )
    old.execute(
        "INSERT INTO characters (session_id, name, stats, mood, updated_at) "
        "VALUES ('legacy0001', 'Aki', '{\"affection\": 50}', 'calm', ?)",
        [now],
    )
    old.execute(
        "INSERT INTO messages (id, session_id, parent_id, sender, content, created_at) "
        "VALUES (1, 'legacy0001', NULL, 'narrator', '{\"text\": \"old\"}', ?), "
        "(2, 'legacy0001', 1, 'player', '{\"text\": \"hi\"}', ?)",
        [now, now],
    )
    old.execute("UPDATE sessions SET head_message_id = 2 WHERE id = 'legacy0001'")
    old.close()

    with Store(path) as store:
        assert [m.name for m in migrations.applied(store.db)] == names
        session = store.get_session("legacy0001")
        assert session is not None
        assert session.world_state == {"day": 3}
        assert session.turns == 1
        assert session.ending is None
        assert [m.text for m in store.branch(2)] == ["old", "hi"]
        assert store.get_partner_state("legacy0001").stats == {"affection": 50}
        # no recorded snapshot: rewinding leaves the state alone
        store.set_head("legacy0001", 1)
        assert store.get_session("legacy0001").world_state == {"day": 3}  # type: ignore[union-attr]
        ids = store.commit_turn(turn("legacy0001", 1))
        assert store.branch(ids[-1])[0].id == 1


def test_opening_a_non_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open the database"):
        Store(path)


# ------------------------------------------------------------------------------ sessions


def test_create_session_writes_everything(store: Store) -> None:
    session = make_session(store)
    assert len(session.id) == 10
    int(session.id, 16)
    assert session.scenario == {"id": "cafe", "stats": ["affection", "trust"]}
    assert session.settings == {"model": "local"}
    assert session.world_state == {"day": 1, "flags": []}
    assert session.archived is False
    assert session.turns == 0
    assert session.cost_usd == 0.0
    messages = store.branch(session.head_message_id)  # type: ignore[arg-type]
    assert [m.sender for m in messages] == ["narrator", "partner"]
    assert messages[0].parent_id is None
    assert messages[1].parent_id == messages[0].id
    assert messages[1].model == "m"
    assert store.get_partner_state(session.id) == partner()
    assert store.state_at(messages[1].id) == (partner(), {"day": 1, "flags": []})


def test_create_session_without_opening(store: Store) -> None:
    session = make_session(store, opening=[])
    assert session.head_message_id is None
    ids = store.commit_turn(turn(session.id, None))
    first = store.get_message(ids[0])
    assert first is not None
    assert first.parent_id is None


def test_commit_turn_round_trip(store: Store) -> None:
    session = make_session(store)
    head = session.head_message_id
    ids = store.commit_turn(turn(session.id, head, ending="good_end"))
    assert len(ids) == 2
    player, reply = (store.get_message(i) for i in ids)
    assert player is not None
    assert reply is not None
    assert player.parent_id == head
    assert reply.parent_id == player.id
    assert player.turn_id == reply.turn_id == "t1"
    assert reply.content == {"dialogue": "partner line 1", "action": "smiles"}
    assert reply.text == "partner line 1"
    assert reply.processing_time_ms == 123.5
    assert reply.image_prompt == "1girl, café"
    assert reply.partner_state_snapshot == {"stats": {"affection": 21}}
    assert (reply.prompt_tokens, reply.completion_tokens) == (100, 20)
    assert reply.ending == "good_end"
    assert player.ending is None

    after = store.get_session(session.id)
    assert after is not None
    assert after.head_message_id == ids[-1]
    assert after.world_state == {"day": 1, "turn": 1}
    assert after.updated_at >= session.updated_at
    assert after.turns == 1
    assert after.cost_usd == pytest.approx(0.002)
    assert after.ending == "good_end"
    state = store.get_partner_state(session.id)
    assert state.stats == {"affection": 21, "trust": 10}
    assert state.mood == "happy"
    assert state.profile["occupation"] == "barista"

    calls = store.agent_calls(session.id)
    assert [c["agent"] for c in calls] == ["director", "partner"]
    assert all(c["message_id"] == ids[-1] and c["turn_id"] == "t1" for c in calls)
    assert calls[0]["ok"] is True
    assert calls[1]["ok"] is False
    assert calls[1]["error_code"] == "parse"
    assert calls[1]["raw_output"] == "{oops"
    assert (calls[1]["repairs"], calls[1]["retries"]) == (1, 2)
    assert store.agent_calls(session.id, turn_id="nope") == []
    assert store.session_cost(session.id) == pytest.approx(0.002)

    ids2 = store.commit_turn(turn(session.id, ids[-1], n=2, cost=None))
    assert store.session_cost(session.id) == pytest.approx(0.002)
    assert len(store.agent_calls(session.id, turn_id="t2")) == 2
    assert store.get_session(session.id).turns == 2  # type: ignore[union-attr]
    assert store.get_session(session.id).ending is None  # type: ignore[union-attr]
    assert [m.id for m in store.branch(ids2[-1])][-4:] == ids + ids2


def test_commit_turn_failure_midway_writes_nothing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = make_session(store)
    before = snapshot_db(store)
    real_insert = store_writes.insert_row

    def failing_insert(db: Database, table: str, values: dict[str, Any]) -> int:
        if table == "agent_calls":
            raise RuntimeError("disk on fire")
        return real_insert(db, table, values)

    monkeypatch.setattr(store_writes, "insert_row", failing_insert)
    with pytest.raises(RuntimeError, match="disk on fire"):
        store.commit_turn(turn(session.id, session.head_message_id))
    assert snapshot_db(store) == before
    assert not store.conn.in_transaction
    monkeypatch.undo()
    # the store is still usable and the same turn now commits
    store.commit_turn(turn(session.id, session.head_message_id))
    assert store.count_messages(session.id) == 4


def test_stale_expected_head_raises_and_writes_nothing(store: Store) -> None:
    session = make_session(store)
    ids = store.commit_turn(turn(session.id, session.head_message_id))
    before = snapshot_db(store)
    with pytest.raises(StoreError, match="session changed during the turn"):
        store.commit_turn(turn(session.id, session.head_message_id, n=2))
    assert snapshot_db(store) == before
    assert store.get_session(session.id).head_message_id == ids[-1]  # type: ignore[union-attr]


def test_commit_turn_checks_its_input(store: Store) -> None:
    session = make_session(store)
    empty = turn(session.id, session.head_message_id)
    empty.messages = []
    with pytest.raises(ValueError):
        store.commit_turn(empty)
    with pytest.raises(StoreError, match="no session"):
        store.commit_turn(turn("missing", None))


def test_session_listing_and_updates(store: Store) -> None:
    first = make_session(store)
    second = make_session(store)
    store.commit_turn(turn(first.id, first.head_message_id))
    assert [s.id for s in store.list_sessions()] == [first.id, second.id]
    listed = store.list_sessions()[0]
    assert (listed.turns, listed.cost_usd) == (1, pytest.approx(0.002))

    store.set_archived(first.id, True)
    assert [s.id for s in store.list_sessions()] == [second.id]
    assert {s.id for s in store.list_sessions(include_archived=True)} == {first.id, second.id}
    store.set_archived(first.id, False)
    assert store.get_session(first.id).archived is False  # type: ignore[union-attr]

    store.rename(second.id, "New title")
    store.update_settings(second.id, {"model": "remote", "temperature": 0.7})
    renamed = store.get_session(second.id)
    assert renamed is not None
    assert renamed.title == "New title"
    assert renamed.settings == {"model": "remote", "temperature": 0.7}
    assert store.list_sessions()[0].id == second.id

    with pytest.raises(StoreError, match="no session"):
        store.rename("missing", "x")
    assert store.get_session("missing") is None


def test_resolve_session_id(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = iter(["abc1230000", "abc4560000", "ffff000000"])
    monkeypatch.setattr(store_writes.secrets, "token_hex", lambda n: next(ids))
    for _ in range(3):
        make_session(store)
    assert store.resolve_session_id("abc1") == "abc1230000"
    assert store.resolve_session_id("ffff000000") == "ffff000000"
    assert store.resolve_session_id(" f ") == "ffff000000"
    with pytest.raises(StoreError, match="ambiguous") as ambiguous:
        store.resolve_session_id("abc")
    assert "\n" not in str(ambiguous.value)
    with pytest.raises(StoreError, match="no session id starts with"):
        store.resolve_session_id("zzz")
    with pytest.raises(StoreError):
        store.resolve_session_id("")


def test_session_ids_never_collide(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = iter(["aaaaaaaaaa", "aaaaaaaaaa", "bbbbbbbbbb"])
    monkeypatch.setattr(store_writes.secrets, "token_hex", lambda n: next(ids))
    assert make_session(store).id == "aaaaaaaaaa"
    assert make_session(store).id == "bbbbbbbbbb"


def test_delete_session_cascades(store: Store) -> None:
    keep = make_session(store)
    gone = make_session(store)
    store.commit_turn(turn(gone.id, gone.head_message_id))
    store.delete_session(gone.id)
    assert store.get_session(gone.id) is None
    assert store.count_messages(gone.id) == 0
    assert store.agent_calls(gone.id) == []
    assert store.count_messages(keep.id) == 2
    with pytest.raises(StoreError):
        store.get_partner_state(gone.id)
    with pytest.raises(StoreError):
        store.delete_session(gone.id)


def test_foreign_keys_are_enforced(store: Store) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        store.db.execute(
            "INSERT INTO messages (session_id, sender, content, created_at) "
            "VALUES ('nope', 'player', '{}', 'now')"
        )


def test_restore_partner_state_and_message_image(store: Store) -> None:
    session = make_session(store)
    store.restore_partner_state(session.id, partner(mood="sad", memory_summary="met twice"))
    state = store.get_partner_state(session.id)
    assert (state.mood, state.memory_summary) == ("sad", "met twice")
    with pytest.raises(StoreError):
        store.restore_partner_state("missing", partner())
    head = session.head_message_id
    assert head is not None
    store.set_message_image(head, "/tmp/img.png")
    assert store.get_message(head).image_path == "/tmp/img.png"  # type: ignore[union-attr]
    with pytest.raises(StoreError):
        store.set_message_image(99999, "x.png")


def test_store_can_be_used_from_a_worker_thread(store: Store) -> None:
    session = make_session(store)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            store.commit_turn(turn(session.id, session.head_message_id))
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    assert errors == []
    assert store.count_messages(session.id) == 4


def test_two_stores_on_one_file_see_each_other(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    with Store(path) as a, Store(path) as b:
        session = make_session(a)
        ids = b.commit_turn(turn(session.id, session.head_message_id))
        with pytest.raises(StoreError, match="session changed"):
            a.commit_turn(turn(session.id, session.head_message_id, n=2))
        assert a.get_session(session.id).head_message_id == ids[-1]  # type: ignore[union-attr]


def test_settings_never_hold_credentials(store: Store) -> None:
    session = make_session(store)
    with pytest.raises(ValueError, match=r"settings\.endpoint\.api_key"):
        store.update_settings(session.id, {"endpoint": {"api_key": "sk-123", "max_tokens": 5}})
    store.update_settings(session.id, {"endpoint": {"api_key_env": "OPENROUTER_API_KEY"}})
    store.update_settings(session.id, {"endpoint": {"api_key": None, "max_tokens": 5}})
    with pytest.raises(ValueError, match=r"settings\.headers\[0\]\.Authorization"):
        store.update_settings(session.id, {"headers": [{"Authorization": "Bearer x"}]})
    assert store.get_session(session.id).settings == {  # type: ignore[union-attr]
        "endpoint": {"api_key": None, "max_tokens": 5}
    }
