"""The SQLite store: sessions, the message tree, partner state and the agent call log.

One ``Store`` wraps one connection. Its methods are serialized by a lock, so a Store may be
shared with worker threads (``asyncio.to_thread``); separate processes coordinate through
SQLite itself (WAL mode, a 5 s busy timeout, and a head check in ``commit_turn``).
"""

from __future__ import annotations

import functools
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, Self, TypeVar

from sqlite_utils import Database

from qualia_cli.store import extras, portable, tree, vectors, writes
from qualia_cli.store.codec import (
    agent_call_row,
    dumps,
    now_iso,
    partner_columns,
    partner_from_row,
    rows,
    session_from_row,
    state_snapshot,
)
from qualia_cli.store.errors import StoreError
from qualia_cli.store.memory import MemoryStore
from qualia_cli.store.migrations import migrations
from qualia_cli.store.records import (
    AgentCall,
    Message,
    NewMessage,
    PartnerState,
    SessionRecord,
    TurnRecord,
)
from qualia_cli.store.vectors import VectorStore

BUSY_TIMEOUT_MS = 5000

_P = ParamSpec("_P")
_R = TypeVar("_R")

_SESSION_SELECT = """
SELECT s.*,
    (SELECT COUNT(*) FROM messages AS m
        WHERE m.session_id = s.id AND m.sender = 'player') AS turns,
    (SELECT COALESCE(SUM(a.cost_usd), 0) FROM agent_calls AS a
        WHERE a.session_id = s.id) AS cost_usd,
    (SELECT h.ending FROM messages AS h WHERE h.id = s.head_message_id) AS ending
FROM sessions AS s
"""


