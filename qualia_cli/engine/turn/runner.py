"""One turn, as named steps: plan → reply → record → extras, in two phases.

The turn is an async generator of events; this module only sequences its steps:

1. plan (turn/plan.py): memory is gathered and the Director plans the beat (or it carries on);
2. reply (turn/reply.py): the Partner answers, streamed, and her state changes;
3. record (turn/record.py): the ending and world, then the first transaction — her reply and
   the state change — and `turn_committed`: the player may speak again. Closed or cancelled
   before that, the session is untouched;
4. extras (turn/extras.py): the Visual Director, Strategist and Summarizer run in the
   background and a second transaction attaches their results to her message
   (`extras_committed`); closed before that, only the extras are lost.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable

from qualia_cli.config import Settings
from qualia_cli.engine import events as ev
from qualia_cli.engine.pictures.jobs import ImageJobs
from qualia_cli.engine.turn.caller import AgentCaller, TurnInputs, agent_error
from qualia_cli.engine.turn.extras import (
    ExtrasHandle,
    extras_plan,
    image_queuer,
    launch_extras,
    run_extras,
)
from qualia_cli.engine.turn.plan import plan_step
from qualia_cli.engine.turn.record import call_summary, committed_events, turn_record
from qualia_cli.engine.turn.reply import ReplyRun, reply_step
from qualia_cli.llm.router import ModelRouter
from qualia_cli.logs import turn_context
from qualia_cli.memory.service import MemoryService
from qualia_cli.store.records import TurnRecord


class TurnRunner:
    def __init__(
        self,
        settings: Settings,
        router: ModelRouter,
        commit: Callable[[TurnRecord], list[int]],
        images: ImageJobs | None = None,
        *,
        memory: MemoryService | None = None,
        attach: Callable[..., None] | None = None,
        on_extras: Callable[[ExtrasHandle], None] | None = None,
    ) -> None:
        self.caller = AgentCaller(settings, router)
        self._commit = commit
        self.images = images
        self.memory = memory  # None: no memory, recall or summarizer (lore and budgets apply)
        self._attach_extras = attach or (lambda *args: None)  # Store.attach_extras
        self.on_extras = on_extras  # told about each turn's running extras

    async def run(self, inp: TurnInputs) -> AsyncIterator[ev.Event]:
        turn_id = uuid.uuid4().hex[:12]
        with turn_context(inp.session_id, turn_id):
            async for event in self._run(inp, turn_id):
                yield event

    async def _run(self, inp: TurnInputs, turn_id: str) -> AsyncIterator[ev.Event]:
        ctx, t0 = inp.ctx, time.monotonic()
        yield ev.TurnStarted(
            turn_id, session_id=inp.session_id, player_text=ctx.player_text, turn=ctx.turn
        )
        planned = await plan_step(self.caller, self.memory, inp, t0)
        for event in planned.events(turn_id):
            yield event
        run = ReplyRun()
        async for event in reply_step(self.caller, inp, t0, planned.plan, turn_id, run):
            yield event
        replied = run.replied
        if replied is None:  # she failed, or was stopped before a word: nothing is saved
            return
        plan = planned.plan
        recorded = turn_record(inp, turn_id, t0, planned.outcome, plan, replied)
        recorded.message_ids = await asyncio.to_thread(self._commit, recorded.record)
        extras = extras_plan(inp, recorded, plan, t0)
        handle = launch_extras(self.caller, self.memory, extras, inp, plan, replied.outcome)
        if self.on_extras is not None:
            self.on_extras(handle)
        for event in committed_events(recorded, t0):
            yield event
        async for event in run_extras(
            extras,
            handle,
            attach=self._attach_extras,
            queue_image=image_queuer(self.images, extras),
            error=lambda agent, outcome: agent_error(turn_id, agent, outcome),
            summary=call_summary,
        ):
            yield event
