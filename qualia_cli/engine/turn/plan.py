"""The turn's first step, plan: gather what memory holds, then the Director plans the beat.

The Director may fail: the turn then carries on with a plan that keeps the scene as it is
(`fallback_plan`), and reports the failure as an `agent_error`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from qualia_cli.agents.context import StoryContext
from qualia_cli.agents.director import DirectorPlan
from qualia_cli.engine import events as ev
from qualia_cli.engine.turn.caller import AgentCaller, TurnInputs, agent_error
from qualia_cli.engine.turn.calls import AgentOutcome
from qualia_cli.engine.turn.profile_steps import director_step
from qualia_cli.memory.service import MemoryService
from qualia_cli.roles import Role


def fallback_plan(ctx: StoryContext) -> DirectorPlan:
    """ "Carry on": the scene stays where and when it is."""
    return DirectorPlan(
        beat="The conversation continues.",
        location=ctx.state.location,
        time=ctx.state.time,
    )


@dataclass
class Planned:
    """The Director's outcome, and the plan the turn follows (its own or the fallback)."""

    outcome: AgentOutcome[DirectorPlan]
    plan: DirectorPlan

    def events(self, turn_id: str) -> Iterator[ev.Event]:
        if self.outcome.value is None:
            yield agent_error(turn_id, Role.DIRECTOR, self.outcome)
        yield ev.DirectorPlanned(turn_id, plan=self.plan.model_dump())


async def plan_step(
    caller: AgentCaller, memory: MemoryService | None, inp: TurnInputs, t0: float
) -> Planned:
    ctx = inp.ctx
    if memory is not None and ctx.memory is None:  # memories, recall, token counters
        ctx.memory = await memory.prepare(ctx, inp.head_id, inp.models)
    outcome = await director_step(caller, inp, t0, fallback_plan(ctx))
    return Planned(outcome, outcome.value if outcome.value is not None else fallback_plan(ctx))
