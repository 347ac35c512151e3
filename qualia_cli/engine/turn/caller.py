"""What every step of a turn gets: the turn's inputs, and one way to call an agent for it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from qualia_cli.agents.context import StoryContext
from qualia_cli.config import Settings
from qualia_cli.engine import events as ev
from qualia_cli.engine.turn.calls import AgentOutcome, run_agent, stable_seed
from qualia_cli.llm.router import ModelRouter


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


class AgentCaller:
    """Calls an agent with the settings' budget, sampling and the turn's seed for its role."""

    def __init__(self, settings: Settings, router: ModelRouter) -> None:
        self.settings = settings
        self.router = router

    async def call(self, agent: Any, role: str, inp: TurnInputs, t0: float, **kw: Any) -> Any:
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


def agent_error(
    turn_id: str, agent: str, outcome: AgentOutcome[Any], fatal: bool = False
) -> ev.AgentError:
    """An agent's failure as the event front ends show ("<agent> unavailable: …")."""
    err = outcome.error
    return ev.AgentError(
        turn_id,
        agent=str(agent),
        code=err.code.value if err else "unknown",
        message=str(err),
        fatal=fatal,
    )