def _locked(
    method: Callable[Concatenate[Store, _P], _R],
) -> Callable[Concatenate[Store, _P], _R]:
    @functools.wraps(method)
    def wrapper(self: Store, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper


def _migrate(db: Database) -> None:
    """Apply pending migrations, one process at a time.

    Two first runs on a fresh home used to race ("table sessions already exists"). The same
    discipline as ``commit_turn``: take SQLite's write lock first (``BEGIN IMMEDIATE`` waits
    up to the busy timeout), then look at what is pending, so the second process finds the
    work done. Each migration still runs in its own savepoint inside that transaction.
    """
    if not migrations.pending(db):
        return  # the common case: a read, no lock
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        migrations.apply(db)
    except BaseException:
        db.conn.rollback()
        raise
    db.conn.execute("COMMIT")


def _enable_wal(db: Database) -> None:
    """WAL, even when several processes open a fresh file at once: switching the journal mode
    needs a moment alone with the file and SQLite answers "locked" at once instead of waiting
    (the busy timeout does not apply), so retry within the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if db.journal_mode != "wal":
                db.enable_wal()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class Store:
    """All persistent state of qualia, in one SQLite file."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        vectors.prepare_process()  # sqlite-vec for semantic recall (store/vectors.py)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                str(self.path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the database {self.path}: {exc}") from exc
        try:
            self.db = Database(conn)
            self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self.db.execute("PRAGMA foreign_keys = ON")
            _enable_wal(self.db)
            _migrate(self.db)
            self.vec_available = vectors.enable(conn)
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"cannot open the database {self.path}: {exc}") from exc

    @property
    def conn(self) -> sqlite3.Connection:
        return self.db.conn

    @property
    def memory(self) -> MemoryStore:
        """Long-term memories, branch paths and full-text recall (store/memory.py)."""
        return MemoryStore(self.db, self._lock)

    @property
    def vectors(self) -> VectorStore:
        """Embeddings of messages and memories, and semantic search (store/vectors.py)."""
        return VectorStore(self.db, self._lock, self.vec_available)

    def close(self) -> None:
        with self._lock:
            self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ---------------------------------------------------------------- sessions

    @_locked
    def create_session(
        self,
        *,
        title: str,
        scenario_id: str,
        scenario_path: str | None,
        scenario: dict[str, Any],
        genre: str,
        narrative_pace: str,
        content_rating: str,
        settings: dict[str, Any],
        world_state: dict[str, Any],
        partner: PartnerState,
        opening: list[NewMessage],
    ) -> SessionRecord:
        """Create a session, its partner and its opening messages in one transaction."""
        writes.reject_secrets(settings)
        now = now_iso()
        with self.db.atomic():
            # write first, like commit_turn: the INSERT takes SQLite's write lock (waiting up to
            # the busy timeout) before anything is read, so concurrent `new`s queue instead of
            # failing with "database is locked" when a read snapshot goes stale.
            session_id = writes.insert_new_session(
                self.db,
                {
                    "title": title,
                    "scenario_id": scenario_id,
                    "scenario_path": scenario_path,
                    "scenario": dumps(scenario),
                    "genre": genre,
                    "narrative_pace": narrative_pace,
                    "content_rating": content_rating,
                    "settings": dumps(settings),
                    "world_state": dumps(world_state),
                    "head_message_id": None,
                    "archived": 0,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            writes.insert_row(
                self.db,
                "characters",
                {"session_id": session_id, "role": "partner", "updated_at": now}
                | partner_columns(partner),
            )
            ids = writes.insert_chain(
                self.db,
                session_id=session_id,
                parent_id=None,
                turn_id=None,
                messages=opening,
                now=now,
                snapshot=state_snapshot(partner, world_state),
                ending=None,
            )
            if ids:
                writes.update_session(self.db, session_id, head_message_id=ids[-1])
        record = self.get_session(session_id)
        assert record is not None
        return record

    @_locked
    def get_session(self, session_id: str) -> SessionRecord | None:
        found = self._rows(f"{_SESSION_SELECT} WHERE s.id = ?", [session_id])
        return session_from_row(found[0]) if found else None

    @_locked
    def resolve_session_id(self, prefix: str) -> str:
        """The one session whose id is ``prefix`` or starts with it."""
        prefix = prefix.strip()
        if not prefix:
            raise StoreError("no session id given")
        ids = [
            r["id"]
            for r in self._rows(
                "SELECT id FROM sessions WHERE substr(id, 1, ?) = ? ORDER BY id LIMIT 6",
                [len(prefix), prefix],
            )
        ]
        if prefix in ids:
            return prefix
        if not ids:
            raise StoreError(f"no session id starts with '{prefix}'")
        if len(ids) > 1:
            shown = ", ".join(ids[:5]) + (", …" if len(ids) > 5 else "")
            raise StoreError(f"session id '{prefix}' is ambiguous ({shown}); type more characters")
        return str(ids[0])

    @_locked
    def list_sessions(self, include_archived: bool = False) -> list[SessionRecord]:
        """Newest-updated first; ``turns`` counts player messages on all branches."""
        where = "" if include_archived else "WHERE s.archived = 0"
        found = self._rows(f"{_SESSION_SELECT} {where} ORDER BY s.updated_at DESC, s.id")
        return [session_from_row(r) for r in found]

    @_locked
    def set_archived(self, session_id: str, archived: bool) -> None:
        writes.update_session(self.db, session_id, archived=int(archived), updated_at=now_iso())

    @_locked
    def rename(self, session_id: str, title: str) -> None:
        writes.update_session(self.db, session_id, title=title, updated_at=now_iso())

    @_locked
    def update_settings(self, session_id: str, settings: dict[str, Any]) -> None:
        """Replace the session's settings."""
        writes.reject_secrets(settings)
        writes.update_session(self.db, session_id, settings=dumps(settings), updated_at=now_iso())

    @_locked
    def update_story(self, session_id: str, *, narrative_pace: str, content_rating: str) -> None:
        """Change the session's narrative pace and content rating."""
        writes.update_session(
            self.db,
            session_id,
            narrative_pace=narrative_pace,
            content_rating=content_rating,
            updated_at=now_iso(),
        )

    @_locked
    def delete_session(self, session_id: str) -> None:
        """Delete a session and everything that belongs to it."""
        with self.db.atomic():
            cur = self.db.execute("DELETE FROM sessions WHERE id = ?", [session_id])
            if cur.rowcount == 0:
                raise StoreError(f"no session '{session_id}'")

    @_locked
    def dump_session(self, session_id: str) -> dict[str, Any]:
        """Every row of a session, for export (see store/portable.py)."""
        return portable.dump_session(self.db, session_id)

    @_locked
    def load_session(self, dump: dict[str, Any], session_id: str) -> dict[int, int]:
        """Insert an exported session as ``session_id`` in one transaction; old → new ids."""
        with self.db.atomic():
            return portable.load_session(self.db, dump, session_id)

    # ----------------------------------------------------------- partner state

    @_locked
    def get_partner_state(self, session_id: str) -> PartnerState:
        found = self._rows(
            "SELECT * FROM characters WHERE session_id = ? AND role = 'partner'", [session_id]
        )
        if not found:
            raise StoreError(f"session '{session_id}' has no partner character")
        return partner_from_row(found[0])

    @_locked
    def restore_partner_state(self, session_id: str, state: PartnerState) -> None:
        with self.db.atomic():
            writes.write_partner(self.db, session_id, state, now_iso())

    # ----------------------------------------------------------------- messages

    @_locked
    def get_message(self, message_id: int) -> Message | None:
        return tree.get_message(self.conn, message_id)

    @_locked
    def branch(self, head_id: int) -> list[Message]:
        """Messages from the root to ``head_id`` inclusive, in order."""
        return tree.branch(self.conn, head_id)

    @_locked
    def recent_branch(self, head_id: int, limit: int, *, traces: bool = True) -> list[Message]:
        """The last ``limit`` messages ending at ``head_id``, in chronological order
        (without each turn's context trace if ``traces`` is false)."""
        return tree.recent_branch(self.conn, head_id, limit, traces=traces)

    @_locked
    def children(self, message_id: int) -> list[Message]:
        return tree.children(self.conn, message_id)

    @_locked
    def outline(self, session_id: str) -> list[dict[str, Any]]:
        """Every message's id, parent, turn, sender and opening words (the story tree)."""
        return tree.outline(self.conn, session_id)

    @_locked
    def search_session(self, session_id: str, query: str, limit: int) -> list[dict[str, Any]]:
        """Full-text matches on every branch of a session, best first."""
        return tree.search_session(self.conn, session_id, query, limit)

    @_locked
    def count_messages(self, session_id: str) -> int:
        return tree.count_messages(self.conn, session_id)

    @_locked
    def state_at(self, message_id: int) -> tuple[PartnerState, dict[str, Any]] | None:
        """(partner, world_state) as committed by the nearest turn at or above ``message_id``."""
        return tree.state_at(self.conn, message_id)

    @_locked
    def set_message_image(self, message_id: int, image_path: str | None) -> None:
        """Attach (or clear) the generated image of a message."""
        cur = self.db.execute(
            "UPDATE messages SET image_path = ? WHERE id = ?", [image_path, message_id]
        )
        if cur.rowcount == 0:
            raise StoreError(f"no message {message_id}")

    # -------------------------------------------------------------------- turns

    @_locked
    def commit_turn(self, turn: TurnRecord) -> list[int]:
        """Write one whole turn atomically; returns the new message ids in order.

        Raises ``StoreError`` (and writes nothing) if the session head is no longer
        ``turn.expected_head``; any other failure also leaves the database untouched.
        """
        with self.db.atomic():
            return writes.commit_turn(self.db, turn)

    @_locked
    def attach_extras(
        self,
        session_id: str,
        turn_id: str,
        message_id: int,
        content: dict[str, Any],
        image_prompt: str | None,
        calls: list[AgentCall],
    ) -> None:
        """The turn's second transaction: the extras (visual prompt, suggestions, the late
        agents' calls) attached to its partner message (store/extras.py)."""
        with self.db.atomic():
            extras.attach_extras(
                self.db,
                session_id=session_id,
                turn_id=turn_id,
                message_id=message_id,
                content=content,
                image_prompt=image_prompt,
                calls=calls,
            )

    @_locked
    def set_head(self, session_id: str, message_id: int, *, restore_state: bool = True) -> None:
        """Move the session head (rewind / switch branch).

        With ``restore_state`` the session's world state and partner are reset to what the turn
        that wrote ``message_id`` (or its nearest ancestor turn) committed, when recorded.
        """
        now = now_iso()
        with self.db.atomic():
            # write before reading, as in commit_turn; a wrong message rolls it back
            writes.update_session(self.db, session_id, updated_at=now)
            owner = self._rows("SELECT session_id FROM messages WHERE id = ?", [message_id])
            if not owner or owner[0]["session_id"] != session_id:
                raise StoreError(f"message {message_id} is not part of session '{session_id}'")
            writes.update_session(self.db, session_id, head_message_id=message_id)
            state = tree.state_at(self.conn, message_id) if restore_state else None
            if state is not None:
                partner, world_state = state
                writes.update_session(self.db, session_id, world_state=dumps(world_state))
                writes.write_partner(self.db, session_id, partner, now)

    # ---------------------------------------------------------------- agent log

    @_locked
    def agent_calls(self, session_id: str, turn_id: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM agent_calls WHERE session_id = ?"
        params: list[Any] = [session_id]
        if turn_id is not None:
            sql += " AND turn_id = ?"
            params.append(turn_id)
        return [agent_call_row(r) for r in self._rows(sql + " ORDER BY id", params)]

    @_locked
    def session_cost(self, session_id: str) -> float:
        row = self.conn.execute(
            "SELECT COALESCE(SUM(cost_usd), 0) FROM agent_calls WHERE session_id = ?",
            [session_id],
        ).fetchone()
        return float(row[0])

    # ------------------------------------------------------------------ helpers

    def _rows(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        return rows(self.db.execute(sql, params or []))
