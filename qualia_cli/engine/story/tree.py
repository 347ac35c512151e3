"""The whole story of a session as a tree of turns, for front ends to show and move through.

A session's messages form a tree (see ``branching``). Grouped by turn it becomes a tree of
*turns*: the opening at the root, each turn under the turn it continued. A turn with several
children has alternatives (regenerated replies, edits, branches). ``StoryTree`` is read in one
query over the session's messages (ids, parents, senders and the first words only), so it costs
a few milliseconds at 10,000 messages; front ends then show it lazily, a branch at a time.

``run`` follows a branch from a turn down to its last turn, taking at each fork the child on
the current path (else the newest one); ``forks`` names the other children. ``redo`` moves the
head forward again after a rewind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from qualia_cli.engine.story.branching import TURN_SPAN, SessionActionError

if TYPE_CHECKING:
    from qualia_cli.engine.story.session import GameSession
    from qualia_cli.store import Store
    from qualia_cli.store.records import Message, SessionRecord


@dataclass
class TurnNode:
    """One turn of the tree (the opening is turn 0)."""

    first_id: int  # its first message: the turn's id in the tree
    last_id: int  # its last message: continuing "from this turn" hangs under it
    parent: int | None  # first_id of the turn it continued (None: the opening)
    number: int  # how many turns deep it is (the opening: 0)
    player: str = ""  # what the player said (opening words)
    reply: str = ""  # what the partner answered, or the narration
    children: list[int] = field(default_factory=list)  # first_ids of the next turns, oldest first


@dataclass
class StoryTree:
    turns: dict[int, TurnNode]
    root: int | None  # the opening turn
    head_turn: int | None  # the turn holding the session's head
    on_path: set[int]  # turns from the opening to the head

    @property
    def size(self) -> int:
        return len(self.turns)

    def primary(self, turn: int) -> int | None:
        """The child of ``turn`` a branch continues with: the one on the current path, else
        the newest."""
        children = self.turns[turn].children
        if not children:
            return None
        on = [c for c in children if c in self.on_path]
        return on[0] if on else children[-1]

    def run(self, start: int) -> list[int]:
        """Turns from ``start`` down to the end of its branch (primary children)."""
        out = [start]
        while (nxt := self.primary(out[-1])) is not None:
            out.append(nxt)
        return out

    def forks(self, turn: int) -> list[int]:
        """The alternatives of ``turn``: its siblings (other children of its parent)."""
        parent = self.turns[turn].parent
        if parent is None:
            return []
        return [c for c in self.turns[parent].children if c != turn]

    def alternative_index(self, turn: int) -> tuple[int, int]:
        """(1-based position, count) of ``turn`` among its parent's children."""
        parent = self.turns[turn].parent
        if parent is None:
            return 1, 1
        children = self.turns[parent].children
        return children.index(turn) + 1, len(children)

    def path_to(self, turn: int) -> list[int]:
        """Turns from the opening down to ``turn``."""
        out = [turn]
        while (parent := self.turns[out[-1]].parent) is not None:
            out.append(parent)
        return out[::-1]


def story_tree(session: GameSession) -> StoryTree:
    """Read the turn tree of ``session`` (one query; no message contents beyond first words)."""
    session.refresh()
    rows = session.store.outline(session.id)
    turn_of: dict[int, int] = {}  # message id -> first_id of its turn
    key_of: dict[int, str | None] = {}
    turns: dict[int, TurnNode] = {}
    root: int | None = None
    for r in rows:
        mid, parent, turn_id = int(r["id"]), r["parent_id"], r["turn_id"]
        key_of[mid] = turn_id
        if parent is not None and parent in turn_of and key_of[parent] == turn_id:
            first = turn_of[parent]
            node = turns[first]
            if mid > node.last_id:
                node.last_id = mid
        else:
            first = mid
            parent_turn = turn_of.get(parent) if parent is not None else None
            number = turns[parent_turn].number + 1 if parent_turn is not None else 0
            node = TurnNode(first, mid, parent_turn, number)
            turns[first] = node
            if parent_turn is not None:
                turns[parent_turn].children.append(first)
            elif root is None:
                root = first
        turn_of[mid] = first
        text = " ".join(str(r["text"] or "").split())
        if r["sender"] == "player" and not node.player:
            node.player = text
        elif r["sender"] == "partner" or (r["sender"] == "narrator" and not node.reply):
            node.reply = text
    head = session.record.head_message_id
    head_turn = turn_of.get(head) if head is not None else None
    on_path: set[int] = set()
    cursor = head_turn
    while cursor is not None:
        on_path.add(cursor)
        cursor = turns[cursor].parent
    return StoryTree(turns, root, head_turn, on_path)


def branch_turns(store: Store, record: SessionRecord) -> int:
    """How many turns the session's current branch holds (not counting other branches).

    Each turn's snapshot records its number on its branch; the last one near the head says it.
    """
    head = record.head_message_id
    if head is None:
        return 0
    for message in reversed(store.recent_branch(head, TURN_SPAN, traces=False)):
        snap = message.partner_state_snapshot
        if snap and "turn" in snap:
            return int(snap["turn"])
    return 0


def redo(session: GameSession, prefer: int | None = None) -> int:
    """Move the head forward one turn after a rewind; returns the new head.

    ``prefer`` (the end of a turn undone earlier) is taken when it continues the head; otherwise
    the newest turn played from the head.
    """
    session.refresh()
    head = session.record.head_message_id
    if head is None:
        raise SessionActionError("nothing to redo")
    if prefer is not None:
        turn = session.turn_of(prefer)
        if turn and turn[0].parent_id == head and turn[0].session_id == session.id:
            return session.branch_at(prefer)
    later = [c for c in session.store.children(head) if c.turn_id is not None]
    if not later:
        raise SessionActionError("nothing to redo: no turn was played after this one")
    return session.branch_at(later[-1].id)


def branch_after(session: GameSession, after_id: int, limit: int) -> tuple[list[Message], bool]:
    """Up to ``limit`` messages of the current branch after ``after_id`` (0: from the opening),
    oldest first, and whether more follow up to the head."""
    head = session.record.head_message_id
    if head is None:
        return [], False
    found = session.store.memory.branch_messages(head, after=after_id, limit=limit + 1)
    return found[:limit], len(found) > limit


@dataclass(frozen=True)
class SearchHit:
    message_id: int
    sender: str
    snippet: str  # the matched words in [brackets]
    on_path: bool  # on the branch shown now


def search(session: GameSession, text: str, limit: int = 50) -> list[SearchHit]:
    """Messages of ``session`` (every branch) matching all the words of ``text``, best first."""
    words = re.findall(r"\w+", text)
    if not words:
        return []
    query = " ".join('"' + w.replace('"', '""') + '"' for w in words)
    rows = session.store.search_session(session.id, query, limit)
    head = session.record.head_message_id
    path = set(session.store.memory.on_branch(head, [r["id"] for r in rows])) if head else set()
    return [
        SearchHit(int(r["id"]), str(r["sender"]), str(r["snippet"] or ""), r["id"] in path)
        for r in rows
    ]
