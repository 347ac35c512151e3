"""Memory use cases for the front ends: show, edit, pin, search, import a lorebook."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from qualia_cli.memory.lore_import import LorebookImportError, lorebook_from_json
from qualia_cli.memory.recall import terms
from qualia_cli.scenario.models import Lorebook
from qualia_cli.store.errors import StoreError
from qualia_cli.store.memory import fts_query

if TYPE_CHECKING:
    from qualia_cli.engine.facade import Engine


class MemoryAdmin:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _session(self, session_id: str) -> tuple[str, int | None]:
        store = self._engine.store
        full = store.resolve_session_id(session_id)
        record = store.get_session(full)
        assert record is not None
        return full, record.head_message_id

    def show(self, session_id: str, *, all_branches: bool = False) -> dict[str, Any]:
        """The memories of the session's current branch (or of every branch)."""
        full, head = self._session(session_id)
        mem = self._engine.store.memory
        if all_branches:
            memories = mem.all_memories(full)
            visible = {m.id for m in mem.visible(head)} if head is not None else set()
        else:
            memories = mem.visible(head) if head is not None else []
            visible = {m.id for m in memories}
        return {
            "session": full,
            "head_message_id": head,
            "memories": [m.to_dict() | {"on_branch": m.id in visible} for m in memories],
        }

    def edit(self, session_id: str, memory_id: int, text: str) -> dict[str, Any]:
        full, _ = self._session(session_id)
        return self._engine.store.memory.update(full, memory_id, text=text).to_dict()

    def pin(self, session_id: str, memory_id: int, pinned: bool = True) -> dict[str, Any]:
        full, _ = self._session(session_id)
        return self._engine.store.memory.update(full, memory_id, pinned=pinned).to_dict()

    def search(self, session_id: str, query: str, *, limit: int = 8) -> list[dict[str, Any]]:
        """What recall finds on the current branch for ``query`` (messages and memories)."""
        _, head = self._session(session_id)
        q = fts_query(terms(query))
        if head is None or not q:
            return []
        mem = self._engine.store.memory
        hits = mem.search_messages(head, q, limit=limit) + mem.search_memories(head, q, limit=limit)
        hits.sort(key=lambda h: h.score)
        return [
            {
                "kind": h.kind,
                "id": h.id,
                "score": round(h.score, 3),
                "sender": h.sender,
                "text": h.text,
            }
            for h in hits[:limit]
        ]

    @staticmethod
    def import_lorebook(path: Path) -> Lorebook:
        """A SillyTavern card / character book / world-info JSON file as a qualia lorebook."""
        from qualia_cli.scenario.errors import ScenarioError
        from qualia_cli.scenario.safe_read import parse_json, read_text

        try:
            data = parse_json(read_text(path, limit=MAX_LOREBOOK_BYTES, what="lorebook"), str(path))
        except ScenarioError as err:
            raise LorebookImportError(str(err)) from None
        try:
            return lorebook_from_json(data)
        except LorebookImportError as err:
            raise LorebookImportError(f"{path}: {err}") from None


MAX_LOREBOOK_BYTES = 16_000_000

__all__ = ["LorebookImportError", "MemoryAdmin", "StoreError"]
