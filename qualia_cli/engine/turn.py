"""One turn: Director → Partner (streamed) → Visual Director ∥ Strategist → one commit.

The turn is an async generator of events. Nothing is written until the very end, in one
transaction; if the generator is closed or cancelled before that, the session is untouched.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from qualia_cli.agents.context import StoryContext
from qualia_cli.agents.director import DirectorPlan
from qualia_cli.agents.partner import Partner
from qualia_cli.agents.strategist import Strategist
from qualia_cli.agents.summarizer import Summarizer
from qualia_cli.agents.visual import compose_prompt
from qualia_cli.config import Settings
from qualia_cli.engine import events as ev
from qualia_cli.engine.calls import AgentOutcome, run_agent, stable_seed
from qualia_cli.engine.images import ImageJobs
from qualia_cli.engine.profile_steps import (
    director_step,
    review_partner,
    suggestions_step,
    visual_step,
)
from qualia_cli.engine.state import apply_deltas
from qualia_cli.llm.parsing import partial_field
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
    ) -> None:
        self.settings = settings
        self.router = router
        self._commit = commit
        self.images = images
        self.memory = memory  # None: no memory, recall or summarizer (lore and budgets apply)

    async def _call(self, agent: Any, role: str, inp: TurnInputs, t0: float, **kw: Any) -> Any:
        budget = self.settings.agent_budget(role)
        return await run_agent(
            agent,
            inp.ctx,
            router=self.router,
            model_name=inp.models[role],
            budget_tokens=budget.context_tokens,
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
        queue: asyncio.Queue[str] = asyncio.Queue()
        shown = ""

        def on_text(raw: str) -> None:
            text = partial_field(raw, "dialogue")
            if text:
                queue.put_nowait(text)

        task = asyncio.ensure_future(
            self._call(Partner, "partner", inp, t0, on_text=on_text, guidance=plan.partner_guidance)
        )
        try:
            while not task.done() or not queue.empty():
                getter = asyncio.ensure_future(queue.get())
                await asyncio.wait({task, getter}, return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    getter.cancel()
                    continue
                text = getter.result()
                if len(text) > len(shown) and text.startswith(shown):
                    yield ev.PartnerDelta(turn_id, delta=text[len(shown) :], text=text)
                    shown = text
        finally:
            if not task.done():
                task.cancel()
        partner = await review_partner(self, inp, t0, task.result(), guidance=plan.partner_guidance)
        calls.append(partner.call)
        reply = partner.value
        if reply is None:
            yield self._error(turn_id, "partner", partner, fatal=True)
            yield ev.TurnFailed(turn_id, reason=str(partner.error))
            return

        before = ctx.state
        new_state, applied = apply_deltas(
            ctx.scenario,
            before,
            reply.stat_deltas,
            max_delta=self.settings.max_stat_delta,
            mood=reply.mood,
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
        )
        yield ev.StateChanged(
            turn_id, before=before.snapshot(), after=new_state.snapshot(), deltas=applied
        )

        # 3. Visual Director and Strategist side by side; each may fail alone.
        scene_changed = plan.scene_changed or new_state.location != before.location
        visual_task = visual_step(
            self,
            inp,
            t0,
            location=new_state.location,
            time=new_state.time,
            scene_changed=scene_changed,
            mood=new_state.mood,
            action=reply.action,
            dialogue=reply.dialogue,
            narration=plan.narration,
        )
        strategist_task = self._call(Strategist, "strategist", inp, t0, dialogue=reply.dialogue)
        # ... and the Summarizer beside them when older turns are due to be folded
        fold = plan_fold(ctx.memory, partner.context) if self.memory else []
        summarizer_task = self._summarize(inp, t0, fold)
        visual, strategist, summarizer = await asyncio.gather(
            visual_task, strategist_task, summarizer_task
        )
        calls += [visual.call, strategist.call]
        outcomes = [director, partner, visual, strategist]
        if summarizer is not None:
            calls.append(summarizer.call)
            outcomes.append(summarizer)
            if summarizer.value is None:
                yield self._error(turn_id, "summarizer", summarizer)
        traces = {o.call.agent: o.context for o in outcomes if o.context is not None}

        image_prompt: dict[str, Any] | None = None
        if visual.value is not None:
            positive, negative = compose_prompt(
                visual.value, ctx, new_state.location, new_state.time
            )
            generate = visual.value.generate or scene_changed
            image_prompt = {
                "prompt": positive,
                "negative_prompt": negative,
                "framing": visual.value.framing,
                "generate": generate,
                "scene_tags": visual.value.scene_tags,
            }
            yield ev.VisualPromptReady(
                turn_id,
                generate=generate,
                prompt=positive,
                negative_prompt=negative,
                framing=visual.value.framing,
            )
        else:
            yield self._error(turn_id, "visual", visual)

        if strategist.value is None:
            yield self._error(turn_id, "strategist", strategist)
        suggestions = suggestions_step(strategist, ctx, reply.dialogue)
        if suggestions:
            yield ev.SuggestionsReady(turn_id, suggestions=suggestions)

        # 4. Endings are decided by the scenario's conditions, never by the model alone.
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

        # 5. Commit everything at once.
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
        messages.append(
            NewMessage(
                sender="partner",
                content={
                    "dialogue": reply.dialogue,
                    "action": reply.action,
                    "mood": new_state.mood,
                    "deltas": applied,
                    "suggestions": suggestions,
                    "plan": plan.model_dump(),
                    "image": image_prompt,
                    "context": traces,
                },
                processing_time_ms=(time.monotonic() - t0) * 1000,
                model=inp.models["partner"],
                image_prompt=image_prompt["prompt"] if image_prompt else None,
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
        if self.images is not None and image_prompt and image_prompt["generate"]:
            # drawn in the background; its events go to engine.follow_images / image_events
            self.images.queue_turn(
                turn_id, inp.session_id, ids[-1], ctx.scenario, ctx.rating, new_state, image_prompt
            )
        costs = [c.cost_usd for c in calls if c.cost_usd is not None]
        if summarizer is not None and summarizer.value is not None:
            stored = await self._store_memories(inp, fold, summarizer)
            if stored:
                yield ev.MemoryStored(turn_id, memories=stored)
        if ending is not None:
            yield ev.EndingReached(
                turn_id, ending_id=ending.id, title=ending.title, description=ending.description
            )
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

    async def _summarize(
        self, inp: TurnInputs, t0: float, fold: list[Any]
    ) -> AgentOutcome[Any] | None:
        if not fold:
            return None
        return await self._call(Summarizer, "summarizer", inp, t0, fold=fold)

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
        "cached_tokens": ((context or {}).get("tokens") or {}).get("cached"),
        "completion_tokens": call.completion_tokens,
        "cost_usd": call.cost_usd,
        "repairs": call.repairs,
        "retries": call.retries,
        "error": call.error,
        "context": context,
    }
