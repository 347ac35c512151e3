"""The second phase of a turn: Visual Director ∥ Strategist ∥ Summarizer, after her reply is saved.

The first phase (turn/runner.py) commits the player's line, her reply and the state change and
emits `turn_committed`: the player may speak again. These agents then run in the background;
each one's event is emitted as soon as it is ready (`visual_prompt_ready` — and the picture is
queued —, `suggestions_ready`, `memory_stored`), and a second transaction attaches their results
to the partner message before `extras_committed`.

A turn started before they end (`ExtrasHandle.settle`): an unfinished Strategist is cancelled
(its suggestions would answer a line already gone; nothing is stored for it), the Summarizer is
awaited so its fold is never lost or done twice, and the Visual Director and its picture go on.
If the phase is abandoned (its consumer closed, the process killed) only the extras are lost;
turns the Summarizer did not fold are folded when it is next due.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from qualia_cli.agents.context import StoryContext
from qualia_cli.agents.director import DirectorPlan
from qualia_cli.agents.partner import PartnerReply
from qualia_cli.agents.strategist import Strategist
from qualia_cli.agents.summarizer import Summarizer
from qualia_cli.agents.visual import VisualPlan, compose_prompt
from qualia_cli.engine import events as ev
from qualia_cli.engine.pictures.jobs import ImageJobs
from qualia_cli.engine.turn.caller import AgentCaller, TurnInputs
from qualia_cli.engine.turn.calls import AgentOutcome
from qualia_cli.engine.turn.profile_steps import suggestions_step, visual_step
from qualia_cli.engine.turn.record import Recorded
from qualia_cli.memory.service import MemoryService
from qualia_cli.memory.summarize import plan_fold
from qualia_cli.roles import EXTRAS_AGENTS, Role
from qualia_cli.store.content import ExtrasUpdate
from qualia_cli.store.records import AgentCall, PartnerState

log = logging.getLogger("qualia.engine")

DROPPED = "dropped: the next turn started before it finished"


@dataclass
class ExtrasHandle:
    """The running extras of one committed turn (GameSession keeps the latest one)."""

    turn_id: str
    visual: asyncio.Task[AgentOutcome[Any]]
    strategist: asyncio.Task[AgentOutcome[Any]]
    summarizer: asyncio.Task[tuple[AgentOutcome[Any], list[dict[str, Any]]] | None]
    started: dict[str, float] = field(default_factory=dict)  # agent -> offset in the turn (s)
    dropped: list[str] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def finished(self) -> bool:
        return self.done.is_set()

    def tasks(self) -> list[asyncio.Task[Any]]:
        return [self.visual, self.strategist, self.summarizer]

    async def settle(self) -> None:
        """Make way for the next turn: drop stale suggestions, keep the fold, let the picture go."""
        if not self.strategist.done():
            self.strategist.cancel()
            self.dropped.append(Role.STRATEGIST)
        if not self.summarizer.done():
            await asyncio.wait({self.summarizer})

    def cancel(self) -> None:
        for task in self.tasks():
            if not task.done():
                task.cancel()


@dataclass
class ExtrasPlan:
    """What the first phase hands over: the committed message and what the agents need."""

    session_id: str
    turn_id: str
    message_id: int
    ctx: StoryContext
    state: PartnerState
    scene_changed: bool
    models: dict[str, str]
    t0: float
    first_calls: list[AgentCall]  # Director and Partner
    traces: dict[str, Any]
    dialogue: str = ""  # her reply, which suggestions must not repeat


def start_extras(
    plan: ExtrasPlan,
    *,
    visual: Awaitable[AgentOutcome[Any]],
    strategist: Awaitable[AgentOutcome[Any]],
    summarizer: Awaitable[tuple[AgentOutcome[Any], list[dict[str, Any]]] | None],
) -> ExtrasHandle:
    now = time.monotonic() - plan.t0
    return ExtrasHandle(
        plan.turn_id,
        visual=asyncio.ensure_future(visual),
        strategist=asyncio.ensure_future(strategist),
        summarizer=asyncio.ensure_future(summarizer),
        started=dict.fromkeys(EXTRAS_AGENTS, now),
    )


def _dropped_call(plan: ExtrasPlan, handle: ExtrasHandle, agent: str) -> AgentCall:
    offset = handle.started.get(agent, 0.0)
    return AgentCall(
        agent=agent,
        model=plan.models.get(agent, ""),
        ok=False,
        latency_ms=max(0.0, (time.monotonic() - plan.t0 - offset) * 1000),
        error=DROPPED,
        error_code="cancelled",
        started_at=offset,
    )


async def run_extras(
    plan: ExtrasPlan,
    handle: ExtrasHandle,
    *,
    attach: Callable[..., None],
    queue_image: Callable[[dict[str, Any]], None] | None,
    error: Callable[[str, AgentOutcome[Any]], ev.AgentError],
    summary: Callable[[AgentCall, dict[str, Any] | None], dict[str, Any]],
) -> AsyncIterator[ev.Event]:
    """Yield the extras' events as each is ready, then store them (the second transaction)."""
    turn_id = plan.turn_id
    calls: list[AgentCall] = []
    traces: dict[str, Any] = {}
    image_prompt: dict[str, Any] | None = None
    visual_answered = False  # its prompt (None if it failed) replaces the pending one
    kept: list[dict[str, str]] = []  # the suggestions offered
    order = {handle.visual: 0, handle.strategist: 1, handle.summarizer: 2}
    pending: set[asyncio.Task[Any]] = set(handle.tasks())
    try:
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in sorted(done, key=lambda t: order[t]):
                agent = EXTRAS_AGENTS[order[task]]
                if task.cancelled():
                    if agent not in handle.dropped:
                        handle.dropped.append(agent)
                    calls.append(_dropped_call(plan, handle, agent))
                    continue
                if task is handle.summarizer:
                    result = task.result()
                    if result is None:
                        continue
                    outcome, stored = result
                    calls.append(outcome.call)
                    if outcome.context is not None:
                        traces[Role.SUMMARIZER] = outcome.context
                    if outcome.value is None:
                        yield error(Role.SUMMARIZER, outcome)
                    elif stored:
                        yield ev.MemoryStored(turn_id, memories=stored)
                    continue
                outcome = task.result()
                calls.append(outcome.call)
                if outcome.context is not None:
                    traces[agent] = outcome.context
                if agent == Role.VISUAL:
                    image_prompt = _visual(plan, outcome.value)
                    visual_answered = True
                    if image_prompt is None:
                        yield error(Role.VISUAL, outcome)
                        continue
                    if queue_image is not None and image_prompt["generate"]:
                        queue_image(image_prompt)  # drawn in the background
                    yield ev.VisualPromptReady(
                        turn_id,
                        generate=image_prompt["generate"],
                        prompt=image_prompt["prompt"],
                        negative_prompt=image_prompt["negative_prompt"],
                        framing=image_prompt["framing"],
                    )
                else:  # usable ones only (distinct, no echo), the scenario's when too few
                    if outcome.value is None:
                        yield error(Role.STRATEGIST, outcome)
                    suggestions = suggestions_step(outcome, plan.ctx, plan.dialogue)
                    if suggestions:
                        kept = suggestions
                        yield ev.SuggestionsReady(turn_id, suggestions=suggestions)
        # stored and reported in one order whatever finished first (traces, exports and
        # replays read the same turn the same way)
        calls.sort(key=lambda c: _ORDER.get(c.agent, len(_ORDER)))
        update = ExtrasUpdate(
            context=traces,
            image=image_prompt,
            visual_answered=visual_answered,
            suggestions=kept,
            dropped=list(handle.dropped),
        )
        try:
            await asyncio.to_thread(
                attach,
                plan.session_id,
                turn_id,
                plan.message_id,
                update.to_json(),
                image_prompt["prompt"] if image_prompt else None,
                calls,
            )
        except Exception as err:  # the reply is saved already: only the extras are lost
            log.exception("could not store the extras of turn %s", turn_id)
            yield ev.AgentError(turn_id, agent="extras", code="store", message=str(err))
            return
        every = plan.first_calls + calls
        costs = [c.cost_usd for c in every if c.cost_usd is not None]
        all_traces = {**plan.traces, **traces}
        yield ev.ExtrasCommitted(
            turn_id,
            session_id=plan.session_id,
            message_id=plan.message_id,
            wall_ms=(time.monotonic() - plan.t0) * 1000,
            prompt_tokens=sum(c.prompt_tokens for c in every),
            completion_tokens=sum(c.completion_tokens for c in every),
            cost_usd=sum(costs) if costs else None,
            agents=[summary(c, all_traces.get(c.agent)) for c in every],
            dropped=list(handle.dropped),
        )
    finally:
        handle.cancel()  # abandoned (consumer closed or cancelled): only the extras are lost
        handle.done.set()


