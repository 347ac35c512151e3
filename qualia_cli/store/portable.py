"""A session's rows, out of and back into SQLite (for export/import between machines).

``dump_session`` reads every row that belongs to a session with ``SELECT *``, so columns
added by later migrations travel too: the core tables (session, characters, messages, agent
calls) and the per-session tables in :data:`EXTRA_TABLES` that exist in this database.
``load_session`` writes such a dump under a session id, renumbering messages (parents first,
so the tree triggers of later migrations see them in order) and pointing every message-id
column, and the head, at the new ids. Column names in a dump come from a file a stranger may
have written, so only names that are real columns of the target table are ever used in SQL.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from typing import Any

from sqlite_utils import Database

from qualia_cli.store.codec import dumps, rows
from qualia_cli.store.errors import StoreError
from qualia_cli.store.writes import insert_row, reject_secrets

# Per-session tables besides the core ones: table -> the columns that hold message ids.
# (Derived tables — full-text indexes, branch segments — are rebuilt by their triggers.)
EXTRA_TABLES: dict[str, tuple[str, ...]] = {
    "images": ("message_id",),
    "memories": ("message_id", "covered_from"),
}

JSON_COLUMNS: dict[str, frozenset[str]] = {
    "sessions": frozenset({"scenario", "settings", "world_state"}),
    "characters": frozenset({"profile", "stats"}),
    "messages": frozenset({"content", "partner_state_snapshot", "state_snapshot"}),
    "agent_calls": frozenset(),
    "images": frozenset({"timings", "workflow_json"}),
    "memories": frozenset(),
}


def _decode(table: str, row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for col in JSON_COLUMNS.get(table, ()):
        if isinstance(out.get(col), str):
            with contextlib.suppress(ValueError):  # not JSON after all: keep the text
                out[col] = json.loads(out[col])
    return out


def _encode(table: str, row: dict[str, Any], columns: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for col, value in row.items():
        if col not in columns:
            continue
        if col in JSON_COLUMNS.get(table, ()) or isinstance(value, dict | list):
            value = value if isinstance(value, str) or value is None else dumps(value)
        out[col] = value
    return out


def _columns(db: Database, table: str) -> set[str]:
    return {str(r[1]) for r in db.execute(f"PRAGMA table_info({table})").fetchall()}


def _extra_tables(db: Database) -> list[str]:
    return [t for t in EXTRA_TABLES if "session_id" in _columns(db, t)]


def dump_session(db: Database, session_id: str) -> dict[str, Any]:
    """Every row of the session: ``session``, ``characters``, ``messages``, ``agent_calls``
    and ``tables`` (the extra per-session tables that exist here)."""

    def select(table: str, where: str) -> list[dict[str, Any]]:
        found = rows(db.execute(f"SELECT * FROM {table} WHERE {where} ORDER BY id", [session_id]))
        return [_decode(table, r) for r in found]

    session = select("sessions", "id = ?")
    if not session:
        raise StoreError(f"no session '{session_id}'")
    return {
        "session": session[0],
        "characters": select("characters", "session_id = ?"),
        "messages": select("messages", "session_id = ?"),
        "agent_calls": select("agent_calls", "session_id = ?"),
        "tables": {t: select(t, "session_id = ?") for t in _extra_tables(db)},
    }


def _remap(value: Any, ids: dict[int, int]) -> int | None:
    return ids.get(int(value)) if value is not None else None


def load_session(db: Database, dump: dict[str, Any], session_id: str) -> dict[int, int]:
    """Insert ``dump`` as session ``session_id`` (inside the caller's transaction).

    Returns the map of message ids (dump id → new id). Raises StoreError for a dump whose
    message tree does not hold together, or a session id already in use. Rows of extra
    tables this database does not have are skipped.
    """
    session = dict(dump["session"])
    try:
        reject_secrets(session.get("settings") or {})
    except ValueError as err:
        raise StoreError(f"refusing to import: {err}") from None
    if db.execute("SELECT 1 FROM sessions WHERE id = ?", [session_id]).fetchone():
        raise StoreError(f"a session '{session_id}' already exists")
    old_head = session.get("head_message_id")
    session.update(id=session_id, head_message_id=None)
    insert_row(db, "sessions", _encode("sessions", session, _columns(db, "sessions")))

    char_cols = _columns(db, "characters") - {"id"}
    for character in dump.get("characters") or []:
        row = _encode("characters", {**character, "session_id": session_id}, char_cols)
        insert_row(db, "characters", row)

    msg_cols = _columns(db, "messages") - {"id"}
    ids: dict[int, int] = {}
    for message in sorted(dump.get("messages") or [], key=lambda m: int(m["id"])):
        old_id, parent = int(message["id"]), message.get("parent_id")
        if parent is not None and int(parent) not in ids:
            raise StoreError(
                f"message {old_id} replies to message {parent}, which comes later or is missing"
            )
        row = {**message, "session_id": session_id, "parent_id": _remap(parent, ids)}
        ids[old_id] = insert_row(db, "messages", _encode("messages", row, msg_cols))

    call_cols = _columns(db, "agent_calls") - {"id"}
    for call in dump.get("agent_calls") or []:
        row = {**call, "session_id": session_id, "message_id": _remap(call.get("message_id"), ids)}
        insert_row(db, "agent_calls", _encode("agent_calls", row, call_cols))

    here = set(_extra_tables(db))
    for table, table_rows in (dump.get("tables") or {}).items():
        if table not in here:
            continue
        cols = _columns(db, table) - {"id"}
        for extra in table_rows:
            row = {**extra, "session_id": session_id}
            for col in EXTRA_TABLES[table]:
                if row.get(col) is not None:
                    row[col] = _remap(row[col], ids)
            try:
                insert_row(db, table, _encode(table, row, cols))
            except sqlite3.Error as err:  # a NOT NULL message id that did not come along, …
                raise StoreError(f"a row of {table} cannot be imported: {err}") from None

    if old_head is not None:
        if int(old_head) not in ids:
            raise StoreError(f"the session's head message {old_head} is not in the file")
        head = next(m for m in dump.get("messages") or [] if int(m["id"]) == int(old_head))
        if head.get("sender") == "player":  # a turn always ends on her answer (or narration)
            raise StoreError(
                f"the session's head message {old_head} is a player message with no answer"
            )
        db.execute(
            "UPDATE sessions SET head_message_id = ? WHERE id = ?",
            [ids[int(old_head)], session_id],
        )
    return ids
