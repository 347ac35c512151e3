"""Ask the model in the `judge` role to grade a transcript against a rubric.

A verdict that cannot be parsed (even after the corrective retry) comes back with `score`
None and `error` set: callers count it as a failure, never as a pass.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from qualia_cli.agents.context import StoryContext
from qualia_cli.agents.judge import Judge
from qualia_cli.config import Settings
from qualia_cli.engine.turn.calls import run_agent, stable_seed
from qualia_cli.engine.turn.state import initial_state
from qualia_cli.llm.router import ModelRouter
from qualia_cli.llm.tokens import estimate_tokens
from qualia_cli.memory.builder import prompt_messages
from qualia_cli.scenario.models import Scenario

JUDGE_TEMPERATURE = 0.0  # a grader should not be creative
OMITTED = "(earlier lines omitted)"


@dataclass
class Verdict:
    rubric: str
    model: str
    score: int | None
    explanation: str = ""
    error: str | None = None
    latency_ms: float = 0.0
    tokens: int = 0

    @property
    def ok(self) -> bool:
        return self.score is not None and self.error is None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def scenario_context(scenario: Scenario, *, pace: str | None = None) -> StoryContext:
    """A context for agents that look at a whole story rather than one turn of it."""
    return StoryContext(
        scenario=scenario,
        state=initial_state(scenario),
        world_state={},
        history=[],
        player_text="",
        turn=0,
        pace=pace or scenario.narrative_pace.value,
        rating=scenario.content_rating.value,
        player_name=scenario.player.name,
    )


def fit_transcript(transcript: str, budget_tokens: int) -> str:
    """The transcript's last lines that fit the budget (the whole of it if it fits)."""
    if estimate_tokens(transcript) <= budget_tokens:
        return transcript
    kept: list[str] = []
    used = estimate_tokens(OMITTED)
    for line in reversed(transcript.splitlines()):
        cost = estimate_tokens(line) + 1
        if used + cost > budget_tokens:
            break
        kept.append(line)
        used += cost
    return "\n".join([OMITTED, *reversed(kept)])


async def judge_transcript(
    settings: Settings,
    router: ModelRouter,
    scenario: Scenario,
    *,
    rubric: str,
    transcript: str,
    model_name: str,
    seed: int = 0,
) -> Verdict:
    budget = settings.agent_budget("judge")
    context_tokens = settings.context_tokens("judge", router.context_window(model_name))
    ctx = scenario_context(scenario)
    empty = prompt_messages(Judge, ctx, None, 0, rubric=rubric, transcript="")
    fixed = sum(estimate_tokens(m["content"]) for m in empty)
    outcome = await run_agent(
        Judge,
        ctx,
        router=router,
        model_name=model_name,
        budget_tokens=context_tokens,
        max_tokens=budget.max_tokens,
        temperature=JUDGE_TEMPERATURE,
        frequency_penalty=settings.frequency_penalty,
        seed=stable_seed(seed, rubric, "judge"),
        turn_started=time.monotonic(),
        rubric=rubric,
        transcript=fit_transcript(transcript, max(200, context_tokens - fixed)),
    )
    call = outcome.call
    tokens = call.prompt_tokens + call.completion_tokens
    if outcome.value is None:
        return Verdict(
            rubric,
            model_name,
            None,
            error=f"unparseable verdict: {outcome.error}",
            latency_ms=call.latency_ms,
            tokens=tokens,
        )
    return Verdict(
        rubric,
        model_name,
        outcome.value.score,
        outcome.value.explanation,
        latency_ms=call.latency_ms,
        tokens=tokens,
    )
