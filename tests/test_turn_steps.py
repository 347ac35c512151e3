"""The turn's pieces on their own: the typed partner message (old and unknown stored keys), the
speaker mapping and role names, and the plan / reply / record steps with a scripted caller."""

from __future__ import annotations

import json
from typing import Any

from test_agents import make_ctx

from qualia_cli.agents.director import DirectorPlan, WorldFact
from qualia_cli.agents.partner import PartnerReply
from qualia_cli.agents.strategist import Suggestion, Suggestions
from qualia_cli.agents.visual import VisualPlan
from qualia_cli.config import Settings
from qualia_cli.engine import events as ev
from qualia_cli.engine.turn.caller import TurnInputs, agent_error
from qualia_cli.engine.turn.calls import AgentOutcome
from qualia_cli.engine.turn.extras import ExtrasPlan, launch_extras, run_extras
from qualia_cli.engine.turn.partner_stream import STOPPED_EMPTY
from qualia_cli.engine.turn.plan import fallback_plan, plan_step
from qualia_cli.engine.turn.record import call_summary, committed_events, turn_record
from qualia_cli.engine.turn.reply import ReplyRun, reply_step
from qualia_cli.llm.errors import ErrorCode, LLMError
from qualia_cli.roles import AGENT_ROLES, TURN_AGENTS, Role, Sender, speaker_name
from qualia_cli.store.content import ExtrasUpdate, PartnerLine
from qualia_cli.store.records import AgentCall, Message

# -- the stored partner message -----------------------------------------------------------

GREETING = {"dialogue": "You came back.", "action": "", "mood": "wary"}
PENDING = {
    "dialogue": "The ledgers? Upstairs.",
    "action": "points",
    "mood": "curious",
    "deltas": {"trust": 2},
    "suggestions": [],
    "plan": {"beat": "b", "narration": ""},
    "image": None,
    "context": {"partner": {"tokens": {"prompt": 10}}},
    "extras": "pending",
    "stopped": True,
}
DONE = {
    **PENDING,
    "suggestions": [{"text": "Go up.", "intent": "act"}],
    "image": {"prompt": "archive", "generate": True},
    "extras": "done",
    "dropped": ["strategist"],
}


def test_what_the_turn_and_the_greeting_store_reads_back_and_writes_the_same_json() -> None:
    for stored in (GREETING, PENDING, DONE):
        line = PartnerLine.from_json(json.loads(json.dumps(stored)))
        assert line.to_json() == stored
        assert list(line.to_json()) == list(stored)  # key order too: exports diff cleanly
    done = PartnerLine.from_json(DONE)
    assert done.stopped and done.extras == "done" and done.dropped == ["strategist"]
    assert done.suggestions[0]["text"] == "Go up." and done.image == {
        "prompt": "archive",
        "generate": True,
    }
    assert not PartnerLine.from_json(GREETING).is_turn and done.is_turn


def test_an_old_message_reads_with_defaults_and_unknown_keys_are_kept() -> None:
    old = PartnerLine.from_json({"dialogue": "Hm.", "mood": "calm", "future_key": [1, 2]})
    assert (old.action, old.deltas, old.suggestions, old.image, old.extras) == (
        "",
        {},
        [],
        None,
        None,
    )
    assert old.other == {"future_key": [1, 2]}
    assert old.to_json() == {"dialogue": "Hm.", "action": "", "mood": "calm", "future_key": [1, 2]}
    # a turn of a version before the two-phase commit: no "extras" key, still a turn
    legacy = {k: v for k, v in PENDING.items() if k not in ("extras", "stopped")}
    assert PartnerLine.from_json(legacy).to_json() == legacy


def test_garbage_in_a_stored_message_reads_as_empty_never_raises() -> None:
    for junk in (None, {}, {"dialogue": None, "deltas": "x", "suggestions": "no", "image": "str"}):
        line = PartnerLine.from_json(junk)  # type: ignore[arg-type]
        assert line.dialogue == "" and line.deltas == {} and line.suggestions == []
        assert line.image is None
    odd = PartnerLine.from_json({"dialogue": 7, "deltas": {"trust": 2.0, "bad": "x"}, "stopped": 1})
    assert odd.dialogue == "7" and odd.deltas == {"trust": 2} and odd.stopped is False


