"""Helpers for the TUI tests: waiting for the app, long sessions (engines: support/engine.py)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot

from qualia_cli.engine import Engine


async def wait_for(
    pilot: Pilot[Any], predicate: Callable[[], object], timeout: float = 15.0, what: str = ""
) -> None:
    """Let the app run until ``predicate()`` holds (generous: the machine may be loaded)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await pilot.pause(0.02)
    await pilot.pause()


def fill_long_session(engine: Engine, session_id: str, total: int) -> int:
    """Append turns to a session until it holds ``total`` messages, in one transaction.

    Each turn is player → partner with a state snapshot, as the engine writes them. Written with
    plain SQL because playing 5,000 turns through the engine would take minutes; returns the
    new head id.
    """
    session = engine.open_session(session_id)
    head = session.record.head_message_id
    assert head is not None
    state = session.state
    existing = engine.store.count_messages(session_id)
    con = sqlite3.connect(engine.store.path)
    try:
        with con:
            parent = head
            for i in range(existing, total):
                turn = (i - existing) // 2 + 1
                is_player = (i - existing) % 2 == 0
                content = (
                    {"text": f"player line {turn}"}
                    if is_player
                    else {"dialogue": f"partner line {turn}", "action": "", "mood": "calm"}
                )
                snap = None
                psnap = None
                if not is_player:
                    snap = json.dumps(
                        {"world_state": {"facts": {}}, "partner": vars(state)}, default=str
                    )
                    psnap = json.dumps({**state.snapshot(), "turn": turn})
                cur = con.execute(
                    "INSERT INTO messages (session_id, parent_id, turn_id, sender, content, "
                    "created_at, state_snapshot, partner_state_snapshot) "
                    "VALUES (?, ?, ?, ?, ?, '2025-01-01T00:00:00.000000Z', ?, ?)",
                    [
                        session_id,
                        parent,
                        f"t{turn}",
                        "player" if is_player else "partner",
                        json.dumps(content),
                        snap,
                        psnap,
                    ],
                )
                parent = cur.lastrowid
            con.execute(
                "UPDATE sessions SET head_message_id = ? WHERE id = ?", [parent, session_id]
            )
    finally:
        con.close()
    assert parent is not None
    return parent


async def settle(pilot: Pilot[Any], seconds: float = 0.05) -> None:
    await asyncio.sleep(seconds)
    await pilot.pause()
