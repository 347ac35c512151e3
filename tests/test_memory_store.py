"""Memory storage: branch paths, memories per branch point, FTS5 recall, the m003 upgrade."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlite_utils import Database

from qualia_cli.store import NewMessage, PartnerState, SessionRecord, Store, StoreError
from qualia_cli.store.memory import NewMemory, fts_query
from qualia_cli.store.migrations import migrations

NOW = "2025-01-01T00:00:00.000000Z"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "qualia.db") as s:
        yield s


def new_session(store: Store) -> SessionRecord:
    return store.create_session(
        title="T",
        scenario_id="x",
        scenario_path=None,
        scenario={},
        genre="g",
        narrative_pace="medium",
        content_rating="general",
        settings={},
        world_state={},
        partner=PartnerState(name="Aki", stats={}, mood="calm"),
        opening=[NewMessage("narrator", {"text": "The harbour at dusk."})],
    )


def add_message(store: Store, session_id: str, parent: int | None, text: str) -> int:
    cur = store.conn.execute(
        "INSERT INTO messages (session_id, parent_id, sender, content, created_at) "
        "VALUES (?, ?, 'player', ?, ?)",
        [session_id, parent, json.dumps({"text": text}), NOW],
    )
    store.conn.commit()
    return int(cur.lastrowid or 0)


def random_tree(store: Store, session_id: str, root: int, size: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    ids = [root]
    for i in range(size):
        # mostly continue the newest message, sometimes branch from anywhere
        parent = ids[-1] if rng.random() < 0.7 else rng.choice(ids)
        ids.append(add_message(store, session_id, parent, f"message {i}"))
    return ids


def test_branch_paths_match_the_tree(store: Store) -> None:
    session = new_session(store)
    root = session.head_message_id
    assert root is not None
    ids = random_tree(store, session.id, root, 400, seed=1)
    mem = store.memory
    heads = [*random.Random(2).sample(ids, 60), ids[-1], root]
    for head in heads:
        expected = [m.id for m in store.branch(head)]
        assert [m.id for m in mem.branch_messages(head, limit=10_000)] == expected
        assert mem.on_branch(head, ids) == set(expected)
    # several branch points exist, and a path needs only a few segments
    assert len({seg for seg, _ in mem.path(ids[-1])}) < len(store.branch(ids[-1]))
    # deleting a subtree and growing new children keeps paths exact
    victim = ids[len(ids) // 2]
    store.conn.execute("DELETE FROM messages WHERE id = ?", [victim])
    store.conn.commit()
    alive = {r[0] for r in store.conn.execute("SELECT id FROM messages")}
    parent = next(i for i in reversed(ids) if i in alive)
    new = random_tree(store, session.id, parent, 50, seed=3)
    for head in [*new, *random.Random(4).sample(sorted(alive), 20)]:
        expected = [m.id for m in store.branch(head)]
        assert [m.id for m in mem.branch_messages(head, limit=10_000)] == expected


def test_memories_belong_to_their_branch_point(store: Store) -> None:
    session = new_session(store)
    root = session.head_message_id
    assert root is not None
    a1 = add_message(store, session.id, root, "a1")
    a2 = add_message(store, session.id, a1, "a2")
    b1 = add_message(store, session.id, root, "b1")  # a sibling branch
    mem = store.memory
    (on_a,) = mem.add(session.id, a1, [NewMemory("fact", "Her name is Ines.")], turn_to=1)
    (on_root,) = mem.add(session.id, root, [NewMemory("summary", "It began at the harbour.")])
    assert [m.id for m in mem.visible(a2)] == [on_root.id, on_a.id]
    assert [m.id for m in mem.visible(a1)] == [on_root.id, on_a.id]
    assert [m.id for m in mem.visible(b1)] == [on_root.id]
    assert [m.id for m in mem.visible(root)] == [on_root.id]
    assert {m.id for m in mem.all_memories(session.id)} == {on_a.id, on_root.id}

    q = fts_query(["Ines"])
    assert [h.id for h in mem.search_memories(a2, q, limit=5)] == [on_a.id]
    assert mem.search_memories(b1, q, limit=5) == []

    edited = mem.update(session.id, on_a.id, text="Her name is Marta Duarte.", pinned=True)
    assert edited.pinned and edited.text == "Her name is Marta Duarte."
    assert mem.search_memories(a2, fts_query(["Ines"]), limit=5) == []  # old text gone
    assert [h.id for h in mem.search_memories(a2, fts_query(["Duarte"]), limit=5)] == [on_a.id]
    assert not mem.update(session.id, on_a.id, pinned=False).pinned

    other = new_session(store)
    with pytest.raises(StoreError, match="not part of session"):
        mem.add(other.id, a1, [NewMemory("fact", "x")])
    with pytest.raises(StoreError, match="no memory"):
        mem.update(other.id, on_a.id, pinned=True)
    with pytest.raises(StoreError, match="cannot be empty"):
        mem.update(session.id, on_a.id, text="  ")
    # memories go with their messages
    store.delete_session(session.id)
    assert mem.get(on_a.id) is None
    assert store.conn.execute("SELECT COUNT(*) FROM memories_fts").fetchone()[0] == 0


def test_recall_searches_only_the_current_branch(store: Store) -> None:
    session = new_session(store)
    root = session.head_message_id
    assert root is not None
    a1 = add_message(store, session.id, root, "My name is Edmund and I hate herring.")
    a2 = add_message(store, session.id, a1, "The tide tables are wrong.")
    b1 = add_message(store, session.id, root, "I never tell anyone my names.")
    mem = store.memory
    q = fts_query(["what", "name"])  # porter stemming: names ~ name
    assert [h.id for h in mem.search_messages(a2, q, limit=5)] == [a1]
    assert [h.id for h in mem.search_messages(b1, q, limit=5)] == [b1]
    assert mem.search_messages(a2, q, limit=5, before=a1) == []
    hit = mem.search_messages(a2, fts_query(["herring"]), limit=1)[0]
    assert hit.text.startswith("My name is Edmund") and hit.sender == "player" and hit.score < 0
    # the query cannot smuggle FTS syntax in
    for nasty in ['NEAR("x" y)', '" OR *', "name:*", "-", "AND OR NOT"]:
        mem.search_messages(a2, fts_query([nasty]), limit=5)
    assert fts_query(["?!", ""]) == ""


def test_fts_follows_edits_and_deletes(store: Store) -> None:
    session = new_session(store)
    root = session.head_message_id
    assert root is not None
    m = add_message(store, session.id, root, "the lamp oil is gone")
    mem = store.memory
    store.conn.execute(
        "UPDATE messages SET content = ? WHERE id = ?", [json.dumps({"dialogue": "brass key"}), m]
    )
    assert mem.search_messages(m, fts_query(["lamp"]), limit=5) == []
    assert [h.id for h in mem.search_messages(m, fts_query(["brass"]), limit=5)] == [m]
    # a message whose content is not JSON is indexed as plain text, not an error
    bad = store.conn.execute(
        "INSERT INTO messages (session_id, parent_id, sender, content, created_at) "
        "VALUES (?, ?, 'player', 'plain words here', ?)",
        [session.id, m, NOW],
    ).lastrowid
    assert [h.id for h in mem.search_messages(bad, fts_query(["plain"]), limit=5)] == [bad]
    store.delete_session(session.id)
    assert store.conn.execute("SELECT COUNT(*) FROM messages_fts").fetchone()[0] == 0
    assert store.conn.execute("SELECT COUNT(*) FROM message_segments").fetchone()[0] == 0
    assert store.conn.execute("SELECT COUNT(*) FROM branch_segments").fetchone()[0] == 0


def test_upgrade_indexes_existing_messages(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = Database(path)
    old.execute("PRAGMA foreign_keys = ON")
    migrations.apply(old, stop_before="m003_memory")
    old.execute(
        "INSERT INTO sessions (id, title, scenario_id, created_at, updated_at) "
        "VALUES ('legacy0001', 'Old', 'x', ?, ?)",
        [NOW, NOW],
    )
    # a tree written before m003: 1 -> 2 -> 3, and 1 -> 4 -> 5 (a second branch)
    rows = [
        (1, None, "narrator", {"text": "Fog over Greyhaven."}),
        (2, 1, "player", {"text": "My name is Edmund."}),
        (3, 2, "partner", {"dialogue": "Noted, Edmund.", "action": "writes it down"}),
        (4, 1, "player", {"text": "I came about the ledgers."}),
        (5, 4, "partner", {"dialogue": "The ledgers burned."}),
    ]
    for mid, parent, sender, content in rows:
        old.execute(
            "INSERT INTO messages (id, session_id, parent_id, sender, content, created_at) "
            "VALUES (?, 'legacy0001', ?, ?, ?, ?)",
            [mid, parent, sender, json.dumps(content), NOW],
        )
    old.execute("UPDATE sessions SET head_message_id = 5 WHERE id = 'legacy0001'")
    old.conn.commit()
    old.close()

    with Store(path) as store:
        assert "m003_memory" in [m.name for m in migrations.applied(store.db)]
        mem = store.memory
        q = fts_query(["Edmund"])
        assert {h.id for h in mem.search_messages(3, q, limit=5)} == {2, 3}
        assert mem.search_messages(5, q, limit=5) == []  # the other branch
        assert [h.id for h in mem.search_messages(5, fts_query(["ledgers"]), limit=5)]
        assert [h.id for h in mem.search_messages(3, fts_query(["writes"]), limit=5)] == [3]
        for head in (3, 5):
            expected = [m.id for m in store.branch(head)]
            assert [m.id for m in mem.branch_messages(head, limit=99)] == expected
        # new messages after the upgrade join the right segments and the index
        six = add_message(store, "legacy0001", 5, "Edmund again")
        seven = add_message(store, "legacy0001", 2, "a third branch")
        assert [h.id for h in mem.search_messages(six, q, limit=5)] == [six]
        assert [m.id for m in mem.branch_messages(seven, limit=99)] == [1, 2, seven]
