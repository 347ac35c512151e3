"""Semantic recall beside FTS5: recall@4 by paraphrase, added time per turn, database growth.

uv run python benchmarks/memory_recall.py [--embedder NAME ...] [--messages 10000]

1. recall@4: a 300-turn session (story_gen filler) with 20 facts the player states along the
   way (turns 10..200); at turn 300 each is asked back by a paraphrase that shares no content
   word with it (checked: the question's FTS query does not match the fact). A fact counts as
   recalled if its message is among the 4 best of lexical (FTS5 BM25), semantic (sqlite-vec
   cosine) or hybrid (reciprocal rank fusion, memory/semantic.py) recall on the branch.
2. added time per turn at --messages messages: what a turn adds beyond the embedder's own
   time (find the unembedded rows, store a turn's 2 vectors, search the branch, fuse), with
   384-dimension vectors; and the embedder's own time to embed a turn (query + 2 messages).
3. database growth per 1,000 messages: the file with vectors minus without.

Embedders: ``stand-in`` (tests/support/embeddings_stub.py over real HTTP: a concept lexicon,
not a language model; an upper bound for the plumbing, not a quality figure) and
``builtin/minilm`` (all-MiniLM-L6-v2 from its PyPI wheel, in-process; skipped if not
installed), or any ``provider/model`` name configured in config.yaml.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from typing import Any

from _common import table, temp_home

NOW = "2025-01-01T00:00:00.000000Z"
K = 4

# (what the player says, how it is asked 100+ turns later: no content word in common)
FACTS = [
    (
        "My sister Ilse drowned at Kestrel Point when we were children.",
        "Do you remember what happened to my family by the sea?",
    ),
    (
        "I keep my grandfather's pocket watch in my left boot.",
        "Where do I hide that old timepiece from my mother's father?",
    ),
    ("I am terrified of spiders since I was bitten in Brazil.", "Which creatures scare me?"),
    (
        "My first boat was called the Marianne and she sank in a storm.",
        "What became of the vessel I owned long ago?",
    ),
    ("I play the violin every night before sleeping.", "Which musical instrument do I practise?"),
    (
        "I owe forty silver crowns to a moneylender in Vell.",
        "How much do I still need to repay, and who is waiting for it?",
    ),
    ("My mother was a surgeon in the capital.", "What did the woman who raised me do for work?"),
    (
        "I broke my right arm falling from a horse at twelve.",
        "Which bone did I fracture as a kid, and how?",
    ),
    ("Sorrel is the name of my black cat.", "What do I call my pet?"),
    (
        "I was born on a lighthouse island in the northern fjords.",
        "Where is my birthplace?",
    ),
    (
        "I cannot swim; water deeper than my knees makes me panic.",
        "Am I able to stay afloat in a lake?",
    ),
    ("My favourite meal is smoked eel with rye bread.", "Which food do I like best?"),
    (
        "I lost two fingers to frostbite on a mountain expedition.",
        "Why is my hand missing some digits?",
    ),
    (
        "My brother Tomas works as a blacksmith in Harrowgate.",
        "What trade does my sibling practise?",
    ),
    (
        "I stole a chalice from the cathedral when I was seventeen.",
        "What crime did I commit as a teenager in church?",
    ),
    ("I am allergic to honey; my throat swells shut.", "Could something sweet from bees kill me?"),
    ("My wife left me for a sailor three winters ago.", "Why did my marriage end?"),
    (
        "I speak fluent Portuguese from my years in Lisbon.",
        "Which foreign language do I know well?",
    ),
    (
        "The scar on my cheek came from a duel with a fencing master.",
        "How did I get the mark on my face?",
    ),
    ("I dream every night of a burning library.", "What nightmare keeps coming back to me?"),
]


def _ms(samples: list[float]) -> str:
    samples = sorted(samples)
    p95 = samples[max(0, int(len(samples) * 0.95) - 1)]
    return f"{statistics.median(samples):.2f} ms (p95 {p95:.2f})"


def new_session(store: Any) -> tuple[str, int]:
    from qualia_cli.store import NewMessage, PartnerState

    record = store.create_session(
        title="bench",
        scenario_id="x",
        scenario_path=None,
        scenario={},
        genre="g",
        narrative_pace="medium",
        content_rating="general",
        settings={},
        world_state={},
        partner=PartnerState(name="Aki", stats={}, mood="calm"),
        opening=[NewMessage("narrator", {"text": "The harbour at dusk."})],
    )
    return record.id, record.head_message_id


def write_story(
    store: Any, session_id: str, root: int, turns: int, plant: bool
) -> tuple[int, dict[int, int]]:
    """``turns`` turns of filler (player + partner); facts planted at turns 10, 20, … 200.
    Returns the head and {fact index: message id}."""
    from story_gen import partner_line, player_line

    rng = random.Random(17)
    head = root
    planted: dict[int, int] = {}
    conn = store.conn
    sql = (
        "INSERT INTO messages (session_id, parent_id, sender, content, created_at) "
        "VALUES (?, ?, ?, ?, ?)"
    )
    with store.db.atomic():
        for turn in range(1, turns + 1):
            index = turn // 10 - 1
            fact = plant and turn % 10 == 0 and 0 <= index < len(FACTS)
            text = FACTS[index][0] if fact else player_line(turn, rng)
            head = int(
                conn.execute(
                    sql, [session_id, head, "player", json.dumps({"text": text}), NOW]
                ).lastrowid
                or 0
            )
            if fact:
                planted[index] = head
            reply = {"dialogue": partner_line(rng), "action": "taps the ledger"}
            head = int(
                conn.execute(sql, [session_id, head, "partner", json.dumps(reply), NOW]).lastrowid
                or 0
            )
    return head, planted


def lexical(store: Any, head: int, question: str, limit: int) -> list[Any]:
    from qualia_cli.memory.recall import terms
    from qualia_cli.store.memory import fts_query

    q = fts_query(terms(question))
    if not q:
        return []
    hits = store.memory.search_messages(head, q, limit=limit)
    hits += store.memory.search_memories(head, q, limit=limit)
    return sorted(hits, key=lambda h: h.score)[:limit]


async def recall_at_k(embedder: Any) -> dict[str, Any]:
    from qualia_cli.memory.recall import terms
    from qualia_cli.memory.semantic import backfill, fuse
    from qualia_cli.store import Store
    from qualia_cli.store.memory import fts_query

    home = temp_home()
    with Store(home / "recall.db") as store:
        sid, root = new_session(store)
        head, planted = write_story(store, sid, root, 300, plant=True)
        # the paraphrases really share no searchable word with their fact
        for i, (fact, question) in enumerate(FACTS):
            q = fts_query(terms(question))
            found = (
                store.conn.execute(
                    "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH ? AND rowid = ?",
                    [q, planted[i]],
                ).fetchone()[0]
                if q
                else 0
            )
            assert found == 0, f"fact {i} shares a word with its question: {fact} / {question}"
        started = time.perf_counter()
        embedded = await backfill(store, embedder, sid, limit=None)
        embed_s = time.perf_counter() - started
        scores = {"lexical": 0, "semantic": 0, "hybrid": 0}
        for i, (_fact, question) in enumerate(FACTS):
            lex = lexical(store, head, question, K + 8)
            vector = (await embedder.embed([question]))[0]
            sem = store.vectors.search(head, embedder.name, vector, limit=K + 8)
            hyb = fuse(lex, sem, K + 8)
            for name, hits in (("lexical", lex), ("semantic", sem), ("hybrid", hyb)):
                if planted[i] in [h.id for h in hits[:K] if h.kind == "message"]:
                    scores[name] += 1
    return {
        "recall": {k: v / len(FACTS) for k, v in scores.items()},
        "embedded": embedded,
        "embed_ms_per_text": 1000 * embed_s / max(1, embedded),
    }


async def turn_overhead(embedder: Any, messages: int) -> dict[str, Any]:
    """The database side of a turn at ``messages`` messages, with the embedder's real vectors
    for the turn and random ones (same dimension) for the past."""
    from qualia_cli.memory.semantic import fuse
    from qualia_cli.store import Store

    home = temp_home()
    path = home / "big.db"
    probe = (await embedder.embed(["probe"]))[0]
    dim = len(probe)
    rng = random.Random(5)
    with Store(path) as store:
        sid, root = new_session(store)
        head, _ = write_story(store, sid, root, messages // 2, plant=False)
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size_without = path.stat().st_size
        pending = store.vectors.pending(sid, embedder.name, limit=messages + 10)
        store.vectors.put(
            sid, embedder.name, [(p, [rng.gauss(0, 1) for _ in range(dim)]) for p in pending]
        )
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size_with = path.stat().st_size
        count = store.count_messages(sid)

        added: list[float] = []
        cpu: list[float] = []  # this process's CPU time: what the load of other work hides
        own: list[float] = []
        parts: dict[str, list[float]] = {
            k: [] for k in ("find unembedded", "store vectors (commit)", "vector search", "fusion")
        }
        questions = [q for _, q in FACTS]
        for n in range(30):
            question = questions[n % len(questions)]
            # the embedder's own time: this turn's two new messages and the query
            t0 = time.perf_counter()
            vectors = await embedder.embed([question, f"reply {n}", question])
            own.append(1000 * (time.perf_counter() - t0))
            # the rest: a new turn's rows, find and store their vectors, search, fuse
            mid = store.conn.execute(
                "INSERT INTO messages (session_id, parent_id, sender, content, created_at) "
                "VALUES (?, ?, 'player', ?, ?)",
                [sid, head, json.dumps({"text": question}), NOW],
            ).lastrowid
            store.conn.commit()
            head = int(mid or 0)
            c0 = time.process_time()
            t0 = time.perf_counter()
            todo = store.vectors.pending(sid, embedder.name, limit=128)
            t1 = time.perf_counter()
            store.vectors.put(sid, embedder.name, list(zip(todo, vectors, strict=False)))
            t2 = time.perf_counter()
            sem = store.vectors.search(head, embedder.name, vectors[-1], limit=K + 8)
            t3 = time.perf_counter()
            c3 = time.process_time()
            lex = lexical(store, head, question, K + 8)
            t4 = time.perf_counter()
            c4 = time.process_time()
            fuse(lex, sem, K + 8)
            t5 = time.perf_counter()
            c5 = time.process_time()
            cpu.append(1000 * (c5 - c0 - (c4 - c3)))
            added.append(1000 * (t5 - t0 - (t4 - t3)))  # lexical recall runs anyway
            parts["find unembedded"].append(1000 * (t1 - t0))
            parts["store vectors (commit)"].append(1000 * (t2 - t1))
            parts["vector search"].append(1000 * (t3 - t2))
            parts["fusion"].append(1000 * (t5 - t4))
        t_lex: list[float] = []
        for question in questions:
            t0 = time.perf_counter()
            lexical(store, head, question, K + 8)
            t_lex.append(1000 * (time.perf_counter() - t0))
    return {
        "messages": count,
        "dim": dim,
        "added": added,
        "cpu": cpu,
        "lexical": t_lex,
        "own": own,
        "parts": parts,
        "growth_per_1000": (size_with - size_without) / count * 1000,
    }


def make(name: str) -> tuple[Any, Any]:
    """(embedder, a context to close) for a benchmark name."""
    if name == "stand-in":
        from support.embeddings_stub import EmbeddingsServer

        from qualia_cli.llm.embeddings import HttpEmbedder

        server = EmbeddingsServer().__enter__()
        return HttpEmbedder("stand-in/concepts", server.base_url, "concepts"), server
    from qualia_cli.config import load_settings
    from qualia_cli.llm.embeddings import make_embedder
    from qualia_cli.llm.router import ModelRouter

    return make_embedder(ModelRouter(load_settings()), name), None


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--embedder", action="append", default=None)
    parser.add_argument("--messages", type=int, default=10_000)
    args = parser.parse_args()
    names = args.embedder or ["stand-in", "builtin/minilm"]
    import os

    for name in names:
        try:
            embedder, server = make(name)
            await embedder.embed(["ready?"])
        except Exception as err:
            print(f"{name}: skipped ({err})")
            continue
        try:
            r = await recall_at_k(embedder)
            o = await turn_overhead(embedder, args.messages)
        finally:
            await embedder.aclose()
            if server is not None:
                server.__exit__(None, None, None)
        rows = [
            ("recall@4 lexical (FTS5 BM25)", f"{r['recall']['lexical']:.2f}"),
            ("recall@4 semantic", f"{r['recall']['semantic']:.2f}"),
            ("recall@4 hybrid (RRF)", f"{r['recall']['hybrid']:.2f}"),
            (
                "embedding the 300-turn session",
                f"{r['embedded']} texts, {r['embed_ms_per_text']:.1f} ms/text",
            ),
            (f"added per turn at {o['messages']:,} messages", _ms(o["added"])),
            ("  the same in CPU time", _ms(o["cpu"])),
            *((f"  {k}", _ms(v)) for k, v in o["parts"].items()),
            ("lexical recall (runs anyway, not counted)", _ms(o["lexical"])),
            ("embedder's own time per turn (3 texts)", _ms(o["own"])),
            (
                f"DB growth per 1,000 messages ({o['dim']} dims)",
                f"{o['growth_per_1000'] / 1024:.0f} KiB",
            ),
            ("load (uptime)", " ".join(f"{x:.2f}" for x in os.getloadavg())),
        ]
        table(f"memory recall — {name}", rows)


if __name__ == "__main__":
    asyncio.run(main())
