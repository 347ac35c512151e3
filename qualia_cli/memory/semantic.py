"""Semantic recall: embed what is not embedded yet, search by meaning, fuse with BM25.

Vectors are written lazily: each turn first embeds (a bounded number of) the session's
messages and memories that have no vector from the configured embedder, then the player's
words, then searches the branch (store/vectors.py). Hybrid recall fuses the BM25 list and the
vector list by reciprocal rank fusion (RRF: each side's rank r adds 1 / (RRF_K + r)), so
neither side's raw scores need to be comparable; each side's best match goes first.
Everything here is an aid: a failing embedder leaves the turn with lexical recall
(memory/service.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace

from qualia_cli.llm.embeddings import Embedder
from qualia_cli.store import Store
from qualia_cli.store.memory import RecallHit

RRF_K = 60  # the usual constant: damps the weight of the very first ranks
BACKFILL_PER_TURN = 128  # most items a turn embeds before searching (reindex does the rest)
REINDEX_BATCH = 64


def fuse(lexical: list[RecallHit], semantic: list[RecallHit], limit: int) -> list[RecallHit]:
    """Reciprocal rank fusion of two best-first lists; a hit keeps both sides' scores."""
    fused: dict[tuple[str, int], RecallHit] = {}
    for side, hits in (("lexical", lexical), ("semantic", semantic)):
        for rank, hit in enumerate(hits, start=1):
            key = (hit.kind, hit.id)
            gain = 1.0 / (RRF_K + rank)
            seen = fused.get(key)
            if seen is None:
                fused[key] = replace(
                    hit,
                    score=gain,
                    source=side,
                    bm25=hit.score if side == "lexical" else None,
                    distance=hit.score if side == "semantic" else None,
                )
            else:
                seen.score += gain
                seen.source = "both"
                if side == "semantic":
                    seen.distance = hit.score
                else:
                    seen.bm25 = hit.score
    ordered = sorted(fused.values(), key=lambda h: -h.score)
    # each side's best match leads: a snippet only one side can find (a paraphrase, a rare
    # name) must not be crowded out by snippets both sides find half-way
    firsts = [fused[(h.kind, h.id)] for h in (lexical[:1] + semantic[:1])]
    leaders = sorted({id(h): h for h in firsts}.values(), key=lambda h: -h.score)
    ordered = leaders + [h for h in ordered if all(h is not x for x in leaders)]
    return ordered[:limit]


def as_side(hits: list[RecallHit], side: str) -> list[RecallHit]:
    """Hits of one side alone, labelled with it (their score stays the side's own)."""
    field = "bm25" if side == "lexical" else "distance"
    return [replace(h, source=side, **{field: h.score}) for h in hits]


async def backfill(
    store: Store,
    embedder: Embedder,
    session_id: str,
    *,
    limit: int | None = BACKFILL_PER_TURN,
    batch: int = REINDEX_BATCH,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Embed the session's messages and memories that have no vector from ``embedder`` (at
    most ``limit``; None: all); returns how many were stored. Each batch is written in its own
    transaction, so an interrupted run keeps what it finished."""
    done = 0
    while limit is None or done < limit:
        want = batch if limit is None else min(batch, limit - done)
        pending = await asyncio.to_thread(
            store.vectors.pending, session_id, embedder.name, limit=want
        )
        if not pending:
            break
        vectors = await embedder.embed([p.text for p in pending])
        pairs = list(zip(pending, vectors, strict=True))
        written = await asyncio.to_thread(store.vectors.put, session_id, embedder.name, pairs)
        done += len(pending)
        if progress is not None:
            progress(len(pending))
        if len(pending) < want or written == 0:  # nothing left, or only texts edited meanwhile
            break
    return done
