"""Store: the message tree (branches, siblings, rewind) and long sessions."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qualia_cli.store import NewMessage, PartnerState, SessionRecord, Store, StoreError, TurnRecord


def partner(affection: int = 0) -> PartnerState:
    return PartnerState(
        name="Aki", stats={"affection": affection}, mood="calm", memory_summary=f"a{affection}"
    )


def new_session(store: Store, opening: int = 1) -> SessionRecord:
    return store.create_session(
        title="Tree",
        scenario_id="cafe",
        scenario_path=None,
        scenario={},
        genre="drama",
        narrative_pace="fast",
        content_rating="sfw",
        settings={},
        world_state={"turn": 0},
        partner=partner(),
        opening=[NewMessage("narrator", {"text": f"open {i}"}) for i in range(opening)],
    )


def play(store: Store, session_id: str, head: int | None, label: str, affection: int) -> int:
    ids = store.commit_turn(
        TurnRecord(
            session_id=session_id,
            turn_id=label,
            expected_head=head,
            messages=[
                NewMessage("player", {"text": f"{label} player"}),
                NewMessage("partner", {"dialogue": f"{label} partner"}),
            ],
            partner_state=partner(affection),
            world_state={"turn": label},
            agent_calls=[],
        )
    )
    return ids[-1]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "qualia.db") as s:
        yield s


def texts(messages: list[Any]) -> list[str]:
    return [m.text for m in messages]


def test_branches_with_siblings(store: Store) -> None:
    session = new_session(store)
    root = session.head_message_id
    a = play(store, session.id, root, "a", 1)
    b = play(store, session.id, a, "b", 2)
    # rewind to after "a" and play a different second turn: a sibling branch
    store.set_head(session.id, a)
    assert store.get_partner_state(session.id) == partner(1)
    assert store.get_session(session.id).world_state == {"turn": "a"}  # type: ignore[union-attr]
    c = play(store, session.id, a, "c", 3)
    d = play(store, session.id, c, "d", 4)

    assert texts(store.branch(b)) == ["open 0", "a player", "a partner", "b player", "b partner"]
    assert texts(store.branch(d)) == [
        "open 0",
        "a player",
        "a partner",
        "c player",
        "c partner",
        "d player",
        "d partner",
    ]
    assert texts(store.recent_branch(d, 3)) == ["c partner", "d player", "d partner"]
    assert texts(store.recent_branch(b, 3)) == ["a partner", "b player", "b partner"]
    assert texts(store.recent_branch(b, 100)) == texts(store.branch(b))
    assert store.recent_branch(b, 0) == []
    assert store.branch(99999) == []
    assert store.recent_branch(99999, 5) == []

    siblings = store.children(a)
    assert texts(siblings) == ["b player", "c player"]
    assert all(m.parent_id == a for m in siblings)
    assert store.children(d) == []
    assert store.count_messages(session.id) == 9

    # switching back to the first branch restores its state
    store.set_head(session.id, b)
    assert store.get_partner_state(session.id) == partner(2)
    # a message inside a turn resolves to the nearest committed state above it
    player_c = siblings[1].id
    assert store.state_at(player_c) == (partner(1), {"turn": "a"})
    # rewinding to the opening restores the initial state
    store.set_head(session.id, root)  # type: ignore[arg-type]
    assert store.get_partner_state(session.id) == partner(0)
    store.set_head(session.id, d, restore_state=False)
    assert store.get_partner_state(session.id) == partner(0)
    assert store.get_session(session.id).head_message_id == d  # type: ignore[union-attr]


def test_set_head_rejects_foreign_messages(store: Store) -> None:
    one = new_session(store)
    other = new_session(store)
    before = store.get_session(one.id)
    with pytest.raises(StoreError, match="not part of session"):
        store.set_head(one.id, other.head_message_id)  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="not part of session"):
        store.set_head(one.id, 99999)
    assert store.get_session(one.id) == before


@pytest.mark.slow  # a long session (over a second)
def test_recent_branch_on_a_long_session(store: Store) -> None:
    total = 10_000
    session = new_session(store)
    first = session.head_message_id
    assert first is not None
    rows = [
        (
            first + i,
            session.id,
            first + i - 1,
            "player" if i % 2 else "partner",
            f'{{"text": "m{i}"}}',
        )
        for i in range(1, total)
    ]
    with store.db.atomic():
        store.conn.executemany(
            "INSERT INTO messages (id, session_id, parent_id, sender, content, created_at) "
            "VALUES (?, ?, ?, ?, ?, '2025-01-01T00:00:00.000000Z')",
            rows,
        )
    head = first + total - 1
    store.set_head(session.id, head)
    assert store.count_messages(session.id) == total

    started = time.perf_counter()
    recent = store.recent_branch(head, 20)
    elapsed = time.perf_counter() - started
    assert texts(recent) == [f"m{i}" for i in range(total - 20, total)]
    assert [m.id for m in recent] == list(range(head - 19, head + 1))
    assert elapsed < 0.5

    # the work is proportional to the limit, not to the session: count SQLite VM steps
    def steps(fn: Any) -> int:
        counter = [0]

        def tick() -> int:
            counter[0] += 1
            return 0

        store.conn.set_progress_handler(tick, 100)
        try:
            fn()
        finally:
            store.conn.set_progress_handler(None, 0)
        return counter[0]

    short = steps(lambda: store.recent_branch(head, 20))
    full = steps(lambda: store.branch(head))
    assert short * 50 < full

    everything = store.branch(head)
    assert len(everything) == total
    assert everything[0].text == "open 0"
    assert everything[-1].id == head


def test_recent_branch_can_leave_out_context_traces(store: Store) -> None:
    session = new_session(store)
    trace = {"partner": {"budget": 2000, "total": 1500, "parts": {"history": 900}}}
    ids = store.commit_turn(
        TurnRecord(
            session_id=session.id,
            turn_id="t1",
            expected_head=session.head_message_id,
            messages=[
                NewMessage("player", {"text": "hi"}),
                NewMessage("partner", {"dialogue": "hello", "context": trace}),
            ],
            partner_state=partner(1),
            world_state={},
            agent_calls=[],
        )
    )
    full = store.recent_branch(ids[-1], 5)
    lean = store.recent_branch(ids[-1], 5, traces=False)
    assert full[-1].content["context"] == trace
    assert lean[-1].content == {"dialogue": "hello"}
    assert [m.id for m in lean] == [m.id for m in full]
    assert [m.content for m in lean[:-1]] == [m.content for m in full[:-1]]
