"""Schema migrations for the qualia SQLite database.

Rules for adding one: append a new ``mNNN_what_it_does`` function at the end, never edit or
reorder an applied one. Each runs in its own transaction together with the row recording it in
``_sqlite_migrations``. ``PRAGMA foreign_keys`` is ON while migrations run (it cannot be changed
inside a transaction), so a migration that rebuilds a table referenced by others must be
registered with ``transactional=False`` and switch foreign keys off itself.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("qualia")


def _run(db: Database, *statements: str) -> None:
    for sql in statements:
        db.execute(sql)


@migrations()
def m001_initial(db: Database) -> None:
    _run(
        db,
        """
        CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            scenario_id TEXT NOT NULL,
            scenario_path TEXT,
            scenario TEXT NOT NULL DEFAULT '{}',
            genre TEXT NOT NULL DEFAULT '',
            narrative_pace TEXT NOT NULL DEFAULT '',
            content_rating TEXT NOT NULL DEFAULT '',
            settings TEXT NOT NULL DEFAULT '{}',
            world_state TEXT NOT NULL DEFAULT '{}',
            head_message_id INTEGER REFERENCES messages(id),
            archived INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """,
        "CREATE INDEX idx_sessions_updated_at ON sessions(updated_at)",
        """
        CREATE TABLE characters (
            id INTEGER PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            role TEXT NOT NULL DEFAULT 'partner',
            name TEXT NOT NULL,
            profile TEXT NOT NULL DEFAULT '{}',
            stats TEXT NOT NULL DEFAULT '{}',
            mood TEXT NOT NULL DEFAULT '',
            memory_summary TEXT NOT NULL DEFAULT '',
            location TEXT NOT NULL DEFAULT '',
            time TEXT NOT NULL DEFAULT '',
            profile_image TEXT,
            updated_at TEXT NOT NULL
        )
        """,
        "CREATE INDEX idx_characters_session ON characters(session_id)",
        # exactly one partner per session
        """
        CREATE UNIQUE INDEX idx_characters_one_partner
        ON characters(session_id) WHERE role = 'partner'
        """,
        """
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            parent_id INTEGER REFERENCES messages(id) ON DELETE CASCADE,
            turn_id TEXT,
            sender TEXT NOT NULL,
            content TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            processing_time_ms REAL,
            model TEXT,
            image_prompt TEXT,
            image_path TEXT,
            partner_state_snapshot TEXT,
            prompt_tokens INTEGER NOT NULL DEFAULT 0,
            completion_tokens INTEGER NOT NULL DEFAULT 0
        )
        """,
        "CREATE INDEX idx_messages_session_id ON messages(session_id, id)",
        "CREATE INDEX idx_messages_parent ON messages(parent_id)",
        """
        CREATE TABLE agent_calls (
            id INTEGER PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            turn_id TEXT NOT NULL,
            message_id INTEGER REFERENCES messages(id) ON DELETE CASCADE,
            agent TEXT NOT NULL,
            model TEXT NOT NULL,
            ok INTEGER NOT NULL,
            error_code TEXT,
            error TEXT,
            latency_ms REAL NOT NULL DEFAULT 0,
            prompt_tokens INTEGER NOT NULL DEFAULT 0,
            completion_tokens INTEGER NOT NULL DEFAULT 0,
            cost_usd REAL,
            repairs INTEGER NOT NULL DEFAULT 0,
            retries INTEGER NOT NULL DEFAULT 0,
            raw_output TEXT,
            started_at REAL NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL
        )
        """,
        "CREATE INDEX idx_agent_calls_session ON agent_calls(session_id)",
        "CREATE INDEX idx_agent_calls_turn ON agent_calls(turn_id)",
        """
        CREATE TABLE images (
            id INTEGER PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            message_id INTEGER REFERENCES messages(id) ON DELETE CASCADE,
            status TEXT NOT NULL DEFAULT 'queued',
            path TEXT,
            prompt TEXT,
            negative_prompt TEXT,
            seed INTEGER,
            workflow TEXT,
            workflow_json TEXT,
            server TEXT,
            request_hash TEXT,
            timings TEXT,
            error TEXT,
            created_at TEXT NOT NULL
        )
        """,
        "CREATE INDEX idx_images_session ON images(session_id)",
        "CREATE INDEX idx_images_message ON images(message_id)",
        # not UNIQUE: a failed request may be retried with the same hash
        "CREATE INDEX idx_images_request_hash ON images(request_hash)",
    )


@migrations()
def m002_turn_snapshots(db: Database) -> None:
    """Per-turn state snapshots, so rewinding restores world and partner state exactly.

    ``state_snapshot`` (JSON ``{"world_state": …, "partner": …}``) and ``ending`` are written on
    the last message of each turn (and of the opening); a session's ending is its head's.
    """
    _run(
        db,
        "ALTER TABLE messages ADD COLUMN state_snapshot TEXT",
        "ALTER TABLE messages ADD COLUMN ending TEXT",
        "CREATE INDEX idx_agent_calls_message ON agent_calls(message_id)",
        # session listings count player messages per session
        "CREATE INDEX idx_messages_session_sender ON messages(session_id, sender)",
    )


# the text of a message that recall searches: narration, dialogue and gesture (not the plan,
# suggestions or traces stored alongside); tolerant of content that is not JSON
_MESSAGE_TEXT_SQL = """
CASE WHEN json_valid({c}) THEN trim(
    coalesce(json_extract({c}, '$.text'), '') || ' ' ||
    coalesce(json_extract({c}, '$.dialogue'), '') || ' ' ||
    coalesce(json_extract({c}, '$.action'), ''))
