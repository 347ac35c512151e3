"""Vectors for semantic recall, in the session database (table from ``m006_issue17_embeddings``).

Distances are computed by `sqlite-vec <https://github.com/asg017/sqlite-vec>`_ inside SQLite
(``vec_distance_cosine``), over the branch's rows only, so semantic recall is branch-aware the
same way FTS5 recall is (store/memory.py).

Loading the extension: ``sqlite_vec.load(conn)`` needs ``Connection.enable_load_extension``,
which a Python built without ``--enable-loadable-sqlite-extensions`` (pyenv's default, for one)
does not have. Then sqlite-vec's entry point is registered with SQLite's documented
``sqlite3_auto_extension()`` in the SQLite library the ``sqlite3`` module itself uses, so every
connection opened afterwards has it, exactly as if it had been loaded (no Python build option
involved). If neither works, vectors can still be written (a plain table) but not searched,
and the error says why.
"""

from __future__ import annotations

import ctypes
import importlib.util
import sqlite3
import threading
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from qualia_cli.store.codec import now_iso, rows
from qualia_cli.store.errors import StoreError
from qualia_cli.store.memory import _ON_PATH, _PATH, RecallHit

_registered: list[Any] = []  # keeps the loaded library alive once registered
_register_lock = threading.Lock()
_why_not = ""


def pack(vector: Sequence[float]) -> bytes:
    """A vector as sqlite-vec's int8 BLOB, scaled by its largest component (cosine distance
    ignores the scale): a quarter of float32's size and of its search time, for a rounding
    error far below what tells two snippets apart."""
    top = max((abs(x) for x in vector), default=0.0) or 1.0
    return array("b", [round(127 * x / top) for x in vector]).tobytes()


def unpack(blob: bytes) -> list[int]:
    out = array("b")
    out.frombytes(blob)
    return out.tolist()


def _library_path() -> Path | None:
    """sqlite-vec's loadable library, found without importing the package (its ``__init__``
    imports numpy when present: a tenth of a second on every start)."""
    spec = importlib.util.find_spec("sqlite_vec")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(folder.glob("vec0.*"))
    return found[0] if found else None


def prepare_process() -> None:
    """Make sqlite-vec available to connections opened from now on, if this Python cannot
    load extensions itself (call before ``sqlite3.connect``; idempotent)."""
    global _why_not
    if hasattr(sqlite3.Connection, "enable_load_extension"):
        return
    with _register_lock:
        if _registered or _why_not:
            return
        path = _library_path()
        if path is None:
            _why_not = "the sqlite-vec package is not installed"
            return
        try:
            import _sqlite3

            sqlite_lib = ctypes.CDLL(_sqlite3.__file__)
            vec_lib = ctypes.CDLL(str(path))
            register = sqlite_lib.sqlite3_auto_extension
            register.argtypes = [ctypes.c_void_p]
            register.restype = ctypes.c_int
            entry = ctypes.cast(vec_lib.sqlite3_vec_init, ctypes.c_void_p)
            if register(entry) != 0:
                raise OSError("sqlite3_auto_extension refused the entry point")
        except (OSError, AttributeError, ImportError) as err:
            _why_not = f"this Python cannot load SQLite extensions ({err})"
            return
        _registered.append((sqlite_lib, vec_lib))


def enable(conn: sqlite3.Connection) -> bool:
    """Whether ``conn`` has sqlite-vec's functions (loading the extension if it can)."""
    global _why_not
    if _has_vec(conn):
        return True
    path = _library_path()
    if hasattr(conn, "enable_load_extension") and path is not None:
        try:
            conn.enable_load_extension(True)
            try:
                conn.load_extension(str(path))
            finally:
                conn.enable_load_extension(False)
        except (sqlite3.Error, AttributeError) as err:
            _why_not = f"cannot load sqlite-vec: {err}"
            return False
    return _has_vec(conn)


def unavailable_reason() -> str:
    return _why_not or "the sqlite-vec extension is not loaded"


def _has_vec(conn: sqlite3.Connection) -> bool:
    try:
        conn.execute("SELECT vec_version()").fetchone()
    except sqlite3.Error:
        return False
    return True


@dataclass
class Pending:
    """A message or memory whose text has no vector from the current embedder yet."""

    kind: str  # "message" | "memory"
    id: int
    text: str


# the newest first: a turn's new messages are found after a few rows, not a scan of thousands
_PENDING_MESSAGES = """
WITH todo AS MATERIALIZED (
    SELECT m.id FROM messages AS m
    WHERE m.session_id = :session AND NOT EXISTS (
        SELECT 1 FROM embeddings AS e
        WHERE e.kind = 'message' AND e.item_id = m.id AND e.model = :model)
    ORDER BY m.id DESC LIMIT :limit)
SELECT 'message' AS kind, todo.id AS id, f.text AS text FROM todo
JOIN messages_fts AS f ON f.rowid = todo.id WHERE f.text <> '' ORDER BY todo.id
"""

_PENDING_MEMORIES = """
SELECT 'memory' AS kind, mem.id AS id, mem.text AS text FROM memories AS mem
WHERE mem.session_id = :session AND mem.text <> '' AND NOT EXISTS (
    SELECT 1 FROM embeddings AS e
    WHERE e.kind = 'memory' AND e.item_id = mem.id AND e.model = :model)
"""


