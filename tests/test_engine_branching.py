"""Engine: regenerate (siblings), alternatives, rewind, edit, branch, options, trace, export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fakes import ScriptedProvider
from support.engine import make_engine, play_lines

from qualia_cli.engine import Engine, GameSession
from qualia_cli.engine import events as ev
from qualia_cli.engine.errors import USER_ERRORS, LLMError, SessionActionError
from qualia_cli.llm.base import Request


def seeded_partner(request: Request) -> dict[str, Any]:
    """A partner whose reply depends on the seed and on what the player just said."""
    said = request.messages[-1]["content"].splitlines()[-1][-40:]
    return {
        "dialogue": f"reply {request.seed} to {said}",
        "action": "nods",
        "mood": "happy",
        "stat_deltas": {"trust": 5},
    }


@pytest.fixture
async def engine() -> Any:
    e = make_engine(ScriptedProvider(answers={"partner": seeded_partner}))
    yield e
    await e.aclose()


async def drain(events: Any) -> list[ev.Event]:
    out = [e async for e in events]
    assert isinstance(out[-1], ev.ExtrasCommitted), out[-1]
    return out


def partner_lines(session: GameSession) -> list[str]:
    return [m.text for m in session.history(200) if m.sender == "partner"]


async def test_regenerate_makes_a_sibling_from_the_same_state(engine: Engine) -> None:
    s = engine.new_session("fogbound_archive")
    await play_lines(s, "Hello")
    first_reply = partner_lines(s)[-1]
    first_turn = s.last_turn()
    assert s.state.stats["trust"] == 25

    await drain(s.regenerate())

    second_turn = s.last_turn()
    assert second_turn[0].parent_id == first_turn[0].parent_id, "a sibling of the first try"
    assert second_turn[0].content["text"] == "Hello"
    assert partner_lines(s)[-1] != first_reply, "a new nonce gives a new seed"
    # the history holds only the new try, and the state was computed from before the turn
    assert first_reply not in partner_lines(s)
    assert s.state.stats["trust"] == 25
    alts = s.alternatives()
    assert (alts.count, alts.index, alts.label) == (2, 1, "2/2")
    assert alts.ids == (first_turn[0].id, second_turn[0].id)


async def test_switch_alternatives_restores_that_branch(engine: Engine) -> None:
    s = engine.new_session("fogbound_archive")
    await play_lines(s, "Hello")
    first_reply = partner_lines(s)[-1]
    await play_lines(s, "Show me the ledgers")  # a second turn on the first alternative
    deep_head = s.record.head_message_id
    await drain(s.regenerate())
    assert s.state.stats["trust"] == 30

    s.rewind()
    await drain(s.regenerate())  # turn 1 now has 2 alternatives, we are on the new one
    assert s.state.stats["trust"] == 25
    assert s.alternatives().label == "2/2"
    with pytest.raises(SessionActionError, match="last alternative"):
        s.switch_alternative(+1)

    alts = s.switch_alternative(-1)
    assert alts.label == "1/2"
    # back on the first alternative of turn 1, at its end (turn 2 stays in the tree)
    assert partner_lines(s)[-1] == first_reply
    assert s.state.stats["trust"] == 25, "state restored from that turn's snapshot"
    with pytest.raises(SessionActionError, match="first alternative"):
        s.switch_alternative(-1)
    # playing on offers the old turn 2 (and its regeneration) as alternatives
    await play_lines(s, "Show me the ledgers")
    assert s.alternatives().label == "3/3"
    assert deep_head in [s.turn_of(i)[-1].id for i in s.alternatives().ids]


async def test_rewind_one_turn_restores_state(engine: Engine) -> None:
    s = engine.new_session("fogbound_archive")
    opening_head = s.record.head_message_id
    with pytest.raises(SessionActionError, match="nothing to rewind"):
        s.rewind()
    await play_lines(s, "Hello")
    after_one = s.record.head_message_id
    await play_lines(s, "Again")
    assert s.state.stats["trust"] == 30

    assert s.rewind() == after_one
    assert s.state.stats["trust"] == 25
    assert s.record.world_state.get("facts", {}).get("weather") == "rain"
    assert s.rewind() == opening_head
    assert s.state.stats["trust"] == 20
    # a reopened session sees the same head
    again = engine.open_session(s.id)
    assert again.record.head_message_id == opening_head


async def test_edit_last_reruns_with_the_new_text(engine: Engine) -> None:
    s = engine.new_session("fogbound_archive")
    await play_lines(s, "Hello")
    old = s.last_turn()
    await drain(s.edit_last("Good evening, archivist"))
    new = s.last_turn()
    assert new[0].parent_id == old[0].parent_id
    assert new[0].content["text"] == "Good evening, archivist"
    assert "archivist" in partner_lines(s)[-1]
    assert s.alternatives().label == "2/2"
    with pytest.raises(ValueError):
        await drain(s.edit_last("   "))


async def test_branch_at_an_earlier_message(engine: Engine) -> None:
    s = engine.new_session("fogbound_archive")
    await play_lines(s, "one")
    turn_one = s.last_turn()
    await play_lines(s, "two")
    await play_lines(s, "three")
    # branching at turn one's *player* message continues after the whole of turn one
    head = s.branch_at(turn_one[0].id)
    assert head == turn_one[-1].id
    assert s.state.stats["trust"] == 25
    await play_lines(s, "a different two")
    alts = s.alternatives()
    assert alts.label == "2/2", "the old turn two is the other alternative"
    texts = [m.content.get("text") for m in s.history(200) if m.sender == "player"]
    assert texts == ["one", "a different two"]


async def test_cancelled_regenerate_commits_nothing(engine: Engine) -> None:
    s = engine.new_session("fogbound_archive")
    await play_lines(s, "Hello")
    head = s.record.head_message_id
    count = engine.store.count_messages(s.id)
    stream = s.regenerate()
    async for event in stream:
        if isinstance(event, ev.PartnerMessage):
            break  # the player walks away mid-turn
    await stream.aclose()  # type: ignore[attr-defined]
    s.refresh()
    assert s.record.head_message_id == head
    assert engine.store.count_messages(s.id) == count
    assert s.alternatives().count == 1


async def test_agent_model_override(engine: Engine) -> None:
    s = engine.new_session("fogbound_archive")
    s.set_agent_model("partner", "fake/fancy")
    again = engine.open_session(s.id)
    assert again.models()["partner"] == "fake/fancy"
    assert again.models()["director"] == "fake/model"
    await play_lines(again, "Hello")
    trace = again.turn_trace()
    assert {c.agent: c.model for c in trace.calls}["partner"] == "fake/fancy"

    with pytest.raises(LLMError, match="unknown model provider"):
        again.set_agent_model("director", "nowhere/model")
    with pytest.raises(SessionActionError, match="unknown agent"):
        again.set_agent_model("janitor", "fake/x")
    again.set_agent_model("partner", None)
    assert again.models()["partner"] == "fake/model"
    assert "models" not in again.record.settings


async def test_pace_and_rating(engine: Engine) -> None:
    s = engine.new_session("fogbound_archive")  # a general-rated scenario
    assert s.allowed_ratings() == ["general"]
    s.set_story(pace="fast")
    assert engine.open_session(s.id).record.narrative_pace == "fast"
    with pytest.raises(SessionActionError, match="not allowed"):
        s.set_story(rating="mature")
    with pytest.raises(SessionActionError, match="unknown pace"):
        s.set_story(pace="ludicrous")
    assert isinstance(SessionActionError("x"), USER_ERRORS)


async def test_turn_trace_has_every_agent_with_raw_output(engine: Engine) -> None:
    s = engine.new_session("fogbound_archive")
    with pytest.raises(SessionActionError, match="opening"):
        s.turn_trace()
    await play_lines(s, "Hello")
    trace = s.turn_trace()
    assert trace.player_text == "Hello"
    assert trace.plan["beat"] == "Mira warms to the player."
    assert [c.agent for c in trace.calls] == ["director", "partner", "visual", "strategist"]
    partner = trace.calls[1]
    assert json.loads(partner.raw_output or "")["dialogue"].startswith("reply ")
    assert partner.prompt_tokens == 10 and partner.completion_tokens == 5
    assert '\n  "dialogue"' in partner.pretty_output
    assert trace.prompt_tokens == 40
    # the trace of an earlier turn is reachable from any of its messages
    first_player = s.last_turn()[0].id
    await play_lines(s, "Again")
    assert s.turn_trace(first_player).player_text == "Hello"


async def test_export_markdown_is_the_current_branch(engine: Engine, qualia_home: Path) -> None:
    s = engine.new_session("fogbound_archive")
    await play_lines(s, "Hello")
    old_reply = partner_lines(s)[-1]
    await drain(s.regenerate())
    library = engine.library  # the one renderer: `sessions export --branch` and ctrl+s
    default = library.default_export_path(s.record.title, s.id, "md")
    assert default.parent == qualia_home / "data" / "exports"
    path = library.export_to_file(s.id, "md", default, branch_only=True)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# The Fogbound Archive")
    assert "**You:** Hello" in text
    assert partner_lines(s)[-1] in text
    assert old_reply not in text
    assert text.index("Rain drums") < text.index("**You:** Hello")
