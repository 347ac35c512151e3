"""The simulated player: a model in the `player` role writes the player's next line."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from qualia_cli.agents.context import StoryContext
from qualia_cli.agents.player import Player
from qualia_cli.engine.story.session import GameSession, last_suggestions
from qualia_cli.engine.turn.calls import run_agent, stable_seed


@dataclass
class PlayerLine:
    text: str | None
    error: str | None = None
    latency_ms: float = 0.0


async def next_player_line(
    session: GameSession, *, goal: str, model_name: str, seed: int = 0
) -> PlayerLine:
    """What the simulated player says next in `session`, towards `goal`."""
    history = await asyncio.to_thread(session.history)
    state = await asyncio.to_thread(lambda: session.state)
    turn = session._turn_number(history)
    ctx = StoryContext(
        scenario=session.scenario,
        state=state,
        world_state=dict(session.record.world_state),
        history=history,
        player_text="",
        turn=turn,
        pace=str(session.record.narrative_pace),
        rating=str(session.record.content_rating),
        player_name=session.scenario.player.name,
    )
    budget = session.settings.agent_budget("player")
    outcome = await run_agent(
        Player,
        ctx,
        router=session.router,
        model_name=model_name,
        budget_tokens=session.settings.context_tokens(
            "player", session.router.context_window(model_name)
        ),
        max_tokens=budget.max_tokens,
        temperature=session.settings.temperature,
        frequency_penalty=session.settings.frequency_penalty,
        seed=stable_seed(seed, turn, "player"),
        turn_started=time.monotonic(),
        goal=goal,
        suggestions=last_suggestions(history),
    )
    if outcome.value is None or not outcome.value.say.strip():
        return PlayerLine(None, str(outcome.error or "empty line"), outcome.call.latency_ms)
    return PlayerLine(outcome.value.say.strip(), None, outcome.call.latency_ms)
