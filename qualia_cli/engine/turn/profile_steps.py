"""The turn's steps that depend on the agent profile (agents/profile.py) and the quality gate.

Called by the turn's steps (engine/turn/plan.py, reply.py, extras.py), one line each:

- ``director_step``: the Director's call, or (small profile) a plan by rules without a call;
- ``review_partner``: the quality gate on her reply (regenerate a copy or junk once, keep the
  better one, mark it in the trace), then her reaction turned into stat changes;
- ``visual_step``: the Visual Director's call, or its answer composed from the scene when no
  ComfyUI server would read its tags (small profile with images off or on the sketch renderer);
- ``suggestions_step``: usable suggestions (distinct, no echo; scenario fallbacks).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from qualia_cli.agents.director import Director, DirectorPlan
from qualia_cli.agents.partner import Partner, PartnerReply
from qualia_cli.agents.profile import (
    agreed_reaction,
    is_small,
    profile_for,
    reaction_deltas,
    usable_suggestions,
    visual_from_scene,
)
from qualia_cli.agents.quality import complete_sentences, copy_reason, junk_reason, reply_score
from qualia_cli.agents.visual import Visual
from qualia_cli.engine.turn.calls import AgentOutcome, run_agent, stable_seed
from qualia_cli.roles import Role, Sender
from qualia_cli.store.records import AgentCall

if TYPE_CHECKING:
    from qualia_cli.agents.context import StoryContext
    from qualia_cli.config import Settings
    from qualia_cli.engine.turn.caller import AgentCaller, TurnInputs

log = logging.getLogger("qualia.engine")

RULES = "rules"  # the model name of a step done by rules (no model call)
RECENT_REPLIES = 4  # her replies a new one must not copy
GATE_PENALTY = 0.5  # added to the frequency penalty for the regenerated reply


def _by_rules(role: str, value: Any, offset: float) -> AgentOutcome[Any]:
    call = AgentCall(agent=role, model=RULES, ok=True, latency_ms=0.0, started_at=offset)
    return AgentOutcome(value, call, context={"by_rules": True})


async def director_step(
    caller: AgentCaller, inp: TurnInputs, t0: float, fallback: DirectorPlan
) -> AgentOutcome[DirectorPlan]:
    """The small profile plans by rules: the scene stays; endings come from conditions."""
    if is_small(inp.ctx):
        return _by_rules(Role.DIRECTOR, fallback, 0.0)
    return await caller.call(Director, Role.DIRECTOR, inp, t0)


def earlier_texts(ctx: StoryContext) -> dict[str, str]:
    """What a reply must not copy: the opening, her first message, her recent replies, and
    the player's own line (SmolLM2 often answers "…where do they go?" with "Where do they go?")."""
    s = ctx.scenario
    out = {"opening": s.opening, "first message": s.first_message, "player's line": ctx.player_text}
    replies = [m for m in ctx.history if m.sender == Sender.PARTNER][-RECENT_REPLIES:]
    for m in replies:
        out[f"reply {m.id}"] = m.said
    return {k: v for k, v in out.items() if v}


def reply_problem(reply: PartnerReply, earlier: dict[str, str]) -> str | None:
    junk = junk_reason(reply.dialogue)
    if junk:
        return f"junk: {junk}"
    copied = copy_reason(reply.dialogue, earlier)
    return f"copies the {copied}" if copied else None


