"""Issue 13.6: concurrent `qualia new` on one home, fresh or not, never crash.

Real child processes (marked: they cost a few seconds); the first run's setup (migrations)
and `create_session` both take SQLite's write lock before reading, like `commit_turn`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from qualia_cli.store.db import Store

PROCESSES = 8


def _spawn_news(home: Path, count: int) -> list[subprocess.CompletedProcess[str]]:
    env = {**os.environ, "QUALIA_HOME": str(home)}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "qualia_cli",
                "new",
                "fogbound_archive",
                "--no-images",
                "--json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        for _ in range(count)
    ]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=300)
        out.append(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr))
    return out


def test_concurrent_new_on_a_fresh_home_all_succeed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    results = _spawn_news(home, PROCESSES)
    failures = [r.stderr for r in results if r.returncode != 0]
    assert failures == []
    ids = {json.loads(r.stdout)["session"]["id"] for r in results}
    assert len(ids) == PROCESSES
    db = next(home.rglob("qualia.db"))
    with Store(db) as store:
        assert len(store.db.execute("SELECT id FROM sessions").fetchall()) == PROCESSES


def test_two_stores_opening_a_fresh_database_at_once(tmp_path: Path) -> None:
    """Threads with their own connections: the migrations run once, nobody fails."""
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "fresh.db"

    def open_and_create(i: int) -> str:
        with Store(path) as store:
            return store.create_session(
                title=f"t{i}",
                scenario_id="s",
                scenario_path=None,
                scenario={},
                genre="g",
                narrative_pace="normal",
                content_rating="general",
                settings={},
                world_state={},
                partner=_partner(),
                opening=[],
            ).id

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(open_and_create, range(16)))
    assert len(set(ids)) == 16


def _partner():  # type: ignore[no-untyped-def]
    from qualia_cli.store.records import PartnerState

    return PartnerState(name="A", stats={"trust": 1}, mood="calm")


def test_many_connections_creating_sessions_at_once(tmp_path: Path) -> None:
    """Separate connections (as separate processes would be) racing on create_session: the
    read-then-write of the old code failed with "database is locked" (a stale snapshot)."""
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "busy.db"
    Store(path).close()  # migrated

    def create_many(worker: int) -> int:
        with Store(path) as store:
            for i in range(15):
                with store.db.conn:  # a reader holding a snapshot, like a `sessions list`
                    store.db.execute("SELECT COUNT(*) FROM sessions").fetchone()
                store.create_session(
                    title=f"w{worker}-{i}",
                    scenario_id="s",
                    scenario_path=None,
                    scenario={},
                    genre="g",
                    narrative_pace="normal",
                    content_rating="general",
                    settings={},
                    world_state={},
                    partner=_partner(),
                    opening=[],
                )
        return worker

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(create_many, range(6)))
    with Store(path) as store:
        assert store.db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 90