def test_the_extras_update_writes_only_what_they_produced() -> None:
    failed_visual = ExtrasUpdate(context={"visual": {}}, visual_answered=True)
    assert failed_visual.to_json() == {"extras": "done", "image": None, "context": {"visual": {}}}
    cancelled = ExtrasUpdate(context={}, dropped=["strategist"])  # the pending image stays
    assert cancelled.to_json() == {"extras": "done", "context": {}, "dropped": ["strategist"]}
    full = ExtrasUpdate(
        context={},
        image={"prompt": "p"},
        visual_answered=True,
        suggestions=[{"text": "Go."}],
    )
    merged = PartnerLine.from_json({**PENDING, **full.to_json()})
    assert merged.extras == "done" and merged.image == {"prompt": "p"}
    assert merged.suggestions == [{"text": "Go."}]


def _message(sender: str, content: dict[str, Any]) -> Message:
    return Message(1, "s", None, None, sender, content, "", None, None, None, None, 0, 0)


def test_a_message_says_her_dialogue_or_its_text() -> None:
    assert _message(Sender.PARTNER, DONE).said == "The ledgers? Upstairs."
    assert _message(Sender.PARTNER, DONE).line.deltas == {"trust": 2}
    assert _message(Sender.PLAYER, {"text": "Hi"}).said == "Hi"
    assert _message(Sender.NARRATOR, {"dialogue": "x", "text": "Rain."}).said == "Rain."


# -- names --------------------------------------------------------------------------------


def test_speaker_names() -> None:
    assert speaker_name(Sender.PLAYER, "Maren") == "You"
    assert speaker_name(Sender.PLAYER, "Maren", "you") == "You"
    assert speaker_name(Sender.PLAYER, "Maren", "Ash") == "Ash"
    assert speaker_name(Sender.PARTNER, "Maren", "Ash") == "Maren"
    assert speaker_name(Sender.NARRATOR, "Maren") == ""
    assert speaker_name(Sender.SYSTEM, "Maren") == "System"
    assert speaker_name("ghost", "Maren") == "ghost"


def test_role_names_are_plain_strings_in_one_order() -> None:
    from qualia_cli.config import AGENT_ROLES as CONFIG_ROLES
    from qualia_cli.engine import TURN_AGENTS as PUBLIC_TURN_AGENTS

    assert TURN_AGENTS == ("director", "partner", "visual", "strategist", "summarizer")
    assert AGENT_ROLES[:5] == TURN_AGENTS and {"generator", "judge", "player"} <= set(AGENT_ROLES)
    assert CONFIG_ROLES is AGENT_ROLES and PUBLIC_TURN_AGENTS is TURN_AGENTS
    assert all(type(r) is str for r in AGENT_ROLES)  # stored and dumped as they are


# -- the steps, with a scripted caller ----------------------------------------------------


class Caller:
    """Answers each role from `answers` (a value, or an LLMError for a failed call)."""

    def __init__(self, answers: dict[str, Any], stream: list[str] | None = None) -> None:
        self.settings = Settings()
        self.answers = answers
        self.stream = stream or []
        self.roles: list[str] = []

    async def call(self, agent: Any, role: str, inp: Any, t0: float, **kw: Any) -> Any:
        self.roles.append(role)
        for text in self.stream:
            kw["on_text"](text)
        answer = self.answers[role]
        call = AgentCall(agent=role, model="fake/x", ok=True, latency_ms=1.0, prompt_tokens=5)
        if isinstance(answer, LLMError):
            call.ok = False
            return AgentOutcome(None, call, error=answer)
        return AgentOutcome(answer, call, context={"role": role})