class VectorStore:
    """Vector rows and semantic search on a Store's connection, under the Store's lock."""

    def __init__(self, db: Database, lock: threading.RLock, searchable: bool) -> None:
        self.db = db
        self.conn = db.conn
        self._lock = lock
        self.searchable = searchable

    def _rows(self, sql: str, params: dict[str, Any] | list[Any]) -> list[dict[str, Any]]:
        with self._lock:
            return rows(self.conn.execute(sql, params))

    def pending(self, session_id: str, model: str, *, limit: int = 256) -> list[Pending]:
        """Memories first (few, and dense with facts), then messages, newest first."""
        params = {"session": session_id, "model": model, "limit": limit}
        found = self._rows(_PENDING_MEMORIES + " ORDER BY mem.id LIMIT :limit", params)
        missing = self._missing_messages(session_id, model)
        if len(found) < limit and missing:
            params["limit"] = min(limit - len(found), missing)
            found += self._rows(_PENDING_MESSAGES, params)
        return [Pending(r["kind"], r["id"], r["text"]) for r in found]

    def _missing_messages(self, session_id: str, model: str) -> int:
        """How many of the session's messages have no vector from ``model`` (two index counts:
        a vector exists only for a message that exists, the triggers see to that)."""
        found = self._rows(
            "SELECT (SELECT count(*) FROM messages WHERE session_id = :s) - (SELECT count(*) "
            "FROM embeddings WHERE session_id = :s AND model = :m AND kind = 'message') AS n",
            {"s": session_id, "m": model},
        )
        return max(0, int(found[0]["n"]))

    def count_pending(self, session_id: str, model: str) -> int:
        found = self._rows(
            f"SELECT count(*) AS n FROM ({_PENDING_MEMORIES})",
            {"session": session_id, "model": model},
        )
        return int(found[0]["n"]) + self._missing_messages(session_id, model)

    def put(
        self, session_id: str, model: str, items: Iterable[tuple[Pending, Sequence[float]]]
    ) -> int:
        """Store vectors in one transaction; an item whose text changed (or that was deleted)
        since it was read is skipped, so a vector always describes the text FTS holds."""
        now = now_iso()
        written = 0
        with self._lock, self.db.atomic():
            for item, vector in items:
                if item.kind == "message":
                    current = "SELECT text FROM messages_fts WHERE rowid = :id"
                else:
                    current = "SELECT text FROM memories WHERE id = :id"
                cur = self.conn.execute(
                    "INSERT OR REPLACE INTO embeddings "
                    "(kind, item_id, session_id, model, vector, created_at) "
                    f"SELECT :kind, :id, :session, :model, :vector, :now WHERE ({current}) = :text",
                    {
                        "kind": item.kind,
                        "id": item.id,
                        "session": session_id,
                        "model": model,
                        "vector": pack(vector),
                        "now": now,
                        "text": item.text,
                    },
                )
                written += cur.rowcount
        return written

    def drop_other_models(self, session_id: str, model: str) -> int:
        """Forget the vectors another embedder made for this session."""
        with self._lock, self.db.atomic():
            cur = self.conn.execute(
                "DELETE FROM embeddings WHERE session_id = ? AND model <> ?", [session_id, model]
            )
            return cur.rowcount

    def count(self, session_id: str, model: str) -> int:
        found = self._rows(
            "SELECT count(*) AS n FROM embeddings WHERE session_id = ? AND model = ?",
            [session_id, model],
        )
        return int(found[0]["n"])

    def search(
        self,
        head_id: int,
        model: str,
        query: Sequence[float],
        *,
        limit: int,
        before: int | None = None,
    ) -> list[RecallHit]:
        """The messages (with id < ``before``) and memories of the branch ending at ``head_id``
        nearest to ``query`` by cosine distance (lower is better), best first."""
        if not self.searchable:
            raise StoreError(f"semantic recall is unavailable: {unavailable_reason()}")
        blob = pack(query)
        params = {
            "head": head_id,
            "model": model,
            "q": blob,
            "bytes": len(blob),
            "before": before or 2**62,
            "limit": limit,
        }
        session = "(SELECT session_id FROM messages WHERE id = :head)"
        messages = (
            _PATH + ", near AS MATERIALIZED (SELECT e.item_id AS id, "
            "vec_distance_cosine(vec_int8(e.vector), vec_int8(:q)) AS score FROM embeddings AS e "
            + _ON_PATH.format(col="e.item_id")
            + f" WHERE e.session_id = {session} AND e.model = :model AND e.kind = 'message' "
            "AND length(e.vector) = :bytes AND e.item_id < :before AND e.item_id <= :head "
            "ORDER BY score LIMIT :limit) "
            "SELECT near.id, near.score, f.text, m.sender FROM near "
            "JOIN messages_fts AS f ON f.rowid = near.id JOIN messages AS m ON m.id = near.id "
            "ORDER BY near.score"
        )
        memories = (
            _PATH + ", near AS MATERIALIZED (SELECT e.item_id AS id, "
            "vec_distance_cosine(vec_int8(e.vector), vec_int8(:q)) AS score "
            "FROM embeddings AS e JOIN memories AS mem ON mem.id = e.item_id "
            + _ON_PATH.format(col="mem.message_id")
            + f" WHERE e.session_id = {session} AND e.model = :model AND e.kind = 'memory' "
            "AND length(e.vector) = :bytes ORDER BY score LIMIT :limit) "
            "SELECT near.id, near.score, mem.text FROM near "
            "JOIN memories AS mem ON mem.id = near.id ORDER BY near.score"
        )
        hits = [
            RecallHit("message", r["id"], r["text"], float(r["score"]), r["sender"])
            for r in self._rows(messages, params)
        ]
        hits += [
            RecallHit("memory", r["id"], r["text"], float(r["score"]))
            for r in self._rows(memories, params)
        ]
        hits.sort(key=lambda h: h.score)
        return hits[:limit]