ELSE {c} END
"""


@migrations()
def m003_memory(db: Database) -> None:
    """Long-term memories, branch paths and full-text recall (see store/memory.py).

    - ``memories``: what the summarizer (or the player) keeps, attached to the message it
      belongs to (the last message it covers), so only branches through that message see it.
    - ``branch_segments`` / ``message_segments``: the message tree cut into linear runs (a
      message continues its parent's run if it is the parent's first child). A branch is then
      a handful of (segment, last message) pairs, so "is this message on the current branch"
      is an index lookup instead of a walk over thousands of ancestors.
    - ``messages_fts`` / ``memories_fts``: FTS5 tables (BM25) over the text of messages and
      memories, rowid = the message or memory id.
    Triggers keep all of them in sync; rows that existed before are indexed here, once.
    """
    text_new = _MESSAGE_TEXT_SQL.format(c="new.content")
    _run(
        db,
        """
        CREATE TABLE memories (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
            covered_from INTEGER,
            turn_from INTEGER,
            turn_to INTEGER,
            kind TEXT NOT NULL DEFAULT 'summary',
            text TEXT NOT NULL,
            pinned INTEGER NOT NULL DEFAULT 0,
            source TEXT NOT NULL DEFAULT 'summarizer',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """,
        "CREATE INDEX idx_memories_session ON memories(session_id, message_id)",
        "CREATE INDEX idx_memories_message ON memories(message_id)",
        """
        CREATE TABLE branch_segments (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            parent_segment INTEGER,
            fork_message_id INTEGER,
            first_message_id INTEGER NOT NULL UNIQUE
        )
        """,
        "CREATE INDEX idx_branch_segments_session ON branch_segments(session_id)",
        """
        CREATE TABLE message_segments (
            message_id INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
            segment_id INTEGER NOT NULL
        )
        """,
        "CREATE INDEX idx_message_segments_segment ON message_segments(segment_id, message_id)",
        """
        CREATE VIRTUAL TABLE messages_fts USING fts5(
            text, tokenize = 'porter unicode61 remove_diacritics 2'
        )
        """,
        """
        CREATE VIRTUAL TABLE memories_fts USING fts5(
            text, tokenize = 'porter unicode61 remove_diacritics 2'
        )
        """,
        f"""
        CREATE TRIGGER messages_memory_ai AFTER INSERT ON messages BEGIN
            INSERT INTO branch_segments
                (session_id, parent_segment, fork_message_id, first_message_id)
            SELECT new.session_id,
                (SELECT segment_id FROM message_segments WHERE message_id = new.parent_id),
                new.parent_id, new.id
            WHERE new.parent_id IS NULL
                OR NOT EXISTS (SELECT 1 FROM message_segments WHERE message_id = new.parent_id)
                OR EXISTS (
                    SELECT 1 FROM messages WHERE parent_id = new.parent_id AND id <> new.id
                );
            INSERT INTO message_segments (message_id, segment_id) VALUES (new.id, coalesce(
                (SELECT id FROM branch_segments WHERE first_message_id = new.id),
                (SELECT segment_id FROM message_segments WHERE message_id = new.parent_id)
            ));
            INSERT INTO messages_fts (rowid, text) VALUES (new.id, {text_new});
        END
        """,
        """
        CREATE TRIGGER messages_memory_ad AFTER DELETE ON messages BEGIN
            DELETE FROM messages_fts WHERE rowid = old.id;
        END
        """,
        f"""
        CREATE TRIGGER messages_memory_au AFTER UPDATE OF content ON messages BEGIN
            DELETE FROM messages_fts WHERE rowid = old.id;
            INSERT INTO messages_fts (rowid, text) VALUES (new.id, {text_new});
        END
        """,
        """
        CREATE TRIGGER memories_fts_ai AFTER INSERT ON memories BEGIN
            INSERT INTO memories_fts (rowid, text) VALUES (new.id, new.text);
        END
        """,
        """
        CREATE TRIGGER memories_fts_ad AFTER DELETE ON memories BEGIN
            DELETE FROM memories_fts WHERE rowid = old.id;
        END
        """,
        """
        CREATE TRIGGER memories_fts_au AFTER UPDATE OF text ON memories BEGIN
            DELETE FROM memories_fts WHERE rowid = old.id;
            INSERT INTO memories_fts (rowid, text) VALUES (new.id, new.text);
        END
        """,
    )
    # index what was there before: segments in id order (a parent always precedes its
    # children), then the text of every message
    first_child: set[int] = set()
    segment_of: dict[int, int] = {}
    found = db.execute("SELECT id, session_id, parent_id FROM messages ORDER BY id").fetchall()
    for message_id, session_id, parent_id in found:
        if parent_id is not None and parent_id in segment_of and parent_id not in first_child:
            first_child.add(parent_id)
            segment = segment_of[parent_id]
        else:
            cur = db.execute(
                "INSERT INTO branch_segments "
                "(session_id, parent_segment, fork_message_id, first_message_id) "
                "VALUES (?, ?, ?, ?)",
                [session_id, segment_of.get(parent_id), parent_id, message_id],
            )
            segment = int(cur.lastrowid or 0)
            if parent_id is not None:
                first_child.add(parent_id)
        segment_of[message_id] = segment
        db.execute(
            "INSERT INTO message_segments (message_id, segment_id) VALUES (?, ?)",
            [message_id, segment],
        )
    db.execute(
        "INSERT INTO messages_fts (rowid, text) SELECT id, "
        + _MESSAGE_TEXT_SQL.format(c="content")
        + " FROM messages"
    )


@migrations()
def m004_images(db: Database) -> None:
    """Image provenance: which backend and model made it, for which turn, variant and size."""
    _run(
        db,
        "ALTER TABLE images ADD COLUMN backend TEXT",
        "ALTER TABLE images ADD COLUMN model TEXT",
        "ALTER TABLE images ADD COLUMN turn_id TEXT",
        "ALTER TABLE images ADD COLUMN variant INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE images ADD COLUMN format TEXT",
        "ALTER TABLE images ADD COLUMN width INTEGER",
        "ALTER TABLE images ADD COLUMN height INTEGER",
        "ALTER TABLE images ADD COLUMN updated_at TEXT",
    )


@migrations()
def m005_issue16_reasoning(db: Database) -> None:
    """What a reasoning model thought before it answered, and the structured-output mode used."""
    _run(
        db,
        "ALTER TABLE agent_calls ADD COLUMN reasoning TEXT",
        "ALTER TABLE agent_calls ADD COLUMN output_mode TEXT",
    )


@migrations()
def m006_issue17_embeddings(db: Database) -> None:
    """Vectors for semantic recall (see store/vectors.py), beside the FTS5 index.

    One row per embedded message or memory: ``vector`` is int8 in sqlite-vec's BLOB format,
    ``model`` the embedder that made it (rows of another embedder are ignored, and replaced by
    ``qualia memory reindex``). Vectors are written lazily (the embedder is a model call, not
    SQL); these triggers drop a vector when its message or memory is deleted or its text
    changes, so the vectors never describe text the FTS index no longer holds. A plain table
    (not a ``vec0`` virtual table) so that every connection can write messages, with or
    without the sqlite-vec extension loaded.
    """
    _run(
        db,
        """
        CREATE TABLE embeddings (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            item_id INTEGER NOT NULL,
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            model TEXT NOT NULL,
            vector BLOB NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (kind, item_id)
        )
        """,
        "CREATE INDEX idx_embeddings_session ON embeddings(session_id, model, kind)",
        """
        CREATE TRIGGER messages_embeddings_ad AFTER DELETE ON messages BEGIN
            DELETE FROM embeddings WHERE kind = 'message' AND item_id = old.id;
        END
        """,
        f"""
        CREATE TRIGGER messages_embeddings_au AFTER UPDATE OF content ON messages
        WHEN ({_MESSAGE_TEXT_SQL.format(c="old.content")})
            IS NOT ({_MESSAGE_TEXT_SQL.format(c="new.content")})
        BEGIN
            DELETE FROM embeddings WHERE kind = 'message' AND item_id = old.id;
        END
        """,
        """
        CREATE TRIGGER memories_embeddings_ad AFTER DELETE ON memories BEGIN
            DELETE FROM embeddings WHERE kind = 'memory' AND item_id = old.id;
        END
        """,
        """
        CREATE TRIGGER memories_embeddings_au AFTER UPDATE OF text ON memories
        WHEN old.text IS NOT new.text BEGIN
            DELETE FROM embeddings WHERE kind = 'memory' AND item_id = old.id;
        END
        """,
    )
