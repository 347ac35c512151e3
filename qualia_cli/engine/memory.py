"""Memory use cases for the front ends: show, edit, pin, search (lexical, semantic, hybrid),
reindex the vectors, import a lorebook."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qualia_cli.config import ConfigError
from qualia_cli.llm.embeddings import Embedder, make_embedder
from qualia_cli.memory.lore_import import LorebookImportError, lorebook_from_json
from qualia_cli.memory.recall import terms
from qualia_cli.memory.semantic import as_side, backfill, fuse
from qualia_cli.scenario.models import Lorebook
from qualia_cli.store.errors import StoreError
from qualia_cli.store.memory import RecallHit, fts_query
from qualia_cli.store.vectors import unavailable_reason

if TYPE_CHECKING:
    from qualia_cli.config import Settings
    from qualia_cli.llm.router import ModelRouter
    from qualia_cli.store import Store


RECALL_MODES = ("lexical", "semantic", "hybrid")


def _hit_dict(h: RecallHit) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": h.kind,
        "id": h.id,
        "score": round(h.score, 3 if h.source == "lexical" else 4),
        "from": h.source,
    }
    if h.source != "lexical":
        out["bm25"] = None if h.bm25 is None else round(h.bm25, 3)
        out["distance"] = None if h.distance is None else round(h.distance, 4)
    return out | {"sender": h.sender, "text": h.text}


class MemoryAdmin:
    """The memories of saved sessions, for `qualia memory …`; ``Engine`` holds one as
    ``engine.memory`` (the store is given as a provider: the database opens on first use)."""

    def __init__(self, settings: Settings, store: Callable[[], Store], router: ModelRouter) -> None:
        self.settings = settings
        self.router = router
        self._store = store

    @property
    def store(self) -> Store:
        return self._store()

    def _session(self, session_id: str) -> tuple[str, int | None]:
        store = self.store
        full = store.resolve_session_id(session_id)
        record = store.get_session(full)
        assert record is not None
        return full, record.head_message_id

    def show(self, session_id: str, *, all_branches: bool = False) -> dict[str, Any]:
        """The memories of the session's current branch (or of every branch)."""
        full, head = self._session(session_id)
        mem = self.store.memory
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
        return self.store.memory.update(full, memory_id, text=text).to_dict()

    def pin(self, session_id: str, memory_id: int, pinned: bool = True) -> dict[str, Any]:
        full, _ = self._session(session_id)
        return self.store.memory.update(full, memory_id, pinned=pinned).to_dict()

    def search(
        self, session_id: str, query: str, *, limit: int = 8, mode: str | None = None
    ) -> list[dict[str, Any]]:
        """What recall finds on the current branch for ``query`` (messages and memories):
        ``lexical`` (FTS5 BM25), ``semantic`` (nearest vectors) or ``hybrid`` (both, fused);
        None: what turns use (``memory.recall_mode`` with an embedder, else lexical)."""
        if mode is None:
            cfg = self.settings.memory
            mode = cfg.recall_mode if cfg.embedder else "lexical"
        if mode != "lexical":
            return asyncio.run(self.asearch(session_id, query, limit=limit, mode=mode))
        _, head = self._session(session_id)
        return [_hit_dict(h) for h in self._lexical(head, query, limit)]

    def _lexical(self, head: int | None, query: str, limit: int) -> list[RecallHit]:
        q = fts_query(terms(query))
        if head is None or not q:
            return []
        mem = self.store.memory
        hits = mem.search_messages(head, q, limit=limit) + mem.search_memories(head, q, limit=limit)
        hits.sort(key=lambda h: h.score)
        return hits[:limit]

    async def asearch(
        self, session_id: str, query: str, *, limit: int = 8, mode: str = "hybrid"
    ) -> list[dict[str, Any]]:
        """``search`` for any mode; semantic modes embed what is missing first."""
        if mode not in RECALL_MODES:
            raise ConfigError(f"unknown recall mode '{mode}': use one of {', '.join(RECALL_MODES)}")
        full, head = self._session(session_id)
        lexical = self._lexical(head, query, limit) if mode != "semantic" else []
        if mode == "lexical":
            return [_hit_dict(h) for h in lexical]
        store = self.store
        embedder = self._embedder()
        try:
            await backfill(store, embedder, full, limit=None)
            if head is None or not query.strip():
                return []
            vector = (await embedder.embed([query]))[0]
        finally:
            await embedder.aclose()
        semantic = await asyncio.to_thread(
            store.vectors.search, head, embedder.name, vector, limit=limit
        )
        hits = (
            as_side(semantic, "semantic") if mode == "semantic" else fuse(lexical, semantic, limit)
        )
        return [_hit_dict(h) for h in hits]

    def _embedder(self) -> Embedder:
        name = self.settings.memory.embedder
        if not name:
            raise ConfigError(
                "semantic recall needs an embeddings model: set memory.embedder in config.yaml "
                "(e.g. ollama/nomic-embed-text) or QUALIA_MEMORY__EMBEDDER"
            )
        if not self.store.vec_available:
            raise StoreError(f"semantic recall is unavailable: {unavailable_reason()}")
        return make_embedder(self.router, name)

    async def reindex(
        self,
        session_ids: list[str] | None,
        *,
        force: bool = False,
        on_start: Callable[[str, int], None] | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Embed every message and memory of the sessions (None: all) with the configured
        embedder, dropping the vectors other embedders made (``force``: this one's too).

        The embedder is tried first: if it cannot answer, nothing is changed (``LLMError``).
        """
        store = self.store
        if session_ids is None:
            targets = [s.id for s in store.list_sessions(include_archived=True)]
        else:
            targets = [store.resolve_session_id(s) for s in session_ids]
        embedder = self._embedder()
        out: list[dict[str, Any]] = []
        try:
            await embedder.embed(["ping"])  # unreachable or broken: refuse before any change
            for sid in targets:
                vec = store.vectors
                dropped = await asyncio.to_thread(
                    vec.drop_other_models, sid, "" if force else embedder.name
                )
                total = await asyncio.to_thread(vec.count_pending, sid, embedder.name)
                if on_start is not None:
                    on_start(sid, total)
                done = await backfill(store, embedder, sid, limit=None, progress=on_progress)
                out.append(
                    {
                        "session": sid,
                        "embedder": embedder.name,
                        "embedded": done,
                        "dropped": dropped,
                        "vectors": await asyncio.to_thread(vec.count, sid, embedder.name),
                    }
                )
        finally:
            await embedder.aclose()
        return out

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
