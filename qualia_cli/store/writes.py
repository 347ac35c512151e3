"""Write helpers used inside the Store's transactions (callers open ``db.atomic()``)."""

from __future__ import annotations

import re
import secrets
from typing import Any

from sqlite_utils import Database

from qualia_cli.store.codec import (
    agent_call_values,
    dumps,
    message_values,
    now_iso,
    partner_columns,
    state_snapshot,
)
from qualia_cli.store.errors import StoreError
from qualia_cli.store.records import NewMessage, PartnerState, TurnRecord

SESSION_ID_BYTES = 5  # 10 hex characters

STALE_HEAD = (
    "session changed during the turn (another qualia wrote to it); reload the session and try again"
)


_SECRET_KEY = re.compile(r"api[_-]?key|secret|password|authorization|bearer", re.IGNORECASE)


def reject_secrets(value: Any, where: str = "settings") -> None:
    """Refuse to persist anything that looks like a credential (keys live in env/keyring)."""
    if isinstance(value, dict):
        for key, item in value.items():
            names_a_variable = str(key).lower().endswith("_env")  # e.g. api_key_env
            if _SECRET_KEY.search(str(key)) and not names_a_variable and item not in (None, ""):
                raise ValueError(f"refusing to store credential-like field {where}.{key}")
            reject_secrets(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            reject_secrets(item, f"{where}[{i}]")


def insert_row(db: Database, table: str, values: dict[str, Any]) -> int:
    columns = ", ".join(values)
    marks = ", ".join("?" * len(values))
    cur = db.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", list(values.values()))
    assert cur.lastrowid is not None
    return cur.lastrowid


def insert_chain(
    db: Database,
    *,
    session_id: str,
    parent_id: int | None,
    turn_id: str | None,
    messages: list[NewMessage],
    now: str,
    snapshot: str | None,
    ending: str | None,
) -> list[int]:
    """Insert messages each replying to the previous; the last carries the turn's state."""
    ids: list[int] = []
    for i, msg in enumerate(messages):
        values = message_values(
            msg, session_id=session_id, parent_id=parent_id, turn_id=turn_id, created_at=now
        )
        if i == len(messages) - 1:
            values |= {"state_snapshot": snapshot, "ending": ending}
        parent_id = insert_row(db, "messages", values)
        ids.append(parent_id)
    return ids


def update_session(db: Database, session_id: str, **values: Any) -> None:
    assignments = ", ".join(f"{k} = ?" for k in values)
    cur = db.execute(
        f"UPDATE sessions SET {assignments} WHERE id = ?", [*values.values(), session_id]
    )
    if cur.rowcount == 0:
        raise StoreError(f"no session '{session_id}'")


def write_partner(db: Database, session_id: str, state: PartnerState, now: str) -> None:
    values = partner_columns(state) | {"updated_at": now}
    assignments = ", ".join(f"{k} = ?" for k in values)
    cur = db.execute(
        f"UPDATE characters SET {assignments} WHERE session_id = ? AND role = 'partner'",
        [*values.values(), session_id],
    )
    if cur.rowcount == 0:
        raise StoreError(f"session '{session_id}' has no partner character")


def random_session_id() -> str:
    """A candidate id for a new session (tests replace it to get stable ids)."""
    return secrets.token_hex(SESSION_ID_BYTES)


def insert_new_session(db: Database, values: dict[str, Any]) -> str:
    """Insert a sessions row under a fresh random id; returns the id.

    The INSERT is the transaction's first statement, so it takes the write lock before any
    read (see ``commit_turn``); an id already taken is skipped by ``OR IGNORE``."""
    columns = ", ".join(["id", *values])
    marks = ", ".join("?" * (len(values) + 1))
    while True:
        candidate = random_session_id()
        cur = db.execute(
            f"INSERT OR IGNORE INTO sessions ({columns}) VALUES ({marks})",
            [candidate, *values.values()],
        )
        if cur.rowcount == 1:
            return candidate


def commit_turn(db: Database, turn: TurnRecord) -> list[int]:
    """The body of ``Store.commit_turn``; must run inside ``db.atomic()``."""
    if not turn.messages:
        raise ValueError("a turn must contain at least one message")
    now = now_iso()
    # Write first: this takes SQLite's write lock (waiting up to busy_timeout) before the head is
    # read, so no other connection can move the head between the check and the writes.
    found = db.execute(
        "UPDATE sessions SET updated_at = ?, world_state = ? WHERE id = ? "
        "RETURNING head_message_id",
        [now, dumps(turn.world_state), turn.session_id],
    ).fetchall()
    if not found:
        raise StoreError(f"no session '{turn.session_id}'")
    if found[0][0] != turn.expected_head:
        raise StoreError(STALE_HEAD)
    ids = insert_chain(
        db,
        session_id=turn.session_id,
        parent_id=turn.expected_head if turn.branch_from is None else turn.branch_from,
        turn_id=turn.turn_id,
        messages=turn.messages,
        now=now,
        snapshot=state_snapshot(turn.partner_state, turn.world_state),
        ending=turn.ending,
    )
    update_session(db, turn.session_id, head_message_id=ids[-1])
    write_partner(db, turn.session_id, turn.partner_state, now)
    for call in turn.agent_calls:
        values = agent_call_values(
            call,
            session_id=turn.session_id,
            turn_id=turn.turn_id,
            message_id=ids[-1],
            created_at=now,
        )
        insert_row(db, "agent_calls", values)
    return ids