def _inputs() -> TurnInputs:
    models = dict.fromkeys(TURN_AGENTS, "fake/x")
    return TurnInputs("s", 7, make_ctx(), models)


async def test_plan_falls_back_to_carrying_on_when_the_director_fails() -> None:
    inp = _inputs()
    failed = LLMError(ErrorCode.TIMEOUT, "too slow")
    planned = await plan_step(Caller({Role.DIRECTOR: failed}), None, inp, 0.0)  # type: ignore[arg-type]
    assert planned.plan == fallback_plan(inp.ctx)
    events = list(planned.events("t"))
    assert [type(e) for e in events] == [ev.AgentError, ev.DirectorPlanned]
    assert events[0].agent == "director" and not events[0].fatal  # type: ignore[attr-defined]

    plan = DirectorPlan(beat="b", location="attic", time="night", narration="Dust.")
    planned = await plan_step(Caller({Role.DIRECTOR: plan}), None, inp, 0.0)  # type: ignore[arg-type]
    assert planned.plan is plan and [type(e) for e in planned.events("t")] == [ev.DirectorPlanned]


async def _reply(caller: Caller, inp: TurnInputs, plan: DirectorPlan) -> tuple[list[Any], ReplyRun]:
    run = ReplyRun()
    events = [e async for e in reply_step(caller, inp, 0.0, plan, "t", run)]  # type: ignore[arg-type]
    return events, run


async def test_reply_streams_her_words_then_her_message_and_the_state_change() -> None:
    inp = _inputs()
    reply = PartnerReply(dialogue="Upstairs, by the stove.", action="nods", mood="curious")
    stat = inp.ctx.scenario.stats[0].name
    reply.stat_deltas = {stat: 3}
    partial = ['{"dialogue": "Upstairs', '{"dialogue": "Upstairs, by the stove."']
    caller = Caller({Role.PARTNER: reply}, stream=partial)
    plan = DirectorPlan(beat="b", location="attic", time="night", narration="Dust.")
    events, run = await _reply(caller, inp, plan)
    kinds = [type(e) for e in events]
    assert kinds == [ev.PartnerDelta, ev.PartnerDelta, ev.PartnerMessage, ev.StateChanged]
    message, changed = events[2], events[3]
    assert message.dialogue == reply.dialogue and message.narration == "Dust."
    assert changed.after["location"] == "attic" and changed.deltas == {stat: 3}
    assert (
        run.replied is not None and run.replied.after.stats[stat] == inp.ctx.state.stats[stat] + 3
    )


async def test_a_failed_reply_fails_the_turn_and_a_stop_before_her_first_word_keeps_nothing() -> (
    None
):
    plan = fallback_plan(make_ctx())
    failed = LLMError(ErrorCode.SERVER, "down")
    events, run = await _reply(Caller({Role.PARTNER: failed}), _inputs(), plan)
    assert [type(e) for e in events] == [ev.AgentError, ev.TurnFailed]
    assert events[0].fatal and run.replied is None  # type: ignore[attr-defined]

    inp = _inputs()
    inp.stop.set()

    class Slow(Caller):
        async def call(self, *args: Any, **kw: Any) -> Any:
            import asyncio

            await asyncio.sleep(5)

    events, run = await _reply(Slow({}), inp, plan)
    assert [type(e) for e in events] == [ev.TurnFailed] and events[0].reason == STOPPED_EMPTY  # type: ignore[attr-defined]
    assert run.replied is None


