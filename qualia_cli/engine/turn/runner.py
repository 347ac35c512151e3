"""One turn, in two phases: Director → Partner (streamed) → commit; then the extras → commit.

The turn is an async generator of events. Her reply and the state change are written in one
transaction as soon as she has finished (`turn_committed`: the player may speak again); closed or
cancelled before that, the session is untouched. The Visual Director, Strategist and Summarizer
then run in the background and a second transaction attaches their results to her message
(`extras_committed`, engine/turn/extras.py); closed before that, only the extras are lost.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from qualia_cli.agents.context import StoryContext
from qualia_cli.agents.director import DirectorPlan
from qualia_cli.agents.partner import Partner, PartnerReply
from qualia_cli.agents.strategist import Strategist
from qualia_cli.agents.summarizer import Summarizer
from qualia_cli.config import Settings
from qualia_cli.engine import events as ev
from qualia_cli.engine.pictures.jobs import ImageJobs
from qualia_cli.engine.turn.calls import AgentOutcome, run_agent, stable_seed
from qualia_cli.engine.turn.extras import ExtrasHandle, ExtrasPlan, run_extras, start_extras
from qualia_cli.engine.turn.partner_stream import STOPPED_EMPTY, PartnerRun, stream_partner
from qualia_cli.engine.turn.profile_steps import director_step, review_partner, visual_step
from qualia_cli.engine.turn.state import apply_deltas
from qualia_cli.llm.router import ModelRouter
from qualia_cli.logs import turn_context
from qualia_cli.memory.service import MemoryService
from qualia_cli.memory.summarize import plan_fold
from qualia_cli.scenario.conditions import ending_reached
from qualia_cli.store.records import AgentCall, NewMessage, TurnRecord

log = logging.getLogger("qualia.engine")


@dataclass
class TurnInputs:
    session_id: str
    head_id: int | None
    ctx: StoryContext
    models: dict[str, str]  # role -> "provider/model"
    nonce: str = ""  # varies the seeds (e.g. regenerate)
    seed_base: str | None = None  # a fixed session seed (scripts, eval): seeds follow the turn
    stop: asyncio.Event = field(default_factory=asyncio.Event)  # set: keep what has streamed

    def seed(self, role: str) -> int:
        if self.seed_base is not None:
            return stable_seed(self.seed_base, self.ctx.turn, role, self.nonce)
        return stable_seed(self.session_id, self.head_id, role, self.nonce)


def _fallback_plan(ctx: StoryContext) -> DirectorPlan:
    return DirectorPlan(
        beat="The conversation continues.",
        location=ctx.state.location,
        time=ctx.state.time,
    )


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
        self.settings = settings
        self.router = router
        self._commit = commit
        self.images = images
        self.memory = memory  # None: no memory, recall or summarizer (lore and budgets apply)
        self._attach_extras = attach or (lambda *args: None)  # Store.attach_extras
        self.on_extras = on_extras  # told about each turn's running extras

    async def _call(self, agent: Any, role: str, inp: TurnInputs, t0: float, **kw: Any) -> Any:
        budget = self.settings.agent_budget(role)
        return await run_agent(
            agent,
            inp.ctx,
            router=self.router,
            model_name=inp.models[role],
            budget_tokens=self.settings.context_tokens(
                role, self.router.context_window(inp.models[role])
            ),
            max_tokens=budget.max_tokens,
            temperature=self.settings.temperature,
            frequency_penalty=self.settings.frequency_penalty,
            seed=inp.seed(role),
            turn_started=t0,
            **kw,
        )

    async def run(self, inp: TurnInputs) -> AsyncIterator[ev.Event]:
        turn_id = uuid.uuid4().hex[:12]
        with turn_context(inp.session_id, turn_id):
            async for event in self._run(inp, turn_id):
                yield event

    async def _run(self, inp: TurnInputs, turn_id: str) -> AsyncIterator[ev.Event]:
        ctx = inp.ctx
        t0 = time.monotonic()
        calls: list[AgentCall] = []
        yield ev.TurnStarted(
            turn_id, session_id=inp.session_id, player_text=ctx.player_text, turn=ctx.turn
        )
        if self.memory is not None and ctx.memory is None:  # memories, recall, token counters
            ctx.memory = await self.memory.prepare(ctx, inp.head_id, inp.models)

        # 1. Director plans the beat (degrades to "carry on" if it fails).
        director: AgentOutcome[DirectorPlan] = await director_step(
            self, inp, t0, _fallback_plan(ctx)
        )
        calls.append(director.call)
        plan = director.value
        if plan is None:
            yield self._error(turn_id, "director", director)
            plan = _fallback_plan(ctx)
        yield ev.DirectorPlanned(turn_id, plan=plan.model_dump())

        # 2. Partner answers, streamed. Essential: if she fails, the turn fails.
        run = PartnerRun()
        async for delta in self._stream_partner(inp, t0, plan, turn_id, run):
            yield delta
        partner = run.outcome
        assert partner is not None
        if not run.stopped:  # the quality gate; the small profile's reaction → stat changes
            partner = await review_partner(self, inp, t0, partner, guidance=plan.partner_guidance)
        calls.append(partner.call)
        reply = partner.value
        if reply is None:
            if run.stopped:  # stopped before she said a word: nothing to keep
                yield ev.TurnFailed(turn_id, reason=STOPPED_EMPTY)
                return
            yield self._error(turn_id, "partner", partner, fatal=True)
            yield ev.TurnFailed(turn_id, reason=str(partner.error))
            return

        before = ctx.state
        new_state, applied = apply_deltas(
            ctx.scenario,
            before,
            {} if run.stopped else reply.stat_deltas,  # a cut answer changes no stat or mood
            max_delta=self.settings.max_stat_delta,
            mood=before.mood if run.stopped else reply.mood,
            location=plan.location,
            time=plan.time,
        )
        yield ev.PartnerMessage(
            turn_id,
            name=before.name,
            dialogue=reply.dialogue,
            action=reply.action,
            mood=new_state.mood,
            narration=plan.narration,
            stopped=run.stopped,
        )
        yield ev.StateChanged(
            turn_id, before=before.snapshot(), after=new_state.snapshot(), deltas=applied
        )

        # 3. Endings are decided by the scenario's conditions, never by the model alone.
        ending = ending_reached(
            ctx.scenario,
            new_state.stats,
            new_state.mood,
            new_state.location,
            new_state.time,
            ctx.turn,
        )
        world = dict(ctx.world_state)
        facts = dict(world.get("facts") or {})
        for fact in plan.world_updates:
            facts[fact.key] = fact.value
        world["facts"] = facts
        if ending is not None:
            world["ending"] = ending.id

        # 4. First transaction: her reply and the state change. The input is free after it.
        traces = {o.call.agent: o.context for o in (director, partner) if o.context is not None}
        snapshot = {**new_state.snapshot(), "turn": ctx.turn, "world": world}
        messages = [NewMessage(sender="player", content={"text": ctx.player_text})]
        if plan.narration:
            messages.append(
                NewMessage(
                    sender="narrator",
                    content={"text": plan.narration},
                    model=inp.models["director"],
                )
            )
        usage_p = sum(c.prompt_tokens for c in calls)
        usage_c = sum(c.completion_tokens for c in calls)
        content: dict[str, Any] = {
            "dialogue": reply.dialogue,
            "action": reply.action,
            "mood": new_state.mood,
            "deltas": applied,
            "suggestions": [],
            "plan": plan.model_dump(),
            "image": None,
            "context": traces,
            "extras": "pending",  # "done" once the second transaction has attached them
        }
        if run.stopped:
            content["stopped"] = True
        messages.append(
            NewMessage(
                sender="partner",
                content=content,
                processing_time_ms=(time.monotonic() - t0) * 1000,
                model=inp.models["partner"],
                partner_state_snapshot=snapshot,
                prompt_tokens=usage_p,
                completion_tokens=usage_c,
            )
        )
        record = TurnRecord(
            session_id=inp.session_id,
            turn_id=turn_id,
            expected_head=inp.head_id,
            messages=messages,
            partner_state=new_state,
            world_state=world,
            agent_calls=calls,
            ending=ending.id if ending else None,
        )
        ids = await asyncio.to_thread(self._commit, record)

        # 5. The extras start now, in the background (engine/turn/extras.py).
        extras = ExtrasPlan(
            session_id=inp.session_id,
            turn_id=turn_id,
            message_id=ids[-1],
            ctx=ctx,
            state=new_state,
            scene_changed=plan.scene_changed or new_state.location != before.location,
            models=inp.models,
            t0=t0,
            first_calls=calls,
            traces=traces,
            dialogue=reply.dialogue,
        )
        handle = self._start_extras(extras, inp, plan, reply, partner)
        if self.on_extras is not None:
            self.on_extras(handle)
        if ending is not None:
            yield ev.EndingReached(
                turn_id, ending_id=ending.id, title=ending.title, description=ending.description
            )
        costs = [c.cost_usd for c in calls if c.cost_usd is not None]
        yield ev.TurnCommitted(
            turn_id,
            session_id=inp.session_id,
            message_ids=ids,
            wall_ms=(time.monotonic() - t0) * 1000,
            prompt_tokens=usage_p,
            completion_tokens=usage_c,
            cost_usd=sum(costs) if costs else None,
            agents=[_call_summary(c, traces.get(c.agent)) for c in calls],
        )

        # 6. Second transaction: the extras, attached to her message as they end.
        async for event in run_extras(
            extras,
            handle,
            attach=self._attach_extras,
            queue_image=self._image_queuer(extras),
            error=lambda agent, outcome: self._error(turn_id, agent, outcome),
            summary=_call_summary,
        ):
            yield event

    async def _ask_partner(
        self,
        inp: TurnInputs,
        t0: float,
        plan: DirectorPlan,
        on_text: Callable[[str], None],
    ) -> AgentOutcome[PartnerReply]:
        """The Partner's call (one place to wrap it, e.g. to check and retry her answer)."""
        return await self._call(
            Partner, "partner", inp, t0, on_text=on_text, guidance=plan.partner_guidance
        )

    def _stream_partner(
        self, inp: TurnInputs, t0: float, plan: DirectorPlan, turn_id: str, run: PartnerRun
    ) -> AsyncIterator[ev.PartnerDelta]:
        """Her dialogue as deltas; `run.outcome` holds her answer (turn/partner_stream.py)."""
        return stream_partner(
            lambda on_text: self._ask_partner(inp, t0, plan, on_text),
            turn_id,
            run,
            stop=inp.stop,
            model=inp.models["partner"],
            mood=inp.ctx.state.mood,
            t0=t0,
        )

    def _start_extras(
        self,
        extras: ExtrasPlan,
        inp: TurnInputs,
        plan: DirectorPlan,
        reply: PartnerReply,
        partner: AgentOutcome[PartnerReply],
    ) -> ExtrasHandle:
        state = extras.state
        visual = visual_step(
            self,
            inp,
            extras.t0,
            location=state.location,
            time=state.time,
            scene_changed=extras.scene_changed,
            mood=state.mood,
            action=reply.action,
            dialogue=reply.dialogue,
            narration=plan.narration,
        )
        strategist = self._call(Strategist, "strategist", inp, extras.t0, dialogue=reply.dialogue)
        # ... and the Summarizer beside them when older turns are due to be folded
        fold = plan_fold(inp.ctx.memory, partner.context) if self.memory else []
        summarizer = self._summarize(inp, extras.t0, fold)
        return start_extras(extras, visual=visual, strategist=strategist, summarizer=summarizer)

    def _image_queuer(self, extras: ExtrasPlan) -> Callable[[dict[str, Any]], None] | None:
        images = self.images
        if images is None:
            return None

        def queue(image_prompt: dict[str, Any]) -> None:
            images.queue_turn(
                extras.turn_id,
                extras.session_id,
                extras.message_id,
                extras.ctx.scenario,
                extras.ctx.rating,
                extras.state,
                image_prompt,
            )

        return queue

    async def _summarize(
        self, inp: TurnInputs, t0: float, fold: list[Any]
    ) -> tuple[AgentOutcome[Any], list[dict[str, Any]]] | None:
        """Fold older turns into memories and store them (None: nothing was due)."""
        if not fold:
            return None
        outcome = await self._call(Summarizer, "summarizer", inp, t0, fold=fold)
        stored = await self._store_memories(inp, fold, outcome) if outcome.value is not None else []
        return outcome, stored

    async def _store_memories(
        self, inp: TurnInputs, fold: list[Any], outcome: AgentOutcome[Any]
    ) -> list[dict[str, Any]]:
        """Memory is derived data: if storing fails, the same turns are folded next time."""
        assert self.memory is not None
        try:
            saved = await asyncio.to_thread(
                self.memory.save, inp.session_id, fold, outcome.context, outcome.value
            )
        except Exception:
            log.exception("could not store the summarizer's memories")
            return []
        return [m.to_dict() for m in saved]

    @staticmethod
    def _error(
        turn_id: str, agent: str, outcome: AgentOutcome[Any], fatal: bool = False
    ) -> ev.AgentError:
        err = outcome.error
        return ev.AgentError(
            turn_id,
            agent=agent,
            code=err.code.value if err else "unknown",
            message=str(err),
            fatal=fatal,
        )


def _call_summary(call: AgentCall, context: dict[str, Any] | None = None) -> dict[str, Any]:
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
