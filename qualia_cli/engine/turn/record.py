"""The turn's third step, record: the ending and world it leads to, and the first transaction.

Endings are decided by the scenario's conditions, never by the model alone. One transaction
writes the player's line, the narration, her reply (a `PartnerLine` with the extras pending)
and the state change; after it the player may speak again (`turn_committed`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from qualia_cli.agents.director import DirectorPlan
from qualia_cli.engine import events as ev
from qualia_cli.engine.turn.caller import TurnInputs
from qualia_cli.engine.turn.calls import AgentOutcome
from qualia_cli.engine.turn.reply import Replied
from qualia_cli.roles import Role, Sender
from qualia_cli.scenario.conditions import ending_reached
from qualia_cli.scenario.models import Ending
from qualia_cli.store.content import EXTRAS_PENDING, PartnerLine, text_content
from qualia_cli.store.records import AgentCall, NewMessage, TurnRecord


@dataclass
class Recorded:
    """What the first transaction wrote, and what the rest of the turn reports from it."""

    record: TurnRecord
    replied: Replied
    ending: Ending | None
    traces: dict[str, Any]  # agent -> its prompt's trace (Director, Partner)
    message_ids: list[int] | None = None  # set once committed

    @property
    def calls(self) -> list[AgentCall]:
        return self.record.agent_calls


def world_after(
    inp: TurnInputs, plan: DirectorPlan, replied: Replied
) -> tuple[dict[str, Any], Ending | None]:
    """The world state with the Director's facts, and the ending the new state reaches."""
    ctx, state = inp.ctx, replied.after
    ending = ending_reached(
        ctx.scenario, state.stats, state.mood, state.location, state.time, ctx.turn
    )
    world = dict(ctx.world_state)
    facts = dict(world.get("facts") or {})
    for fact in plan.world_updates:
        facts[fact.key] = fact.value
    world["facts"] = facts
    if ending is not None:
        world["ending"] = ending.id
    return world, ending


def turn_record(
    inp: TurnInputs,
    turn_id: str,
    t0: float,
    director: AgentOutcome[DirectorPlan],
    plan: DirectorPlan,
    replied: Replied,
) -> Recorded:
    """The first transaction's content: player, [narrator], partner, state, world, and the
    Director's and Partner's calls (their prompts' traces go into her message)."""
    ctx, reply, state = inp.ctx, replied.reply, replied.after
    firsts = (director, replied.outcome)
    calls = [o.call for o in firsts]
    traces = {o.call.agent: o.context for o in firsts if o.context is not None}
    world, ending = world_after(inp, plan, replied)
    snapshot = {**state.snapshot(), "turn": ctx.turn, "world": world}
    messages = [NewMessage(sender=Sender.PLAYER, content=text_content(ctx.player_text))]
    if plan.narration:
        messages.append(
            NewMessage(
                sender=Sender.NARRATOR,
                content=text_content(plan.narration),
                model=inp.models[Role.DIRECTOR],
            )
        )
    line = PartnerLine(
        dialogue=reply.dialogue,
        action=reply.action,
        mood=state.mood,
        deltas=replied.applied,
        plan=plan.model_dump(),
        context=traces,
        extras=EXTRAS_PENDING,  # done once the second transaction has attached them
        stopped=replied.stopped,
    )
    messages.append(
        NewMessage(
            sender=Sender.PARTNER,
            content=line.to_json(),
            processing_time_ms=(time.monotonic() - t0) * 1000,
            model=inp.models[Role.PARTNER],
            partner_state_snapshot=snapshot,
            prompt_tokens=sum(c.prompt_tokens for c in calls),
            completion_tokens=sum(c.completion_tokens for c in calls),
        )
    )
    record = TurnRecord(
        session_id=inp.session_id,
        turn_id=turn_id,
        expected_head=inp.head_id,
        messages=messages,
        partner_state=state,
        world_state=world,
        agent_calls=calls,
        ending=ending.id if ending else None,
    )
    return Recorded(record, replied, ending, traces)


def committed_events(recorded: Recorded, t0: float) -> Iterator[ev.Event]:
    """`ending_reached` (if it did), then `turn_committed`: the player may speak again."""
    record, ending, calls = recorded.record, recorded.ending, recorded.calls
    turn_id = record.turn_id
    if ending is not None:
        yield ev.EndingReached(
            turn_id, ending_id=ending.id, title=ending.title, description=ending.description
        )
    costs = [c.cost_usd for c in calls if c.cost_usd is not None]
    yield ev.TurnCommitted(
        turn_id,
        session_id=record.session_id,
        message_ids=list(recorded.message_ids or []),
        wall_ms=(time.monotonic() - t0) * 1000,
        prompt_tokens=sum(c.prompt_tokens for c in calls),
        completion_tokens=sum(c.completion_tokens for c in calls),
        cost_usd=sum(costs) if costs else None,
        agents=[call_summary(c, recorded.traces.get(c.agent)) for c in calls],
    )


def call_summary(call: AgentCall, context: dict[str, Any] | None = None) -> dict[str, Any]:
    """One agent call as the events report it (traces, `--events`, the eval's metrics)."""
    return {
        "agent": call.agent,
        "model": call.model,
        "ok": call.ok,
        "latency_ms": round(call.latency_ms, 1),
        "started_ms": round(call.started_at * 1000, 1),
        "prompt_tokens": call.prompt_tokens,
        "completion_tokens": call.completion_tokens,
        "cost_usd": call.cost_usd,
        "repairs": call.repairs,
        "retries": call.retries,
        "error": call.error,
        "context": context,
        "cached_tokens": ((context or {}).get("tokens") or {}).get("cached"),
    }
