"""Engine orchestration with a scripted model (order, concurrency, degradation, atomicity)."""

from __future__ import annotations

import sqlite3

import pytest
from fakes import ScriptedProvider, failing
from support.engine import Engines, turn_events

from qualia_cli.engine import BudgetExceeded, Engine
from qualia_cli.engine import events as ev
from qualia_cli.engine.turn.summary import TurnSummary


def db_counts(engine: Engine) -> tuple[int, int]:
    con = sqlite3.connect(engine.store.path)
    try:
        msgs = con.execute("select count(*) from messages").fetchone()[0]
        calls = con.execute("select count(*) from agent_calls").fetchone()[0]
    finally:
        con.close()
    return msgs, calls


async def test_events_in_order_and_turn_committed(engines: Engines) -> None:
    engine = engines(ScriptedProvider())
    s = engine.new_session("fogbound_archive")
    events = await turn_events(engine.open_session(s.id), "Hello")
    kinds = [e.type for e in events if e.type != "partner_delta"]
    assert kinds[:5] == [
        "turn_started",
        "director_planned",
        "partner_message",
        "state_changed",
        "turn_committed",  # her reply is saved before the extras
    ]
    assert sorted(kinds[5:-1]) == ["suggestions_ready", "visual_prompt_ready"]
    assert kinds[-1] == "extras_committed"
    deltas = [e for e in events if isinstance(e, ev.PartnerDelta)]
    assert len(deltas) >= 2, "the partner's reply should arrive in several pieces"
    assert deltas[-1].text == "Hello there, stranger. Come in out of the rain."
    first_delta = events.index(deltas[0])
    assert first_delta < [e.type for e in events].index("partner_message")
    msgs, calls = db_counts(engine)
    # opening (narration + first message) + player + narration + partner
    assert calls == 4
    assert msgs >= 4
    session = engine.open_session(s.id)
    last = session.history()[-1]
    assert last.sender == "partner" and last.content["suggestions"]
    assert last.partner_state_snapshot and last.partner_state_snapshot["turn"] == 1


async def test_visual_and_strategist_overlap(engines: Engines) -> None:
    provider = ScriptedProvider(delays={"visual": 0.3, "strategist": 0.3})
    engine = engines(provider)
    s = engine.new_session("fogbound_archive")
    await turn_events(engine.open_session(s.id), "Hello")
    v, st, p = provider.span("visual"), provider.span("strategist"), provider.span("partner")
    assert v.start >= p.end and st.start >= p.end, "post-partner agents start after her reply"
    overlap = min(v.end, st.end) - max(v.start, st.start)
    assert overlap > 0.2, f"visual and strategist should run side by side (overlap {overlap:.3f}s)"


async def test_failing_strategist_degrades(engines: Engines) -> None:
    engine = engines(ScriptedProvider(answers={"strategist": failing()}))
    s = engine.new_session("fogbound_archive")
    events = await turn_events(engine.open_session(s.id), "Hello")
    summary = TurnSummary()
    for e in events:
        summary.add(e)
    assert summary.ok and summary.reply
    # the player still gets moves: the generic fallbacks (the scenario has none of its own)
    assert len(summary.suggestions) >= 2
    assert {x["intent"] for x in summary.suggestions} == {"suggested"}
    assert [(x["agent"], x["fatal"]) for x in summary.errors] == [("strategist", False)]
    rows = engine.agent_calls(s.id)
    assert {r["agent"]: bool(r["ok"]) for r in rows} == {
        "director": True,
        "partner": True,
        "visual": True,
        "strategist": False,
    }


async def test_garbage_visual_output_degrades(engines: Engines) -> None:
    engine = engines(ScriptedProvider(answers={"visual": "I like turtles"}))
    s = engine.new_session("fogbound_archive")
    summary = TurnSummary()
    for e in await turn_events(engine.open_session(s.id), "Hello"):
        summary.add(e)
    assert summary.ok and summary.visual is None
    assert summary.errors[0]["agent"] == "visual"


async def test_failing_partner_commits_nothing(engines: Engines) -> None:
    engine = engines(ScriptedProvider(answers={"partner": failing()}))
    s = engine.new_session("fogbound_archive")
    before = db_counts(engine)
    head = engine.open_session(s.id).record.head_message_id
    events = await turn_events(engine.open_session(s.id), "Hello")
    assert isinstance(events[-1], ev.TurnFailed)
    errors = [e for e in events if isinstance(e, ev.AgentError)]
    assert errors and errors[-1].agent == "partner" and errors[-1].fatal
    assert db_counts(engine) == before
    after = engine.open_session(s.id)
    assert after.record.head_message_id == head


async def test_failing_director_falls_back(engines: Engines) -> None:
    engine = engines(ScriptedProvider(answers={"director": failing()}))
    s = engine.new_session("fogbound_archive")
    summary = TurnSummary()
    for e in await turn_events(engine.open_session(s.id), "Hello"):
        summary.add(e)
    assert summary.ok
    assert summary.errors[0]["agent"] == "director"


async def test_cancel_mid_stream_commits_nothing(engines: Engines) -> None:
    provider = ScriptedProvider(delays={"partner": 0.5}, chunk=2)
    engine = engines(provider)
    s = engine.new_session("fogbound_archive")
    before = db_counts(engine)
    session = engine.open_session(s.id)
    gen = session.turn("Hello")
    async for event in gen:
        if isinstance(event, ev.PartnerDelta):
            break
    await gen.aclose()
    assert db_counts(engine) == before


async def test_stat_deltas_are_clamped(engines: Engines) -> None:
    reply = {"dialogue": "Wow!", "action": "", "mood": "excited", "stat_deltas": {"trust": 90}}
    engine = engines(ScriptedProvider(answers={"partner": reply}), settings={"max_stat_delta": 3})
    s = engine.new_session("fogbound_archive")
    start = engine.open_session(s.id).state.stats["trust"]
    events = await turn_events(engine.open_session(s.id), "Hello")
    changed = next(e for e in events if isinstance(e, ev.StateChanged))
    assert changed.deltas == {"trust": 3}
    assert engine.open_session(s.id).state.stats["trust"] == start + 3
    assert engine.open_session(s.id).state.mood == "excited"


async def test_budget_stops_turns(engines: Engines) -> None:
    engine = engines(ScriptedProvider(cost_per_call=0.01), settings={"session_budget_usd": 0.05})
    s = engine.new_session("fogbound_archive")
    events = await turn_events(engine.open_session(s.id), "Hello")  # 4 calls: $0.04 spent
    committed = next(e for e in events if isinstance(e, ev.TurnCommitted))
    assert committed.cost_usd == pytest.approx(0.02)  # Director and Partner
    extras = next(e for e in events if isinstance(e, ev.ExtrasCommitted))
    assert extras.cost_usd == pytest.approx(0.04)  # the whole turn
    await turn_events(engine.open_session(s.id), "Again")  # $0.08: over budget after this turn
    with pytest.raises(BudgetExceeded, match="budget"):
        await turn_events(engine.open_session(s.id), "Once more")