_ORDER = {agent: i for i, agent in enumerate(EXTRAS_AGENTS)}


def _visual(plan: ExtrasPlan, value: VisualPlan | None) -> dict[str, Any] | None:
    if value is None:
        return None
    state = plan.state
    positive, negative = compose_prompt(value, plan.ctx, state.location, state.time)
    return {
        "prompt": positive,
        "negative_prompt": negative,
        "framing": value.framing,
        "generate": value.generate or plan.scene_changed,
        "scene_tags": value.scene_tags,
    }


# -- starting them ------------------------------------------------------------------------


def extras_plan(inp: TurnInputs, recorded: Recorded, plan: DirectorPlan, t0: float) -> ExtrasPlan:
    """What the extras need from the committed first phase."""
    assert recorded.message_ids, "the first transaction comes first"
    replied = recorded.replied
    after, before = replied.after, replied.before
    return ExtrasPlan(
        session_id=inp.session_id,
        turn_id=recorded.record.turn_id,
        message_id=recorded.message_ids[-1],
        ctx=inp.ctx,
        state=after,
        scene_changed=plan.scene_changed or after.location != before.location,
        models=inp.models,
        t0=t0,
        first_calls=recorded.calls,
        traces=recorded.traces,
        dialogue=replied.reply.dialogue,
    )


