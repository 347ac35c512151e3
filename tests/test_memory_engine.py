"""Memory in the turn loop (scripted model): long sessions, summarizer, branches, traces."""

from __future__ import annotations

from typing import Any

import pytest
from fakes import ScriptedProvider, failing
from story_gen import StoryScript, summarize
from support.engine import Engines

from qualia_cli.engine import Engine
from qualia_cli.engine import events as ev
from qualia_cli.engine.turn.summary import TurnSummary
from qualia_cli.llm.base import Request


async def turn(engine: Engine, session_id: str, text: str) -> tuple[TurnSummary, list[ev.Event]]:
    summary = TurnSummary()
    events = []
    async for event in engine.open_session(session_id).turn(text):
        summary.add(event)
        events.append(event)
    assert summary.ok, summary.failure
    return summary, events


def prompt_of(provider: ScriptedProvider, agent: str, index: int = -1) -> str:
    request = [r for r in provider.requests if r.agent == agent][index]
    return "\n".join(m["content"] for m in request.messages)


def budgets(engine: Engine) -> dict[str, int]:
    return {r: engine.settings.agent_budget(r).context_tokens for r in engine.settings.agents}


@pytest.mark.slow  # 300 turns (over a second)
async def test_a_fact_from_turn_3_reaches_the_partner_at_turn_300(engines: Engines) -> None:
    script = StoryScript(seed=11, name="Edmund Harlow")
    provider = ScriptedProvider(answers=script.answers())
    engine = engines(provider)
    session = engine.new_session("fogbound_archive")
    limits = budgets(engine)
    stored = 0
    for n in range(1, 300):
        summary, _ = await turn(engine, session.id, script.player(n))
        assert not summary.errors, summary.errors
        stored += len(summary.memories)
        for agent in summary.agents:  # every prompt, every turn, within its agent's budget
            context = agent["context"]
            assert context["total"] <= limits[agent["agent"]], (n, agent["agent"], context)
    assert stored >= 30, "the summarizer folds older turns as they leave the window"
    assert "Edmund Harlow" not in prompt_of(provider, "partner"), "not in the recent turns"

    summary, _ = await turn(engine, session.id, "Do you still remember my name?")
    assert "Edmund Harlow" in prompt_of(provider, "partner")
    partner = next(a for a in summary.agents if a["agent"] == "partner")
    recalled = partner["context"]["recalled"]
    memory = engine.memory.show(session.id)["memories"]
    texts = {m["id"]: m["text"] for m in memory}
    via_memory = [r for r in recalled if r["kind"] == "memory" and "Edmund" in texts[r["id"]]]
    via_message = [r for r in recalled if r["kind"] == "message"]
    assert via_memory, "the summarizer kept the name as a fact, and recall found it"
    found = engine.memory.search(session.id, "name Edmund")
    assert any(h["kind"] == "message" and "My name is Edmund" in h["text"] for h in found)
    assert any(r["id"] == h["id"] for r in via_message for h in found if h["kind"] == "message")
    # the director is offered the same recall; the strategist is not
    director = next(a for a in summary.agents if a["agent"] == "director")
    assert director["context"]["recalled"]
    assert "Edmund Harlow" in prompt_of(provider, "director")


@pytest.mark.slow  # dozens of turns (over a second)
async def test_recall_alone_carries_the_fact_when_the_summarizer_is_off(
    engines: Engines,
) -> None:
    script = StoryScript(seed=5, name="Olga Brandt")
    provider = ScriptedProvider(answers=script.answers())
    engine = engines(provider, settings={"memory": {"summarize_every": 200}})
    session = engine.new_session("fogbound_archive")
    for n in range(1, 60):
        await turn(engine, session.id, script.player(n))
    summary, _ = await turn(engine, session.id, "What was my name again?")
    assert engine.memory.show(session.id)["memories"] == []
    assert "- Player: My name is Olga Brandt" in prompt_of(provider, "partner")
    partner = next(a for a in summary.agents if a["agent"] == "partner")
    assert next(r["kind"] for r in partner["context"]["recalled"]) == "message"


