"""When the Summarizer runs, what it folds, and how its notes become memories.

Turns leave the recent window as the story goes on. Once ``summarize_every`` turns not yet
covered by a memory have left it (half as many when the Partner's budget could not even show
the whole window: the window "overflows"), the Summarizer folds them, oldest first, into a
summary and a few facts attached to the last message it read. Memory is derived data: if the
Summarizer fails, nothing is stored and the same turns are simply still uncovered next turn.
"""

from __future__ import annotations

from typing import Any

from qualia_cli.agents.summarizer import MemoryNotes
from qualia_cli.memory.view import MemoryView
from qualia_cli.store.memory import MemoryRecord, MemoryStore, NewMemory
from qualia_cli.store.records import Message


def turn_groups(messages: list[Message]) -> list[list[Message]]:
    """Consecutive messages grouped by turn (the opening is one group)."""
    groups: list[list[Message]] = []
    for m in messages:
        if groups and groups[-1][0].turn_id == m.turn_id:
            groups[-1].append(m)
        else:
            groups.append([m])
    return groups


def window_start_id(history: list[Message], window_turns: int) -> int | None:
    """The first message of the last ``window_turns`` turns of ``history``."""
    groups = turn_groups(history)
    if not groups:
        return None
    return groups[-window_turns:][0][0].id


def plan_fold(view: MemoryView | None, partner_trace: dict[str, Any] | None) -> list[Message]:
    """The messages the Summarizer should fold this turn (empty: not due)."""
    if view is None or not view.settings.enabled or view.window_start_id is None:
        return []
    cfg = view.settings
    boundary = view.window_start_id
    shown = (partner_trace or {}).get("history") or {}
    first_shown = shown.get("first_id")
    overflow = False
    if shown.get("omitted") and (first_shown is None or first_shown > boundary):
        overflow = True
        boundary = first_shown if first_shown is not None else 2**62
    leaving = [m for m in view.uncovered if m.id < boundary]
    groups = turn_groups(leaving)
    need = max(1, cfg.summarize_every // 2) if overflow else cfg.summarize_every
    if len(groups) < need:
        return []
    return [m for group in groups[: cfg.max_fold_turns] for m in group]


def _turn_of(messages: list[Message]) -> dict[str | None, int]:
    turns: dict[str | None, int] = {None: 0}  # the opening
    for m in messages:
        snap = m.partner_state_snapshot or {}
        if "turn" in snap:
            turns[m.turn_id] = int(snap["turn"])
    return turns


def save_notes(
    memory: MemoryStore,
    session_id: str,
    fold: list[Message],
    trace: dict[str, Any] | None,
    notes: MemoryNotes,
) -> list[MemoryRecord]:
    """Store the Summarizer's notes, attached to the last message it actually read."""
    shown = (trace or {}).get("history") or {}
    first_id, last_id = shown.get("first_id"), shown.get("last_id")
    if last_id is None:
        return []
    read = [m for m in fold if first_id <= m.id <= last_id]
    turns = _turn_of(fold)
    turn_from = turns.get(read[0].turn_id) if read else None
    turn_to = turns.get(read[-1].turn_id) if read else None
    items: list[NewMemory] = []
    summary = notes.summary.strip()
    if summary or not notes.facts:
        items.append(NewMemory("summary", summary or "Nothing of note happened."))
    items += [NewMemory("fact", f) for f in notes.facts if f.strip()]
    return memory.add(
        session_id,
        last_id,
        items,
        covered_from=first_id,
        turn_from=turn_from,
        turn_to=turn_to,
    )