def launch_extras(
    caller: AgentCaller,
    memory: MemoryService | None,
    extras: ExtrasPlan,
    inp: TurnInputs,
    plan: DirectorPlan,
    partner: AgentOutcome[PartnerReply],
) -> ExtrasHandle:
    """Start the Visual Director, the Strategist and (when due) the Summarizer side by side."""
    reply = partner.value
    assert reply is not None
    state = extras.state
    visual = visual_step(
        caller,
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
    strategist = caller.call(Strategist, Role.STRATEGIST, inp, extras.t0, dialogue=reply.dialogue)
    # ... and the Summarizer beside them when older turns are due to be folded
    fold = plan_fold(inp.ctx.memory, partner.context) if memory else []
    summarizer = _summarize(caller, memory, inp, extras.t0, fold)
    return start_extras(extras, visual=visual, strategist=strategist, summarizer=summarizer)


def image_queuer(
    images: ImageJobs | None, extras: ExtrasPlan
) -> Callable[[dict[str, Any]], None] | None:
    """How the Visual Director's prompt is queued for drawing (None: pictures are off)."""
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
    caller: AgentCaller,
    memory: MemoryService | None,
    inp: TurnInputs,
    t0: float,
    fold: list[Any],
) -> tuple[AgentOutcome[Any], list[dict[str, Any]]] | None:
    """Fold older turns into memories and store them (None: nothing was due)."""
    if not fold or memory is None:
        return None
    outcome = await caller.call(Summarizer, Role.SUMMARIZER, inp, t0, fold=fold)
    if outcome.value is None:
        return outcome, []
    return outcome, await _store_memories(memory, inp, fold, outcome)


async def _store_memories(
    memory: MemoryService, inp: TurnInputs, fold: list[Any], outcome: AgentOutcome[Any]
) -> list[dict[str, Any]]:
    """Memory is derived data: if storing fails, the same turns are folded next time."""
    try:
        saved = await asyncio.to_thread(
            memory.save, inp.session_id, fold, outcome.context, outcome.value
        )
    except Exception:
        log.exception("could not store the summarizer's memories")
        return []
    return [m.to_dict() for m in saved]