@pytest.mark.slow  # four turns of 0.3 s agents (over a second)
async def test_summarizer_runs_beside_visual_and_strategist(engines: Engines) -> None:
    script = StoryScript()
    provider = ScriptedProvider(
        answers=script.answers(), delays={"visual": 0.3, "strategist": 0.3, "summarizer": 0.3}
    )
    engine = engines(provider, settings={"memory": {"window_turns": 2, "summarize_every": 2}})
    session = engine.new_session("fogbound_archive")
    for n in range(1, 5):
        summary, events = await turn(engine, session.id, script.player(n))
    assert summary.memories, "due after two turns left a two-turn window"
    kinds = [e.type for e in events]
    first, stored = kinds.index("turn_committed"), kinds.index("memory_stored")
    assert first < stored < kinds.index("extras_committed"), "the fold is an extra"
    last = {s.agent: s for s in provider.spans[-4:]}
    assert set(last) == {"partner", "visual", "strategist", "summarizer"}
    p, v, st, su = (last[k] for k in ("partner", "visual", "strategist", "summarizer"))
    assert su.start >= p.end, "the summarizer never delays the partner's reply"
    overlap = min(v.end, st.end, su.end) - max(v.start, st.start, su.start)
    assert overlap > 0.2, f"the three post-partner agents run side by side ({overlap:.3f}s)"


def _garbage(request: Request) -> str:
    return "I am not JSON at all"


@pytest.mark.parametrize("bad", [failing(), _garbage], ids=["error", "garbage"])
async def test_summarizer_failure_degrades_without_losing_the_turn(
    engines: Engines, bad: Any
) -> None:
    script = StoryScript()
    answers = script.answers() | {"summarizer": bad}
    provider = ScriptedProvider(answers=answers)
    engine = engines(provider, settings={"memory": {"window_turns": 2, "summarize_every": 2}})
    session = engine.new_session("fogbound_archive")
    failures = 0
    for n in range(1, 7):
        summary, events = await turn(engine, session.id, script.player(n))
        errors = [e["agent"] for e in summary.errors]
        failures += errors.count("summarizer")
        assert set(errors) <= {"summarizer"}
        assert not any(isinstance(e, ev.MemoryStored) for e in events)
        assert summary.reply and events[-1].type == "extras_committed"
    assert failures >= 3, "it is retried each turn while the turns stay uncovered"
    assert engine.open_session(session.id).record.turns == 6
    assert engine.memory.show(session.id)["memories"] == []
    calls = [c for c in engine.agent_calls(session.id) if c["agent"] == "summarizer"]
    assert calls and not any(c["ok"] for c in calls)

    # once it works again it folds from the oldest uncovered turn: nothing was lost
    answers["summarizer"] = summarize
    summary, _ = await turn(engine, session.id, script.player(7))
    assert summary.memories and not summary.errors
    first = engine.open_session(session.id).history(200)
    assert summary.memories[0]["covered_from"] == first[0].id


