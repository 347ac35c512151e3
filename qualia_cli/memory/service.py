"""The memory layer as the engine uses it: prepare a turn's view, then store what was folded.

``prepare`` reads this branch's memories, searches the past for the player's words (FTS5,
BM25; with ``memory.embedder`` also by meaning, fused: memory/semantic.py), lists the turns
no memory covers yet, and picks a token counter per agent. It never fails a turn: if anything
goes wrong the turn runs without memory (and says so in the log).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from qualia_cli.agents.context import StoryContext
from qualia_cli.config import Settings
from qualia_cli.llm.embeddings import Embedder, make_embedder
from qualia_cli.llm.router import ModelRouter
from qualia_cli.llm.tokens import ESTIMATE, TokenCounter
from qualia_cli.memory.recall import recall_terms
from qualia_cli.memory.semantic import as_side, backfill, fuse
from qualia_cli.memory.summarize import save_notes, window_start_id
from qualia_cli.memory.view import MemoryView
from qualia_cli.store import Store
from qualia_cli.store.memory import MemoryRecord, RecallHit, fts_query
from qualia_cli.store.records import Message

log = logging.getLogger("qualia.memory")

MEMORY_WINDOW = 64  # pinned + newest memories offered to the builder (recall reaches the rest)
RECALL_EXTRA = 8  # fetched beyond `recall_results`: some are dropped as already shown


class MemoryService:
    def __init__(self, store: Store, settings: Settings, router: ModelRouter) -> None:
        self.store = store
        self.settings = settings
        self.router = router

    async def prepare(
        self, ctx: StoryContext, head_id: int | None, models: dict[str, str]
    ) -> MemoryView:
        cfg = self.settings.memory
        counters = await self.counters(models)
        if head_id is None or not cfg.enabled:
            return MemoryView(cfg, counters=counters)
        query_vector = await self._query_vector(ctx, head_id)
        try:
            return await asyncio.to_thread(self._load, ctx, head_id, counters, query_vector)
        except Exception:  # memory is an aid: a broken index must not stop the story
            log.exception("memory unavailable this turn")
            return MemoryView(cfg, counters=counters)

    async def _query_vector(self, ctx: StoryContext, head_id: int) -> list[float] | None:
        """Embed what is not embedded yet, then the player's words (None: lexical only)."""
        cfg = self.settings.memory
        if not cfg.embedder or cfg.recall_mode == "lexical" or not cfg.recall_results:
            return None
        text = ctx.player_text.strip() or " ".join(recall_terms(ctx)[1])
        if not text or not self.store.vec_available:
            return None
        try:
            embedder = make_embedder(self.router, cfg.embedder)
            try:
                # one deadline for the whole step: a slow embedder delays a turn by at most
                # embed_timeout_s (what was stored before it stays stored)
                return await asyncio.wait_for(
                    self._embed_turn(embedder, head_id, text), cfg.embed_timeout_s
                )
            finally:
                await embedder.aclose()
        except Exception as err:  # an unreachable embedder leaves lexical recall
            log.warning("semantic recall unavailable this turn: %s", err or type(err).__name__)
            return None

    async def _embed_turn(self, embedder: Embedder, head_id: int, text: str) -> list[float]:
        session_id = await asyncio.to_thread(self._session_of, head_id)
        await backfill(self.store, embedder, session_id)
        return (await embedder.embed([text]))[0]

    def _session_of(self, head_id: int) -> str:
        message = self.store.get_message(head_id)
        if message is None:
            raise LookupError(f"no message {head_id}")
        return message.session_id

    def _load(
        self,
        ctx: StoryContext,
        head_id: int,
        counters: dict[str, TokenCounter],
        query_vector: list[float] | None = None,
    ) -> MemoryView:
        cfg = self.settings.memory
        store = self.store.memory
        memories = store.visible(head_id, limit=MEMORY_WINDOW)
        covered_to = max((m.message_id for m in memories if m.source == "summarizer"), default=0)
        uncovered = store.branch_messages(head_id, after=covered_to, limit=cfg.max_fold_turns * 3)
        own, scene = recall_terms(ctx)
        recalled: list[RecallHit] = []
        if cfg.recall_results:
            recalled = self._recall(head_id, [own, scene])
            if query_vector is not None and cfg.embedder:
                recalled = self._with_semantic(head_id, recalled, query_vector, cfg.embedder)
        return MemoryView(
            settings=cfg,
            memories=memories,
            recalled=recalled,
            counters=counters,
            uncovered=uncovered,
            window_start_id=window_start_id(ctx.history, cfg.window_turns),
            covered_to=covered_to,
            query=" ".join(own + scene),
        )

    def _recall(self, head_id: int, queries: list[list[str]]) -> list[RecallHit]:
        """Matches for each query in turn (best first within each), without repeats."""
        k = self.settings.memory.recall_results + RECALL_EXTRA
        store = self.store.memory
        out: list[RecallHit] = []
        seen: set[tuple[str, int]] = set()
        for words in queries:
            query = fts_query(words)
            if len(out) >= k or not query:
                continue
            hits = store.search_messages(head_id, query, limit=k)
            hits += store.search_memories(head_id, query, limit=k)
            hits.sort(key=lambda h: h.score)  # BM25 in SQLite: more negative is better
            for hit in hits:
                if (hit.kind, hit.id) not in seen:
                    seen.add((hit.kind, hit.id))
                    out.append(hit)
        return out[:k]

    def _with_semantic(
        self, head_id: int, lexical: list[RecallHit], vector: list[float], model: str
    ) -> list[RecallHit]:
        """The semantic side alone, or fused with the lexical one (memory.recall_mode)."""
        k = self.settings.memory.recall_results + RECALL_EXTRA
        semantic = self.store.vectors.search(head_id, model, vector, limit=k)
        if self.settings.memory.recall_mode == "semantic":
            return as_side(semantic, "semantic")
        return fuse(lexical, semantic, k)

    async def counters(self, models: dict[str, str]) -> dict[str, TokenCounter]:
        """A counter per agent, the router's for its model (the embedded model's tokenizer,
        else the estimate), or the estimate everywhere when ``memory.tokenizer`` says so."""
        if self.settings.memory.tokenizer != "auto":
            return {role: ESTIMATE for role in models}
        by_model: dict[str, TokenCounter] = {}
        for name in set(models.values()):
            by_model[name] = await self.router.token_counter(name)
        return {role: by_model[name] for role, name in models.items()}

    def save(
        self,
        session_id: str,
        fold: list[Message],
        trace: dict[str, Any] | None,
        notes: Any,
    ) -> list[MemoryRecord]:
        return save_notes(self.store.memory, session_id, fold, trace, notes)
