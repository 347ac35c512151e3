"""Memory at length: prompt size per agent over a long session, context-build time and recall
latency at 10,000 messages.

uv run python benchmarks/memory_context.py [--turns 500] [--messages 10000] [--tokenizer]

1. plays a generated session of --turns turns through the real engine (scripted model for the
   agents and the summarizer) and reports each agent's prompt tokens at turns 30, 100 and the
   last (goal: last <= 1.2 x turn 30);
2. writes a session of --messages messages (with rewinds, so the branch has several segments,
   and a memory every 8 turns) and times preparing a turn's memory (branch memories, recall,
   uncovered turns) and building every agent's prompt (goal: a few ms);
3. times recall queries (FTS5 BM25 over the branch's messages and memories);
4. with --tokenizer: the Partner's prompt built with the embedded model's own tokenizer
   (llama.cpp /tokenize), cold (a fresh process, e.g. `qualia say`) and warm (a chat).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from typing import Any

from _common import table, temp_home

CHECKPOINTS = (30, 100)


def _ms(samples: list[float]) -> str:
    samples = sorted(samples)
    p95 = samples[max(0, int(len(samples) * 0.95) - 1)]
    return f"{statistics.median(samples):.2f} (min {samples[0]:.2f}, p95 {p95:.2f})"


async def long_session(turns: int) -> None:
    from fakes import ScriptedProvider
    from story_gen import StoryScript

    from qualia_cli.config import load_settings
    from qualia_cli.engine import Engine
    from qualia_cli.engine.turn.summary import TurnSummary
    from qualia_cli.llm.router import ModelRouter

    script = StoryScript(seed=3)
    settings = load_settings(models={"default": "fake/zero"})
    router = ModelRouter(settings)
    router.register("fake", ScriptedProvider(answers=script.answers()))
    engine = Engine(settings, router=router)
    session = engine.new_session("fogbound_archive")
    tokens: dict[int, dict[str, int]] = {}
    wall: list[float] = []
    memories = 0
    marks = {*CHECKPOINTS, turns}
    for n in range(1, turns + 1):
        summary = TurnSummary()
        t0 = time.perf_counter()
        text = script.player(n) if n < turns else "Do you remember my name?"
        async for event in engine.open_session(session.id).turn(text):
            summary.add(event)
        wall.append((time.perf_counter() - t0) * 1000)
        memories += len(summary.memories)
        if n in marks:
            tokens[n] = {a["agent"]: a["context"]["total"] for a in summary.agents}
    recalled = "Edmund Harlow" in str(engine.memory.search(session.id, "my name"))
    await engine.aclose()
    rows = []
    for agent in ("director", "partner", "visual", "strategist"):  # a short run has no turn 100
        first, mid, last = (tokens.get(t, {}).get(agent, 0) for t in (*CHECKPOINTS, turns))
        budget = settings.agent_budget(agent).context_tokens
        ratio = last / first if first else 0.0
        rows.append((agent, f"{first} / {mid} / {last} (budget {budget}, x{ratio:.2f})"))
    rows += [
        ("memories stored", str(memories)),
        ("turn-3 name found by recall at the end", "yes" if recalled else "NO"),
        ("engine ms/turn (scripted model)", _ms(wall)),
    ]
    table(f"prompt tokens at turns 30 / 100 / {turns} ({turns}-turn session)", rows)


def write_long_session(store: Any, scenario: Any, messages: int) -> tuple[str, int]:
    """A session of about ``messages`` messages; rewinds every 300 turns; memories every 8."""
    from story_gen import partner_line, player_line

    from qualia_cli.engine.turn.state import initial_state
    from qualia_cli.store.memory import NewMemory
    from qualia_cli.store.records import NewMessage, TurnRecord

    rng = random.Random(1)
    state = initial_state(scenario)
    record = store.create_session(
        title="bench",
        scenario_id=scenario.id,
        scenario_path=None,
        scenario=scenario.model_dump(mode="json"),
        genre=scenario.genre,
        narrative_pace="medium",
        content_rating="general",
        settings={},
        world_state={"facts": {}},
        partner=state,
        opening=[NewMessage("narrator", {"text": scenario.opening})],
    )
    head = record.head_message_id
    turn = 0
    heads: list[int] = []
    while store.count_messages(record.id) < messages:
        turn += 1
        if turn % 300 == 0 and len(heads) > 3:  # rewind three turns and carry on from there
            head = heads[-4]
            store.set_head(record.id, head, restore_state=False)
        text = "My name is Edmund Harlow." if turn == 3 else player_line(turn, rng)
        ids = store.commit_turn(
            TurnRecord(
                session_id=record.id,
                turn_id=f"t{turn}",
                expected_head=head,
                messages=[
                    NewMessage("player", {"text": text}),
                    NewMessage("narrator", {"text": "Rain on the windows."}),
                    NewMessage(
                        "partner",
                        {"dialogue": partner_line(rng), "action": "nods"},
                        partner_state_snapshot={"turn": turn},
                    ),
                ],
                partner_state=state,
                world_state={"facts": {}},
                agent_calls=[],
            )
        )
        head = ids[-1]
        heads.append(head)
        if turn % 8 == 0 and turn > 12:
            items = [NewMemory("summary", f"Turns {turn - 19} to {turn - 12}: the ledgers.")]
            if turn == 16:
                items.append(NewMemory("fact", "The player's name is Edmund Harlow."))
            store.memory.add(record.id, heads[-13], items, turn_from=turn - 19, turn_to=turn - 12)
    assert head is not None
    return record.id, head


def build_times(messages: int, runs: int, tokenizer: bool) -> None:
    from qualia_cli.agents.context import StoryContext
    from qualia_cli.agents.director import Director
    from qualia_cli.agents.partner import Partner
    from qualia_cli.agents.strategist import Strategist
    from qualia_cli.agents.summarizer import Summarizer
    from qualia_cli.agents.visual import Visual
    from qualia_cli.config import load_settings
    from qualia_cli.engine.story.session import HISTORY_WINDOW
    from qualia_cli.engine.turn.state import initial_state
    from qualia_cli.llm.router import ModelRouter
    from qualia_cli.memory.builder import build_prompt
    from qualia_cli.memory.service import MemoryService
    from qualia_cli.memory.summarize import plan_fold
    from qualia_cli.paths import bundled_scenarios_dir, get_paths
    from qualia_cli.scenario import load_scenario
    from qualia_cli.store import Store
    from qualia_cli.store.memory import fts_query

    settings = load_settings(models={"default": "fake/zero"})
    scenario = load_scenario(bundled_scenarios_dir() / "fogbound_archive.yaml")
    store = Store(get_paths().ensure().db_path)
    t0 = time.perf_counter()
    with store.db.atomic():  # one transaction: the benchmark is not about fsync
        session_id, head = write_long_session(store, scenario, messages)
    written = time.perf_counter() - t0
    service = MemoryService(store, settings, ModelRouter(settings))
    segments = len(store.memory.path(head))
    agents = [Director, Partner, Visual, Strategist, Summarizer]
    prepare_ms: list[float] = []
    build_ms: dict[str, list[float]] = {a.role: [] for a in agents}
    per_turn: list[float] = []
    players = ["What did the harbour master hide?", "Do you remember my name?", "Hm.", "Tea?"]
    for i in range(runs):
        t_turn = time.perf_counter()
        history = store.recent_branch(head, HISTORY_WINDOW)
        ctx = StoryContext(
            scenario=scenario,
            state=initial_state(scenario),
            world_state={"facts": {}},
            history=history,
            player_text=players[i % len(players)],
            turn=len(history),
            pace="medium",
            rating="general",
            extras={"max_stat_delta": 5},
        )
        t1 = time.perf_counter()
        ctx.memory = service._load(ctx, head, {})
        prepare_ms.append((time.perf_counter() - t1) * 1000)
        fold = plan_fold(ctx.memory, None) or history[:30]
        for agent in agents:
            t2 = time.perf_counter()
            budget = settings.agent_budget(agent.role).context_tokens
            build_prompt(
                agent, ctx, ctx.memory, budget, guidance="go on", dialogue="Hm.", fold=fold
            )
            build_ms[agent.role].append((time.perf_counter() - t2) * 1000)
        per_turn.append((time.perf_counter() - t_turn) * 1000)
    rows = [
        ("messages / branch segments", f"{store.count_messages(session_id)} / {segments}"),
        ("memories on the branch", str(len(store.memory.visible(head)))),
        ("writing the session (s)", f"{written:.1f}"),
        ("prepare: memories + recall + uncovered (ms)", _ms(prepare_ms)),
        *((f"build {role} prompt (ms)", _ms(v)) for role, v in build_ms.items()),
        ("whole context per turn, all agents (ms)", _ms(per_turn)),
    ]
    table(f"context build at {messages} messages ({runs} turns, estimate counter)", rows)

    mem = store.memory
    queries = ["name", "harbour master ledgers", "brass key tide tables night ferry", "zzz"]
    rows = []
    for words in queries:
        q = fts_query(words.split())
        samples = []
        for _ in range(runs):
            t = time.perf_counter()
            hits = mem.search_messages(head, q, limit=12) + mem.search_memories(head, q, limit=12)
            samples.append((time.perf_counter() - t) * 1000)
        rows.append((f"recall '{words}' ({len(hits)} hits) ms", _ms(samples)))
    table(f"recall latency at {messages} messages", rows)
    if tokenizer:
        tokenizer_times(ctx, settings.agent_budget("partner").context_tokens, runs)
    store.close()


def tokenizer_times(ctx: Any, budget: int, runs: int) -> None:
    from qualia_cli.agents.partner import Partner
    from qualia_cli.llm.local import get_local_server, resolve_gguf
    from qualia_cli.llm.tokens import LlamaServerCounter
    from qualia_cli.memory.builder import build_prompt

    server = get_local_server(resolve_gguf("smollm2"))
    cold: list[float] = []
    warm: list[float] = []
    for _ in range(max(3, runs // 10)):
        counter = LlamaServerCounter(server.address, server.api_key)
        ctx.memory.counters = {"partner": counter}
        for samples in (cold, warm):
            t = time.perf_counter()
            built = build_prompt(Partner, ctx, ctx.memory, budget, guidance="go on")
            samples.append((time.perf_counter() - t) * 1000)
        counter.close()
    rows = [
        ("partner prompt, cold cache (ms)", _ms(cold)),
        ("partner prompt, warm cache (ms)", _ms(warm)),
        ("prompt tokens (exact) / budget", f"{built.trace.total} / {budget}"),
    ]
    table("context build with the embedded model's tokenizer", rows)


async def main(turns: int, messages: int, runs: int, tokenizer: bool) -> None:
    temp_home()
    await long_session(turns)
    build_times(messages, runs, tokenizer)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--turns", type=int, default=500)
    p.add_argument("--messages", type=int, default=10_000)
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--tokenizer", action="store_true", help="also time the embedded tokenizer")
    args = p.parse_args()
    asyncio.run(main(args.turns, args.messages, args.runs, args.tokenizer))
