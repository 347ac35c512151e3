"""Memories, branch paths and full-text recall (tables from migration ``m003_memory``).

A branch (the path from the root to a head message) is computed from ``branch_segments``:
each segment is a linear run of messages, so the path is a few ``(segment, upto)`` pairs and
"message m is on the branch" reads ``m.segment = seg AND m.id <= upto`` for one of them. Message
ids grow along every path (a reply is inserted after what it replies to), which makes the
``<=`` test exact.

Memories belong to a message (the last one they cover); a memory is visible from a head iff
its message is on the head's branch, so rewinding or branching sees exactly the memories of
that point of the tree.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from qualia_cli.store.codec import MESSAGE_COLUMNS, message_from_row, now_iso, rows
from qualia_cli.store.errors import StoreError
from qualia_cli.store.records import Message

MEMORY_KINDS = ("summary", "fact", "note")

_PATH = """
WITH RECURSIVE path(seg, upto) AS (
    SELECT segment_id, message_id FROM message_segments WHERE message_id = :head
    UNION ALL
    SELECT b.parent_segment, b.fork_message_id
    FROM branch_segments AS b JOIN path ON b.id = path.seg
    WHERE b.parent_segment IS NOT NULL
)
"""

_ON_PATH = """
JOIN message_segments AS ms ON ms.message_id = {col}
JOIN path ON ms.segment_id = path.seg AND {col} <= path.upto
"""

_MEMORY_COLUMNS = (
    "mem.id, mem.session_id, mem.message_id, mem.covered_from, mem.turn_from, mem.turn_to, "
    "mem.kind, mem.text, mem.pinned, mem.source, mem.created_at, mem.updated_at"
)

_TERM = re.compile(r"\w+", re.UNICODE)

MATCH_BUDGET = 600  # matches scored per query, summed over the (rarest) terms kept
COMMON_SHARE = 0.2  # a word in more than this share of the session's messages is dropped
COMMON_FLOOR = 100  # ... once it is in more than this many (short stories keep every word)
POOL_FACTOR = 5  # best matches scored before the branch filter, per result wanted
MAX_POOL = 2000


@dataclass
class MemoryRecord:
    id: int
    session_id: str
    message_id: int  # the point of the tree it belongs to (the last message it covers)
    covered_from: int | None
    turn_from: int | None
    turn_to: int | None
    kind: str  # summary | fact | note
    text: str
    pinned: bool
    source: str  # summarizer | player
    created_at: str
    updated_at: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "message_id": self.message_id,
            "covered_from": self.covered_from,
            "turn_from": self.turn_from,
            "turn_to": self.turn_to,
            "kind": self.kind,
            "text": self.text,
            "pinned": self.pinned,
            "source": self.source,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass
class NewMemory:
    kind: str
    text: str
    pinned: bool = False


@dataclass
class RecallHit:
    """A past message or memory matching the current moment (BM25 or cosine distance: lower
    is better; after hybrid fusion, the reciprocal-rank score: higher is better)."""

    kind: str  # "message" | "memory"
    id: int
    text: str
    score: float
    sender: str = ""
    source: str = "lexical"  # lexical | semantic | both (found by each side)
    bm25: float | None = None  # the lexical side's score, when it found it
    distance: float | None = None  # the semantic side's cosine distance, when it found it


def fts_query(terms: Iterable[str]) -> str:
    """An FTS5 query matching any of ``terms`` (each quoted, so no operator can sneak in)."""
    words = []
    for term in terms:
        for word in _TERM.findall(term):
            quoted = '"' + word.replace('"', '""') + '"'
            if quoted not in words:
                words.append(quoted)
    return " OR ".join(words)


def _memory(row: dict[str, Any]) -> MemoryRecord:
    return MemoryRecord(
        id=row["id"],
        session_id=row["session_id"],
        message_id=row["message_id"],
        covered_from=row["covered_from"],
        turn_from=row["turn_from"],
        turn_to=row["turn_to"],
        kind=row["kind"],
        text=row["text"],
        pinned=bool(row["pinned"]),
        source=row["source"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class MemoryStore:
    """Memory queries on a Store's connection, serialized by the Store's lock."""

    def __init__(self, db: Database, lock: threading.RLock) -> None:
        self.db = db
        self.conn = db.conn
        self._lock = lock

    def _rows(self, sql: str, params: dict[str, Any] | list[Any]) -> list[dict[str, Any]]:
        with self._lock:
            return rows(self.conn.execute(sql, params))

    # ------------------------------------------------------------------ branches

    def path(self, head_id: int) -> list[tuple[int, int]]:
        """The branch ending at ``head_id`` as (segment, last message on it) pairs."""
        found = self._rows(_PATH + "SELECT seg, upto FROM path", {"head": head_id})
        return [(r["seg"], r["upto"]) for r in found]

    def on_branch(self, head_id: int, message_ids: Iterable[int]) -> set[int]:
        """Which of ``message_ids`` lie on the branch ending at ``head_id``."""
        ids = sorted(set(message_ids))
        if not ids:
            return set()
        marks = ", ".join("?" * len(ids))
        sql = (
            _PATH.replace(":head", "?") + f"SELECT ms.message_id FROM message_segments AS ms "
            f"JOIN path ON ms.segment_id = path.seg AND ms.message_id <= path.upto "
            f"WHERE ms.message_id IN ({marks})"
        )
        return {r["message_id"] for r in self._rows(sql, [head_id, *ids])}

    def branch_messages(
        self, head_id: int, *, after: int = 0, before: int | None = None, limit: int = 100
    ) -> list[Message]:
        """Messages of the branch with ``after < id < before``, oldest first, at most ``limit``."""
        cols = ", ".join(f"m.{c.strip()}" for c in MESSAGE_COLUMNS.split(","))
        sql = (
            _PATH
            + f"SELECT {cols} FROM messages AS m "
            + _ON_PATH.format(col="m.id")
            + " WHERE m.id > :after AND m.id < :before ORDER BY m.id LIMIT :limit"
        )
        params = {"head": head_id, "after": after, "before": before or 2**62, "limit": limit}
        return [message_from_row(r) for r in self._rows(sql, params)]

    # ------------------------------------------------------------------ memories

    def visible(self, head_id: int, *, limit: int | None = None) -> list[MemoryRecord]:
        """The memories of the branch ending at ``head_id``, oldest point first.

        With ``limit``: the ``limit`` newest plus every pinned one (what a prompt can use; the
        rest stay reachable through recall).
        """
        # the session's memories drive the join (a few hundred), not the branch's messages
        sql = (
            _PATH + f"SELECT {_MEMORY_COLUMNS} FROM memories AS mem "
            "CROSS JOIN message_segments AS ms ON ms.message_id = mem.message_id "
            "CROSS JOIN path ON ms.segment_id = path.seg AND mem.message_id <= path.upto "
            "WHERE mem.session_id = (SELECT session_id FROM messages WHERE id = :head) {only} "
            "ORDER BY mem.message_id DESC, mem.id DESC LIMIT :limit"
        )
        params = {"head": head_id, "limit": limit or -1}
        found = {r["id"]: r for r in self._rows(sql.format(only=""), params)}
        if limit is not None:
            pinned = self._rows(sql.format(only="AND mem.pinned = 1"), params | {"limit": -1})
            found |= {r["id"]: r for r in pinned}
        return sorted((_memory(r) for r in found.values()), key=lambda m: (m.message_id, m.id))

    def all_memories(self, session_id: str) -> list[MemoryRecord]:
        """Every memory of a session, on every branch."""
        sql = f"SELECT {_MEMORY_COLUMNS} FROM memories AS mem WHERE mem.session_id = ? ORDER BY id"
        return [_memory(r) for r in self._rows(sql, [session_id])]

    def get(self, memory_id: int) -> MemoryRecord | None:
        sql = f"SELECT {_MEMORY_COLUMNS} FROM memories AS mem WHERE mem.id = ?"
        found = self._rows(sql, [memory_id])
        return _memory(found[0]) if found else None

    def add(
        self,
        session_id: str,
        message_id: int,
        items: list[NewMemory],
        *,
        covered_from: int | None = None,
        turn_from: int | None = None,
        turn_to: int | None = None,
        source: str = "summarizer",
    ) -> list[MemoryRecord]:
        """Attach memories to ``message_id`` (one transaction); returns them with their ids."""
        now = now_iso()
        ids: list[int] = []
        with self._lock, self.db.atomic():
            owner = self.conn.execute(
                "SELECT session_id FROM messages WHERE id = ?", [message_id]
            ).fetchone()
            if owner is None or owner[0] != session_id:
                raise StoreError(f"message {message_id} is not part of session '{session_id}'")
            for item in items:
                if item.kind not in MEMORY_KINDS:
                    raise ValueError(f"unknown memory kind {item.kind!r}")
                cur = self.conn.execute(
                    "INSERT INTO memories (session_id, message_id, covered_from, turn_from, "
                    "turn_to, kind, text, pinned, source, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        session_id,
                        message_id,
                        covered_from,
                        turn_from,
                        turn_to,
                        item.kind,
                        item.text,
                        int(item.pinned),
                        source,
                        now,
                        now,
                    ],
                )
                ids.append(int(cur.lastrowid or 0))
        return [m for m in (self.get(i) for i in ids) if m is not None]

    def update(
        self,
        session_id: str,
        memory_id: int,
        *,
        text: str | None = None,
        pinned: bool | None = None,
    ) -> MemoryRecord:
        """Edit a memory's text and/or pin it; ``StoreError`` if it is not in the session."""
        values: dict[str, Any] = {"updated_at": now_iso()}
        if text is not None:
            if not text.strip():
                raise StoreError("a memory cannot be empty")
            values["text"] = text.strip()
        if pinned is not None:
            values["pinned"] = int(pinned)
        assignments = ", ".join(f"{k} = ?" for k in values)
        with self._lock, self.db.atomic():
            cur = self.conn.execute(
                f"UPDATE memories SET {assignments} WHERE id = ? AND session_id = ?",
                [*values.values(), memory_id, session_id],
            )
            if cur.rowcount == 0:
                raise StoreError(f"no memory {memory_id} in session '{session_id}'")
        found = self.get(memory_id)
        assert found is not None
        return found

    # -------------------------------------------------------------------- recall

    def search_messages(
        self, head_id: int, query: str, *, limit: int, before: int | None = None
    ) -> list[RecallHit]:
        """BM25 matches among the branch's messages with id < ``before``, best first.

        Only the session's id range is searched, words that fill a large share of the session
        are dropped (they match everything and rank nothing), and the best matches are scored
        before the branch filter, so a query costs about the same at 100 or 10,000 messages.
        """
        if not query:
            return []
        bounds = self._rows(
            "SELECT min(id) AS lo FROM messages WHERE session_id = "
            "(SELECT session_id FROM messages WHERE id = ?)",
            [head_id],
        )
        lo = bounds[0]["lo"] if bounds and bounds[0]["lo"] is not None else head_id
        hi = min(head_id, (before or 2**62) - 1)
        query, matches = self._selective(query, lo, hi)
        if not query:
            return []
        sql = (
            _PATH + ", top AS MATERIALIZED (SELECT rowid AS id, text, bm25(messages_fts) AS score "
            "FROM messages_fts WHERE messages_fts MATCH :q AND rowid BETWEEN :lo AND :hi "
            "ORDER BY score LIMIT :pool) "
            "SELECT top.id, top.text, top.score, m.sender FROM top "
            "JOIN messages AS m ON m.id = top.id "
            + _ON_PATH.format(col="top.id")
            + " ORDER BY top.score LIMIT :limit"
        )
        pool = limit * POOL_FACTOR
        while True:
            params = {"head": head_id, "q": query, "lo": lo, "hi": hi, "pool": pool}
            found = self._rows(sql, params | {"limit": limit})
            # off-branch matches may crowd the pool out: widen it and look again
            if len(found) >= limit or pool >= min(matches, MAX_POOL):
                break
            pool *= 4
        return [
            RecallHit("message", r["id"], r["text"], float(r["score"]), r["sender"]) for r in found
        ]

    def _selective(self, query: str, lo: int, hi: int) -> tuple[str, int]:
        """Keep the rarer terms of an OR query (up to MATCH_BUDGET matches in all); returns the
        query and how many matches its terms have at most."""
        counted = []
        for term in query.split(" OR "):
            found = self._rows(
                "SELECT count(*) AS n FROM messages_fts WHERE messages_fts MATCH ? "
                "AND rowid BETWEEN ? AND ?",
                [term, lo, hi],
            )
            counted.append((int(found[0]["n"]), term))
        span = max(1, hi - lo + 1)
        kept: list[str] = []
        total = 0
        for df, term in sorted(counted):
            if df == 0 or df > max(COMMON_FLOOR, span * COMMON_SHARE):
                continue
            if kept and total + df > MATCH_BUDGET:
                break
            kept.append(term)
            total += df
        return " OR ".join(kept), total

    def search_memories(self, head_id: int, query: str, *, limit: int) -> list[RecallHit]:
        """BM25 matches among the memories visible from ``head_id``, best first."""
        if not query:
            return []
        sql = (
            _PATH + ", top AS MATERIALIZED (SELECT f.rowid AS id, f.text AS text, "
            "bm25(memories_fts) AS score FROM memories_fts AS f WHERE memories_fts MATCH :q "
            "AND f.rowid >= (SELECT coalesce(min(id), 0) FROM memories WHERE session_id = "
            "(SELECT session_id FROM messages WHERE id = :head)) ORDER BY score LIMIT :pool) "
            "SELECT top.id, top.text, top.score FROM top "
            "CROSS JOIN memories AS mem ON mem.id = top.id "
            "CROSS JOIN message_segments AS ms ON ms.message_id = mem.message_id "
            "CROSS JOIN path ON ms.segment_id = path.seg AND mem.message_id <= path.upto "
            "ORDER BY top.score LIMIT :limit"
        )
        counted = self._rows(
            "SELECT count(*) AS n FROM memories_fts WHERE memories_fts MATCH ?", [query]
        )
        matches = int(counted[0]["n"])
        pool = limit * POOL_FACTOR
        while True:
            found = self._rows(sql, {"head": head_id, "q": query, "pool": pool, "limit": limit})
            if len(found) >= limit or pool >= min(matches, MAX_POOL):
                break
            pool *= 4
        return [RecallHit("memory", r["id"], r["text"], float(r["score"])) for r in found]
