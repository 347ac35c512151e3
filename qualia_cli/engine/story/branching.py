"""The message tree as the player sees it: regenerate, edit, rewind, branch, alternatives.

A turn is a short chain of messages sharing one ``turn_id`` (player → [narrator] → partner)
hanging under the message that was the head when it started. Regenerating or editing a turn
runs it again under the same parent, so the new turn is a *sibling* of the old one; the
siblings of a turn are its alternatives ("2/3"). Rewinding and switching move the head, and
the store restores the partner and world state recorded at the new head.

``BranchingMixin`` is mixed into ``GameSession``; every method here reads or moves the tree
through the Store, so a front end never touches the database itself.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from qualia_cli.errors import QualiaError

if TYPE_CHECKING:
    from qualia_cli.engine import events as ev
    from qualia_cli.store import Store
    from qualia_cli.store.records import Message, PartnerState, SessionRecord, TurnRecord

TURN_SPAN = 16  # more than the messages of any one turn


class SessionActionError(QualiaError):
    """A session action that cannot be done now (nothing to rewind, no such alternative…)."""


@dataclass(frozen=True)
class Alternatives:
    """The alternatives of one turn: the ids of their first messages and which one is shown."""

    ids: tuple[int, ...]
    index: int  # 0-based position of the shown alternative in `ids`

    @property
    def count(self) -> int:
        return len(self.ids)

    @property
    def label(self) -> str:
        return f"{self.index + 1}/{self.count}"


def branch_commit(store: Store, head: int | None, parent: int) -> Callable[[TurnRecord], list[int]]:
    """A commit function that hangs a turn under ``parent`` while checking the head is ``head``."""

    def commit(record: TurnRecord) -> list[int]:
        return store.commit_turn(replace(record, expected_head=head, branch_from=parent))

    return commit


class BranchingMixin:
    """Tree operations of a ``GameSession`` (see the module docstring)."""

    if TYPE_CHECKING:
        record: SessionRecord
        store: Store

        @property
        def id(self) -> str: ...

        @property
        def state(self) -> PartnerState: ...

        def refresh(self) -> None: ...

        def turn(
            self, text: str, *, nonce: str = "", parent_id: int | None = None
        ) -> AsyncIterator[ev.Event]: ...

    # -- reading the tree -------------------------------------------------------------------

    def state_at(self, message_id: int | None) -> tuple[PartnerState, dict[str, Any]]:
        """Partner and world state as they were at ``message_id`` (the head: as they are now)."""
        if message_id is None or message_id == self.record.head_message_id:
            return self.state, dict(self.record.world_state)
        found = self.store.state_at(message_id)
        if found is None:
            return self.state, dict(self.record.world_state)
        return found

    def turn_of(self, message_id: int) -> list[Message]:
        """The whole turn that ``message_id`` belongs to, first message first.

        The opening (messages written with the session, no turn id) counts as one turn.
        """
        upto = self.store.recent_branch(message_id, TURN_SPAN)
        if not upto:
            raise SessionActionError(f"no message {message_id} in session {self.id}")
        turn_id = upto[-1].turn_id
        chain: list[Message] = []
        for message in reversed(upto):
            if message.turn_id != turn_id:
                break
            chain.insert(0, message)
        # and down to the turn's last message
        while True:
            below = [c for c in self.store.children(chain[-1].id) if c.turn_id == turn_id]
            if not below:
                break
            chain.append(below[-1])
        return chain

    def last_turn(self) -> list[Message]:
        """The messages of the turn at the head; empty at the opening (nothing played yet)."""
        head = self.record.head_message_id
        if head is None:
            return []
        turn = self.turn_of(head)
        return turn if turn and turn[0].turn_id is not None else []

    def _require_last_turn(self, what: str) -> list[Message]:
        self.refresh()
        turn = self.last_turn()
        if not turn or turn[0].sender != "player" or turn[0].parent_id is None:
            raise SessionActionError(f"nothing to {what}: no turn has been played on this branch")
        return turn

    def alternatives(self, message_id: int | None = None) -> Alternatives:
        """The alternatives of the turn holding ``message_id`` (default: the head's turn)."""
        target = message_id if message_id is not None else self.record.head_message_id
        if target is None:
            return Alternatives((), 0)
        turn = self.turn_of(target)
        first = turn[0]
        if first.turn_id is None or first.parent_id is None:
            return Alternatives((first.id,), 0)
        siblings = [c.id for c in self.store.children(first.parent_id) if c.turn_id is not None]
        return Alternatives(tuple(siblings), siblings.index(first.id))

    # -- moving the head --------------------------------------------------------------------

    def _move_head(self, message_id: int) -> int:
        self.store.set_head(self.id, message_id, restore_state=True)
        self.refresh()
        return message_id

    def rewind(self) -> int:
        """Undo the last turn on this branch (it stays in the tree); returns the new head."""
        turn = self._require_last_turn("rewind")
        parent = turn[0].parent_id
        assert parent is not None
        return self._move_head(parent)

    def branch_at(self, message_id: int) -> int:
        """Continue the story from the end of the turn holding ``message_id``.

        What came after it stays in the tree (as another alternative of the next turn).
        """
        self.refresh()
        turn = self.turn_of(message_id)
        if turn[0].session_id != self.id:
            raise SessionActionError(f"message {message_id} is not part of session {self.id}")
        return self._move_head(turn[-1].id)

    def switch_alternative(self, step: int) -> Alternatives:
        """Show the alternative ``step`` places away (-1 previous, +1 next) of the head's turn."""
        self.refresh()
        alts = self.alternatives()
        target = alts.index + step
        if alts.count < 2 or not 0 <= target < alts.count:
            edge = "first" if target < 0 else "last"
            raise SessionActionError(f"this is the {edge} alternative (regenerate makes another)")
        return self.select_alternative(alts.ids[target])

    def select_alternative(self, first_message_id: int) -> Alternatives:
        """Show the alternative starting at ``first_message_id``: the head moves to its end.

        Turns played after it stay in the tree; playing on offers them as alternatives again.
        """
        self._move_head(self.turn_of(first_message_id)[-1].id)
        return self.alternatives()

    # -- re-running a turn ------------------------------------------------------------------

    async def regenerate(self) -> AsyncIterator[ev.Event]:
        """Run the last turn again from the same point: a new alternative (sibling)."""
        turn = self._require_last_turn("regenerate")
        text = turn[0].said
        async for event in self.turn(text, parent_id=turn[0].parent_id, nonce=_nonce()):
            yield event

    async def edit_last(self, text: str) -> AsyncIterator[ev.Event]:
        """Replace the last thing the player said with ``text`` and run the turn again."""
        turn = self._require_last_turn("edit")
        async for event in self.turn(text, parent_id=turn[0].parent_id, nonce=_nonce()):
            yield event

    async def turn_from(self, message_id: int, text: str) -> AsyncIterator[ev.Event]:
        """Play ``text`` as a new turn after the end of the turn holding ``message_id``."""
        self.refresh()
        end = self.turn_of(message_id)[-1].id
        async for event in self.turn(text, parent_id=end, nonce=_nonce()):
            yield event


def _nonce() -> str:
    return uuid.uuid4().hex[:8]
