"""The second transaction of a turn: attach the extras to the partner message phase 1 wrote.

Phase 1 (``writes.commit_turn``) stored the player's line, her reply and the state change.
Phase 2 adds what the Visual Director, Strategist and Summarizer produced: keys merged into the
partner message's content, its image prompt, its token counts, and their agent calls. The head
is not checked: the extras belong to their message wherever the head has moved since.
"""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from qualia_cli.store.codec import agent_call_values, dumps, loads, now_iso
from qualia_cli.store.errors import StoreError
from qualia_cli.store.records import AgentCall
from qualia_cli.store.writes import insert_row


def attach_extras(
    db: Database,
    *,
    session_id: str,
    turn_id: str,
    message_id: int,
    content: dict[str, Any],
    image_prompt: str | None,
    calls: list[AgentCall],
) -> None:
    """Must run inside ``db.atomic()``. ``content`` keys replace the message's own (``context``
    is merged per agent)."""
    # write first (as commit_turn does): the UPDATE takes SQLite's write lock before anything
    # is read, so another process's turn is waited for instead of failing on a stale snapshot
    cur = db.execute(
        "UPDATE messages SET prompt_tokens = prompt_tokens + ?, "
        "completion_tokens = completion_tokens + ? WHERE id = ? AND session_id = ?",
        [
            sum(c.prompt_tokens for c in calls),
            sum(c.completion_tokens for c in calls),
            message_id,
            session_id,
        ],
    )
    if cur.rowcount == 0:
        raise StoreError(f"no message {message_id} in session '{session_id}'")
    row = db.execute("SELECT content FROM messages WHERE id = ?", [message_id]).fetchone()
    merged: dict[str, Any] = loads(row[0], {})
    for key, value in content.items():
        if key == "context" and isinstance(value, dict):
            merged["context"] = {**(merged.get("context") or {}), **value}
        else:
            merged[key] = value
    db.execute(
        "UPDATE messages SET content = ?, image_prompt = COALESCE(?, image_prompt) WHERE id = ?",
        [dumps(merged), image_prompt, message_id],
    )
    now = now_iso()
    for call in calls:
        values = agent_call_values(
            call, session_id=session_id, turn_id=turn_id, message_id=message_id, created_at=now
        )
        insert_row(db, "agent_calls", values)
