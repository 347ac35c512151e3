"""Read queries over the message tree (parent_id links), for a single SQLite connection.

Walking towards the root uses a recursive CTE that follows ``parent_id`` through the primary
key, one row per step, so reading the last N messages of a long branch costs O(N), not O(size).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from qualia_cli.store.codec import MESSAGE_COLUMNS, message_from_row, rows, state_from_snapshot
from qualia_cli.store.records import Message, PartnerState

_ANCESTORS = """
WITH RECURSIVE chain(id, parent_id, depth) AS (
    SELECT id, parent_id, 0 FROM messages WHERE id = :head
    UNION ALL
    SELECT m.id, m.parent_id, chain.depth + 1
    FROM messages AS m JOIN chain ON m.id = chain.parent_id
    {limit}
)
SELECT {columns} FROM chain JOIN messages USING (id) ORDER BY chain.depth DESC
"""


def get_message(conn: sqlite3.Connection, message_id: int) -> Message | None:
    found = rows(conn.execute(f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?", [message_id]))
    return message_from_row(found[0]) if found else None


def branch(conn: sqlite3.Connection, head_id: int) -> list[Message]:
    """All messages from the root down to ``head_id`` inclusive (empty if it does not exist)."""
    sql = _ANCESTORS.format(limit="", columns=_qualified_columns())
    return [message_from_row(r) for r in rows(conn.execute(sql, {"head": head_id}))]


def recent_branch(
    conn: sqlite3.Connection, head_id: int, limit: int, *, traces: bool = True
) -> list[Message]:
    """The last ``limit`` messages of the branch ending at ``head_id``, oldest first.

    ``traces=False`` leaves out each turn's context trace (``content.context``, what went into
    every agent's prompt): it is most of a partner message's size, and a turn's history does
    not read it.
    """
    if limit <= 0:
        return []
    columns = _qualified_columns()
    if not traces:
        columns = columns.replace(
            "messages.content", "json_remove(messages.content, '$.context') AS content"
        )
    sql = _ANCESTORS.format(limit="LIMIT :limit", columns=columns)
    found = rows(conn.execute(sql, {"head": head_id, "limit": limit}))
    return [message_from_row(r) for r in found]


def children(conn: sqlite3.Connection, message_id: int) -> list[Message]:
    """Direct replies to a message (siblings of each other, "swipes"), oldest first."""
    found = rows(
        conn.execute(
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE parent_id = ? ORDER BY id",
            [message_id],
        )
    )
    return [message_from_row(r) for r in found]


def count_messages(conn: sqlite3.Connection, session_id: str) -> int:
    row = conn.execute(
        "SELECT COUNT(*) FROM messages WHERE session_id = ?", [session_id]
    ).fetchone()
    return int(row[0])


def state_at(
    conn: sqlite3.Connection, message_id: int
) -> tuple[PartnerState, dict[str, Any]] | None:
    """Partner and world state recorded by the nearest turn at or above ``message_id``."""
    row = conn.execute(
        """
        WITH RECURSIVE up(id, parent_id, snap) AS (
            SELECT id, parent_id, state_snapshot FROM messages WHERE id = ?
            UNION ALL
            SELECT m.id, m.parent_id, m.state_snapshot
            FROM messages AS m JOIN up ON m.id = up.parent_id
            WHERE up.snap IS NULL
        )
        SELECT snap FROM up WHERE snap IS NOT NULL LIMIT 1
        """,
        [message_id],
    ).fetchone()
    return state_from_snapshot(row[0]) if row else None


def _qualified_columns() -> str:
    return ", ".join(f"messages.{c.strip()}" for c in MESSAGE_COLUMNS.split(","))


def outline(conn: sqlite3.Connection, session_id: str, width: int = 90) -> list[dict[str, Any]]:
    """Every message of a session as (id, parent_id, turn_id, sender, the first ``width``
    characters of its text), in id order: the story tree's shape without its contents."""
    sql = """
        SELECT id, parent_id, turn_id, sender, substr(coalesce(
            json_extract(content, '$.dialogue'), json_extract(content, '$.text'), ''), 1, :width
        ) AS text
        FROM messages WHERE session_id = :session ORDER BY id
    """
    return rows(conn.execute(sql, {"session": session_id, "width": width}))


def search_session(
    conn: sqlite3.Connection, session_id: str, query: str, limit: int
) -> list[dict[str, Any]]:
    """Full-text (FTS5, BM25) matches among all of a session's messages, on every branch."""
    bounds = conn.execute(
        "SELECT min(id), max(id) FROM messages WHERE session_id = ?", [session_id]
    ).fetchone()
    if not bounds or bounds[0] is None:
        return []
    sql = """
        SELECT f.rowid AS id, m.sender, m.turn_id,
               snippet(messages_fts, 0, '[', ']', '…', 12) AS snippet
        FROM messages_fts AS f JOIN messages AS m ON m.id = f.rowid
        WHERE messages_fts MATCH :q AND f.rowid BETWEEN :lo AND :hi
          AND m.session_id = :session
        ORDER BY bm25(messages_fts) LIMIT :limit
    """
    params = {"q": query, "lo": bounds[0], "hi": bounds[1], "session": session_id}
    return rows(conn.execute(sql, params | {"limit": limit}))
