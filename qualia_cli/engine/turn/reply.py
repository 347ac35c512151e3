"""The turn's second step, reply: the Partner answers (streamed), and her state changes.

She is essential: if she fails, the turn fails (`turn_failed`) and nothing is saved. Stopped
mid-reply, what has streamed is kept without any stat or mood change; stopped before her first
word, the turn ends unsaved (turn/partner_stream.py). A whole answer goes through the quality
gate and, in the small profile, her reaction becomes stat changes (turn/profile_steps.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from qualia_cli.agents.director import DirectorPlan
from qualia_cli.agents.partner import Partner, PartnerReply
from qualia_cli.engine import events as ev
from qualia_cli.engine.turn.caller import AgentCaller, TurnInputs, agent_error
from qualia_cli.engine.turn.calls import AgentOutcome
from qualia_cli.engine.turn.partner_stream import STOPPED_EMPTY, PartnerRun, stream_partner
from qualia_cli.engine.turn.profile_steps import review_partner
from qualia_cli.engine.turn.state import apply_deltas
from qualia_cli.roles import Role
from qualia_cli.store.records import PartnerState


@dataclass
class Replied:
    """Her kept answer and the state it leads to."""

    outcome: AgentOutcome[PartnerReply]
    reply: PartnerReply
    stopped: bool
    before: PartnerState
    after: PartnerState
    applied: dict[str, int]


@dataclass
class ReplyRun:
    """Filled in by `reply_step`: `outcome` always, `replied` unless the turn failed."""

    outcome: AgentOutcome[PartnerReply] | None = None
    replied: Replied | None = None


async def reply_step(
    caller: AgentCaller,
    inp: TurnInputs,
    t0: float,
    plan: DirectorPlan,
    turn_id: str,
    run: ReplyRun,
) -> AsyncIterator[ev.Event]:
    """Yield her deltas, then her message and the state change (or the turn's failure)."""
    streamed = PartnerRun()

    def ask(on_text: Callable[[str], None]) -> Any:
        return caller.call(
            Partner, Role.PARTNER, inp, t0, on_text=on_text, guidance=plan.partner_guidance
        )

    async for delta in stream_partner(
        ask,
        turn_id,
        streamed,
        stop=inp.stop,
        model=inp.models[Role.PARTNER],
        mood=inp.ctx.state.mood,
        t0=t0,
    ):
        yield delta
    outcome = streamed.outcome
    assert outcome is not None
    if not streamed.stopped:  # the quality gate; the small profile's reaction → stat changes
        outcome = await review_partner(caller, inp, t0, outcome, guidance=plan.partner_guidance)
    run.outcome = outcome
    reply = outcome.value
    if reply is None:
        if streamed.stopped:  # stopped before she said a word: nothing to keep
            yield ev.TurnFailed(turn_id, reason=STOPPED_EMPTY)
            return
        yield agent_error(turn_id, Role.PARTNER, outcome, fatal=True)
        yield ev.TurnFailed(turn_id, reason=str(outcome.error))
        return
    run.replied = done = changed_state(caller, inp, plan, outcome, reply, streamed.stopped)
    yield ev.PartnerMessage(
        turn_id,
        name=done.before.name,
        dialogue=reply.dialogue,
        action=reply.action,
        mood=done.after.mood,
        narration=plan.narration,
        stopped=done.stopped,
    )
    yield ev.StateChanged(
        turn_id, before=done.before.snapshot(), after=done.after.snapshot(), deltas=done.applied
    )


def changed_state(
    caller: AgentCaller,
    inp: TurnInputs,
    plan: DirectorPlan,
    outcome: AgentOutcome[PartnerReply],
    reply: PartnerReply,
    stopped: bool,
) -> Replied:
    """Her stats, mood and the scene after her answer (a cut answer changes no stat or mood)."""
    before = inp.ctx.state
    after, applied = apply_deltas(
        inp.ctx.scenario,
        before,
        {} if stopped else reply.stat_deltas,
        max_delta=caller.settings.max_stat_delta,
        mood=before.mood if stopped else reply.mood,
        location=plan.location,
        time=plan.time,
    )
    return Replied(outcome, reply, stopped, before, after, applied)