async def test_storing_memories_may_fail_without_losing_the_turn(
    engines: Engines, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qualia_cli.memory.service import MemoryService

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk full")

    monkeypatch.setattr(MemoryService, "save", broken)
    script = StoryScript()
    engine = engines(
        ScriptedProvider(answers=script.answers()),
        settings={"memory": {"window_turns": 1, "summarize_every": 1}},
    )
    session = engine.new_session("fogbound_archive")
    for n in range(1, 4):
        summary, _ = await turn(engine, session.id, script.player(n))
        assert summary.ok and summary.memories == []
    assert engine.open_session(session.id).record.turns == 3


async def test_memory_belongs_to_the_branch_after_a_rewind(engines: Engines) -> None:
    script = StoryScript()
    provider = ScriptedProvider(answers=script.answers())
    engine = engines(provider, settings={"memory": {"window_turns": 2, "summarize_every": 2}})
    session = engine.new_session("fogbound_archive")
    store = engine.store
    await turn(engine, session.id, "Good evening.")
    fork = engine.open_session(session.id).record.head_message_id
    assert fork is not None
    # branch A
    await turn(engine, session.id, "My name is Alice Moreau.")
    for n in range(3, 9):
        await turn(engine, session.id, script.player(n))
    head_a = engine.open_session(session.id).record.head_message_id
    a_texts = [m["text"] for m in engine.memory.show(session.id)["memories"]]
    assert any("Alice Moreau" in t for t in a_texts)

    # rewind to before Alice was mentioned: her memory is not part of this point
    store.set_head(session.id, fork)
    at_fork = engine.memory.show(session.id)["memories"]
    assert all(m["message_id"] <= fork for m in at_fork)  # only what covers the fork's past
    assert len(at_fork) < len(a_texts) and not any("Alice" in m["text"] for m in at_fork)
    summary, _ = await turn(engine, session.id, "My name is Bruno Kessler.")
    partner = next(a for a in summary.agents if a["agent"] == "partner")
    assert {m["id"] for m in partner["context"]["memories"]} <= {m["id"] for m in at_fork}
    assert "Alice" not in prompt_of(provider, "partner")
    for n in range(3, 9):
        await turn(engine, session.id, script.player(n))
    b_texts = [m["text"] for m in engine.memory.show(session.id)["memories"]]
    assert any("Bruno Kessler" in t for t in b_texts)
    assert not any("Alice" in t for t in b_texts)
    summary, _ = await turn(engine, session.id, "Do you remember my name?")
    assert "Bruno Kessler" in prompt_of(provider, "partner")
    assert "Alice" not in prompt_of(provider, "partner")

    # back on branch A, its own memories return (and recall searches branch A only)
    store.set_head(session.id, head_a)  # type: ignore[arg-type]
    shown = engine.memory.show(session.id)
    assert [m["text"] for m in shown["memories"]] == a_texts
    everything = engine.memory.show(session.id, all_branches=True)["memories"]
    assert len(everything) > len(a_texts)
    assert {m["on_branch"] for m in everything} == {True, False}
    await turn(engine, session.id, "Do you remember my name?")
    assert "Alice Moreau" in prompt_of(provider, "partner")
    assert "Bruno" not in prompt_of(provider, "partner")


async def test_turn_trace_in_the_partner_message_and_turn_committed(engines: Engines) -> None:
    engine = engines(ScriptedProvider())
    session = engine.new_session("fogbound_archive")
    summary, events = await turn(engine, session.id, "Is the harbour master involved?")
    committed = events[-1]
    assert isinstance(committed, ev.ExtrasCommitted)  # the whole turn's agents
    by_agent = {a["agent"]: a["context"] for a in committed.agents}
    assert set(by_agent) == {"director", "partner", "visual", "strategist"}
    for role, context in by_agent.items():
        assert context["total"] <= engine.settings.agent_budget(role).context_tokens
        assert set(context["parts"]) == {"essentials", "lore", "memory", "recall", "history"}
        assert context["counter"] == "estimate"
    keys = {e["key"] for e in by_agent["partner"]["lore"]}
    assert keys == {"harbour master", "manifest(s)?"}  # the opening mentions the manifests
    assert by_agent["visual"]["history"]["messages"] == 0
    assert by_agent["partner"]["history"]["messages"] == 2  # the opening narration and line
    stored = engine.open_session(session.id)
    assert {c.agent: c.context for c in stored.turn_trace().calls} == by_agent
    assert "context" not in stored.history()[-1].content  # the turn's history leaves it out
    assert summary.to_dict()["agents"][0]["context"] == by_agent["director"]
