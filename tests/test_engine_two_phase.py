"""The two-phase turn (scripted model, real SQLite file): her reply commits first, the extras
(Visual Director, Strategist, Summarizer) attach in a second transaction; a stopped reply keeps
what streamed; a process killed between the phases loses only the extras."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from fakes import ScriptedProvider
from story_gen import StoryScript
from support.engine import Engines, turn_events

from qualia_cli.engine import Engine
from qualia_cli.engine import events as ev
from qualia_cli.engine.story.session import GameSession

TESTS = Path(__file__).parent


def rows(engine: Engine, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(engine.store.path)  # a second connection: only committed data
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def partner_row(engine: Engine, message_id: int) -> tuple[dict[str, Any], str | None]:
    content, image_prompt = rows(
        engine, "select content, image_prompt from messages where id = ?", message_id
    )[0]
    return json.loads(content), image_prompt


async def test_reply_commits_before_the_extras_which_attach_in_a_second_transaction(
    engines: Engines,
) -> None:
    engine = engines(ScriptedProvider(delays={"visual": 0.4, "strategist": 0.4}))
    session = engine.new_session("fogbound_archive")
    turn = session.turn("Hello")
    seen: list[ev.Event] = []
    async for event in turn:
        seen.append(event)
        if isinstance(event, ev.TurnCommitted):
            break
    committed = seen[-1]
    assert isinstance(committed, ev.TurnCommitted)
    partner_id = committed.message_ids[-1]
    content, image_prompt = partner_row(engine, partner_id)
    # first transaction: her reply and the state change are stored; the extras are not yet
    assert content["dialogue"] == "Hello there, stranger. Come in out of the rain."
    assert content["extras"] == "pending" and content["suggestions"] == [] and not image_prompt
    head = rows(engine, "select head_message_id from sessions where id = ?", session.id)[0][0]
    assert head == partner_id
    agents = [r[0] for r in rows(engine, "select agent from agent_calls order by id")]
    assert agents == ["director", "partner"]
    assert session.extras is not None and not session.extras.finished
    assert session.record.head_message_id == partner_id, "the session knows its new head"

    rest = [event async for event in turn]
    kinds = [e.type for e in rest]
    assert sorted(kinds[:-1]) == ["suggestions_ready", "visual_prompt_ready"]
    done = rest[-1]
    assert isinstance(done, ev.ExtrasCommitted) and done.message_id == partner_id
    assert done.dropped == [] and done.wall_ms >= committed.wall_ms
    assert [a["agent"] for a in done.agents] == ["director", "partner", "visual", "strategist"]
    content, image_prompt = partner_row(engine, partner_id)
    assert content["extras"] == "done"
    assert content["suggestions"][0]["text"] == "Ask about the rain."
    assert content["image"]["prompt"] == image_prompt and "rainy window" in image_prompt
    assert set(content["context"]) >= {"director", "partner", "visual", "strategist"}
    assert len(rows(engine, "select 1 from agent_calls")) == 4
    assert session.extras.finished


async def _until_committed(session: GameSession, text: str) -> tuple[Any, list[ev.Event]]:
    """Run a turn to `turn_committed`; the rest of it drains in a task (as the TUI does)."""
    turn = session.turn(text)
    events: list[ev.Event] = []
    async for event in turn:
        events.append(event)
        if isinstance(event, ev.TurnCommitted):
            break

    async def drain() -> None:
        async for event in turn:
            events.append(event)

    return asyncio.ensure_future(drain()), events


async def test_a_turn_sent_during_the_extras_drops_stale_suggestions_keeps_the_picture(
    engines: Engines,
) -> None:
    provider = ScriptedProvider(delays={"strategist": 5.0, "visual": 0.5})
    engine = engines(provider)
    session = engine.new_session("fogbound_archive")
    draining, first = await _until_committed(session, "Hello")
    first_id = next(e for e in first if isinstance(e, ev.TurnCommitted)).message_ids[-1]
    provider.delays["strategist"] = 0.0
    second = [e async for e in session.turn("Tell me about the lamp.")]  # before they end
    await asyncio.wait_for(draining, 5)
    kinds = [e.type for e in first]
    assert "suggestions_ready" not in kinds, "the stale suggestions are never shown"
    assert "visual_prompt_ready" in kinds, "the first turn's picture goes on"
    extras = next(e for e in first if isinstance(e, ev.ExtrasCommitted))
    assert extras.dropped == ["strategist"]
    content, image_prompt = partner_row(engine, first_id)
    assert content["suggestions"] == [] and content["dropped"] == ["strategist"]
    assert image_prompt, "the Visual Director's prompt is attached all the same"
    calls = rows(
        engine,
        "select agent, error_code from agent_calls where message_id = ? order by id",
        first_id,
    )
    assert ("strategist", "cancelled") in calls
    # the second turn is whole, with its own suggestions
    assert [e.type for e in second][-1] == "extras_committed"
    assert any(isinstance(e, ev.SuggestionsReady) for e in second)
    assert len(rows(engine, "select 1 from messages where sender = 'player'")) == 2


@pytest.mark.slow  # waits out a 1 s Summarizer (over a second)
async def test_a_turn_sent_during_the_summarizer_waits_for_its_fold(engines: Engines) -> None:
    script = StoryScript()
    provider = ScriptedProvider(answers=script.answers())
    engine = engines(provider, settings={"memory": {"window_turns": 2, "summarize_every": 2}})
    session = engine.new_session("fogbound_archive")
    for n in range(1, 4):
        async for _ in session.turn(script.player(n)):
            pass
    provider.delays["summarizer"] = 1.0
    draining, first = await _until_committed(session, script.player(4))
    assert session.extras is not None and not session.extras.summarizer.done()
    second = [e async for e in session.turn(script.player(5))]
    await asyncio.wait_for(draining, 5)
    folds = [s for s in provider.spans if s.agent == "summarizer"]
    director_of_5 = [s for s in provider.spans if s.agent == "director"][-1]
    assert folds[-1].end <= director_of_5.start, "the next turn waited for the fold"
    stored = [e for e in first if isinstance(e, ev.MemoryStored)]
    assert stored, "the fold was stored, not lost"
    assert not any(isinstance(e, ev.MemoryStored) for e in second), "and not folded twice"


async def test_stop_mid_reply_keeps_what_streamed(engines: Engines) -> None:
    provider = ScriptedProvider(delays={"partner": 3.0}, chunk=4)
    engine = engines(provider)
    session = engine.new_session("fogbound_archive")
    before = session.state
    events: list[ev.Event] = []
    async for event in session.turn("Hello"):
        events.append(event)
        deltas = [e for e in events if isinstance(e, ev.PartnerDelta)]
        if len(deltas) == 3 and not any(isinstance(e, ev.PartnerMessage) for e in events):
            assert session.stop_turn()
    streamed = [e for e in events if isinstance(e, ev.PartnerDelta)][-1].text
    reply = next(e for e in events if isinstance(e, ev.PartnerMessage))
    assert reply.stopped and reply.dialogue == streamed.strip()
    assert 0 < len(streamed) < len("Hello there, stranger. Come in out of the rain.")
    assert any(isinstance(e, ev.TurnCommitted) for e in events)
    last = session.history()[-1]
    assert last.sender == "partner" and last.content["dialogue"] == streamed.strip()
    assert last.content["stopped"] is True
    assert session.state.stats == before.stats and session.state.mood == before.mood
    calls = rows(engine, "select agent, error_code, error from agent_calls where agent='partner'")
    assert calls[0][1] == "stopped" and "stopped by the player" in calls[0][2]


async def test_stop_before_her_first_word_saves_nothing(engines: Engines) -> None:
    provider = ScriptedProvider(delays={"partner": 3.0}, chunk=400)  # one piece, at the end
    engine = engines(provider)
    session = engine.new_session("fogbound_archive")
    head = session.record.head_message_id
    events: list[ev.Event] = []
    async for event in session.turn("Hello"):
        events.append(event)
        if isinstance(event, ev.DirectorPlanned):
            asyncio.get_running_loop().call_later(0.2, session.stop_turn)
    assert isinstance(events[-1], ev.TurnFailed) and "nothing was saved" in events[-1].reason
    assert not any(isinstance(e, ev.PartnerMessage | ev.TurnCommitted) for e in events)
    session.refresh()
    assert session.record.head_message_id == head
    assert rows(engine, "select count(*) from messages where sender = 'player'")[0][0] == 0


CHILD = textwrap.dedent(
    """
    import asyncio, sys
    sys.path.insert(0, {tests!r})
    from fakes import ScriptedProvider
    from qualia_cli.config import load_settings
    from qualia_cli.engine import Engine
    from qualia_cli.engine import events as ev
    from qualia_cli.llm.router import ModelRouter

    async def main():
        s = load_settings(models={{"default": "fake/model"}}, images={{"enabled": False}})
        router = ModelRouter(s)
        router.register("fake", ScriptedProvider(delays={{"visual": 60, "strategist": 60}}))
        engine = Engine(s, router=router)
        session = engine.new_session("fogbound_archive")
        async for event in session.turn("Hello"):
            if isinstance(event, ev.TurnCommitted):
                print("committed", session.id, event.message_ids[-1], flush=True)

    asyncio.run(main())
    """
)


def test_a_process_killed_between_the_phases_loses_only_the_extras(engines: Engines) -> None:
    """A real child process, a real SQLite file, SIGKILL while the extras run."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(tests=str(TESTS))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()  # printed once her reply is committed
        assert line.startswith("committed"), child.stderr.read() if child.stderr else line
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    _, session_id, message_id = line.split()
    provider = ScriptedProvider()
    engine = engines(provider)
    session = engine.open_session(session_id)
    last = session.history()[-1]
    assert last.id == int(message_id) and last.sender == "partner"
    assert last.content["dialogue"] == "Hello there, stranger. Come in out of the rain."
    assert last.content["extras"] == "pending" and last.content["suggestions"] == []
    assert last.partner_state_snapshot and last.partner_state_snapshot["turn"] == 1
    assert session.state.mood == "happy", "the state change survived"
    agents = [r[0] for r in rows(engine, "select agent from agent_calls order by id")]
    assert agents == ["director", "partner"], "only the extras were lost"
    # the story goes on from there
    events = asyncio.run(turn_events(session, "Still there?"))
    assert events[-1].type == "extras_committed"
    assert session.history()[-1].partner_state_snapshot["turn"] == 2  # type: ignore[index]