async def review_partner(
    caller: AgentCaller, inp: TurnInputs, t0: float, outcome: AgentOutcome[PartnerReply], **kw: Any
) -> AgentOutcome[PartnerReply]:
    """Regenerate a copied or junk reply once (another seed, a stronger repetition penalty) and
    keep the better of the two; the trace says what happened (``context.quality_gate``)."""
    ctx = inp.ctx
    if outcome.value is None:
        return outcome
    earlier = earlier_texts(ctx)
    problem = reply_problem(outcome.value, earlier)
    kept = outcome
    if problem:
        settings = caller.settings
        budget = settings.agent_budget(Role.PARTNER)
        second = await run_agent(
            Partner,
            ctx,
            router=caller.router,
            model_name=inp.models[Role.PARTNER],
            budget_tokens=settings.context_tokens(
                Role.PARTNER, caller.router.context_window(inp.models[Role.PARTNER])
            ),
            max_tokens=budget.max_tokens,
            temperature=min(1.2, settings.temperature + 0.2),
            frequency_penalty=min(2.0, settings.frequency_penalty + GATE_PENALTY),
            seed=stable_seed(inp.seed(Role.PARTNER), "quality-gate"),
            turn_started=t0,
            stronger=True,
            **kw,
        )
        first_score = reply_score(outcome.value.dialogue, earlier, ctx.player_text)
        second_score = (
            reply_score(second.value.dialogue, earlier, ctx.player_text) if second.value else -1.0
        )
        kept = second if second.value is not None and second_score > first_score else outcome
        other = outcome if kept is second else second
        kept.call.latency_ms += other.call.latency_ms
        kept.call.prompt_tokens += other.call.prompt_tokens
        kept.call.completion_tokens += other.call.completion_tokens
        kept.call.started_at = outcome.call.started_at
        gate = {
            "problem": problem,
            "regenerated": True,
            "kept": "second" if kept is second else "first",
            "second_problem": reply_problem(second.value, earlier) if second.value else "failed",
            "first_dialogue": outcome.value.dialogue,
        }
        kept.context = {**(kept.context or {}), "quality_gate": gate}
        log.info("quality gate: %s; kept the %s reply", problem, gate["kept"])
    reply = kept.value
    assert reply is not None
    if is_small(ctx):  # a tiny model is often cut by max_tokens: end on a whole sentence
        reply.dialogue = complete_sentences(reply.dialogue)
        reply.action = complete_sentences(reply.action)
    if is_small(ctx) and reply.reaction:
        max_delta = int(ctx.extras.get("max_stat_delta", 5))
        reaction = agreed_reaction(reply.reaction, reply.mood)
        if reaction != reply.reaction and kept.context is not None:
            kept.context["reaction_dropped"] = f"{reply.reaction} while {reply.mood}"
        reply.stat_deltas = reaction_deltas(ctx.scenario, reaction, max_delta)
    return kept


def profile_extras(settings: Settings, models: dict[str, str]) -> dict[str, Any]:
    """What a turn's context carries for the agents: the stat cap, the profile, the slots."""
    return {
        "max_stat_delta": settings.max_stat_delta,
        "profile": profile_for(settings, models.get(Role.PARTNER, "")),
        "local_slots": settings.local.n_parallel,
    }


def composes_visual(settings: Settings, ctx: StoryContext) -> bool:
    """No model call for the Visual Director when nothing would read its SDXL tags."""
    return is_small(ctx) and (not settings.images.enabled or not settings.images.comfyui_url)


def visual_step(
    caller: AgentCaller, inp: TurnInputs, t0: float, **kw: Any
) -> Awaitable[AgentOutcome[Any]]:
    if composes_visual(caller.settings, inp.ctx):

        async def composed() -> AgentOutcome[Any]:
            keys = ("location", "time", "mood", "action", "scene_changed")
            plan = visual_from_scene(inp.ctx, **{k: kw[k] for k in keys})
            return _by_rules(Role.VISUAL, plan, 0.0)

        return composed()
    return caller.call(Visual, Role.VISUAL, inp, t0, **kw)


def suggestions_step(
    strategist: AgentOutcome[Any], ctx: StoryContext, dialogue: str
) -> list[dict[str, str]]:
    raw = [s.model_dump() for s in strategist.value.suggestions] if strategist.value else []
    usable, from_model = usable_suggestions(raw, ctx, dialogue)
    if strategist.context is not None:
        strategist.context["suggestions_kept"] = from_model
        strategist.context["suggestions_offered"] = len(raw)
    return usable
