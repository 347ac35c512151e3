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