async def test_record_writes_player_narrator_and_her_typed_line_with_the_extras_pending() -> None:
    inp = _inputs()
    said = "The east wing ledgers survived; they are upstairs, by the stove."
    reply = PartnerReply(dialogue=said, action="nods", mood="curious")
    plan = DirectorPlan(
        beat="b",
        location="attic",
        time="night",
        narration="Dust.",
        world_updates=[WorldFact(key="door", value="open")],
    )
    _, run = await _reply(Caller({Role.PARTNER: reply}), inp, plan)
    assert run.replied is not None
    director = AgentOutcome(plan, AgentCall(agent="director", model="m", ok=True, latency_ms=1))
    recorded = turn_record(inp, "t", 0.0, director, plan, run.replied)
    record = recorded.record
    assert [m.sender for m in record.messages] == ["player", "narrator", "partner"]
    assert record.messages[0].content == {"text": inp.ctx.player_text}
    line = PartnerLine.from_json(record.messages[-1].content)
    assert (line.dialogue, line.action, line.mood, line.extras) == (
        said,
        "nods",
        "curious",
        "pending",
    )
    assert line.plan == plan.model_dump() and line.context == {"partner": {"role": "partner"}}
    assert record.world_state["facts"]["door"] == "open"
    assert record.expected_head == 7 and record.messages[-1].prompt_tokens == 5
    assert [c.agent for c in record.agent_calls] == ["director", "partner"]
    recorded.message_ids = [1, 2, 3]
    committed = list(committed_events(recorded, 0.0))
    assert [type(e) for e in committed] == [ev.TurnCommitted]
    assert committed[0].message_ids == [1, 2, 3]  # type: ignore[attr-defined]


async def test_a_played_turn_stores_a_partner_line_that_round_trips(scripted_engine: Any) -> None:
    session = scripted_engine.new_session("fogbound_archive")
    async for _ in session.turn("Hello"):
        pass
    if session.extras is not None:
        await session.extras.done.wait()
    stored = scripted_engine.store.get_message(session.record.head_message_id)
    line = stored.line
    assert line.extras == "done" and line.dialogue and line.suggestions and line.image
    assert line.to_json() == stored.content and line.other == {}


async def test_extras_on_their_own_report_then_attach_one_update() -> None:
    inp = _inputs()
    ctx = inp.ctx
    visual = VisualPlan(generate=True, scene_tags=["dusty shelves"])
    moves = Suggestions(
        suggestions=[
            Suggestion(text="Ask which shelf holds the east wing ledgers."),
            Suggestion(text="Offer to carry the heavy volumes down."),
            Suggestion(text="Mention the water line on the stairs."),
        ]
    )
    caller = Caller({Role.VISUAL: visual, Role.STRATEGIST: moves})
    reply = PartnerReply(dialogue="The east wing ledgers are upstairs.", mood="curious")
    partner = AgentOutcome(reply, AgentCall(agent="partner", model="fake/x", ok=True, latency_ms=1))
    plan = ExtrasPlan(
        session_id="s",
        turn_id="t",
        message_id=42,
        ctx=ctx,
        state=ctx.state,
        scene_changed=False,
        models=inp.models,
        t0=0.0,
        first_calls=[partner.call],
        traces={},
        dialogue=reply.dialogue,
    )
    handle = launch_extras(caller, None, plan, inp, fallback_plan(ctx), partner)  # type: ignore[arg-type]
    attached: list[tuple[Any, ...]] = []
    queued: list[dict[str, Any]] = []
    events = [
        e
        async for e in run_extras(
            plan,
            handle,
            attach=lambda *args: attached.append(args),
            queue_image=queued.append,
            error=lambda agent, outcome: agent_error("t", agent, outcome),
            summary=call_summary,
        )
    ]
    kinds = {type(e) for e in events}
    assert {ev.VisualPromptReady, ev.SuggestionsReady} <= kinds
    assert type(events[-1]) is ev.ExtrasCommitted
    assert sorted(caller.roles) == ["strategist", "visual"]  # no memory: no Summarizer
    assert len(queued) == 1 and "dusty shelves" in queued[0]["prompt"]
    (session_id, turn_id, message_id, content, image_prompt, calls) = attached[0]
    assert (session_id, turn_id, message_id) == ("s", "t", 42)
    merged = PartnerLine.from_json({**PENDING, **content})
    assert merged.extras == "done" and merged.image == queued[0]
    assert merged.suggestions[0]["text"].startswith("Ask which shelf")
    assert [c.agent for c in calls] == ["visual", "strategist"] and image_prompt
    assert handle.finished
