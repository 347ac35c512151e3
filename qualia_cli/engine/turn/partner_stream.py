"""The Partner's reply, streamed: dialogue deltas as they come, and stopping her mid-reply.

If the turn's `stop` flag is set while she speaks, what has streamed so far becomes her answer
(`PartnerRun.stopped`): her dialogue only — a cut answer carries no mood or stat change. Set
before her first word, the answer is empty and the turn ends unsaved.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from qualia_cli.agents.partner import PartnerReply
from qualia_cli.engine import events as ev
from qualia_cli.engine.turn.calls import AgentOutcome
from qualia_cli.llm.parsing import partial_field
from qualia_cli.roles import Role
from qualia_cli.store.records import AgentCall

STOPPED_EMPTY = "stopped before the partner said anything; nothing was saved"
MAX_DIALOGUE = 240  # PartnerReply.dialogue's limit


@dataclass
class PartnerRun:
    """The Partner's streamed answer: what has been shown, and how it ended."""

    shown: str = ""
    stopped: bool = False
    outcome: AgentOutcome[PartnerReply] | None = None


def stopped_outcome(
    shown: str, raw: str, *, model: str, mood: str, offset: float, started: float
) -> AgentOutcome[PartnerReply]:
    """Her answer cut by the player: the dialogue streamed so far (empty: no answer)."""
    text = shown.strip()
    call = AgentCall(
        agent=Role.PARTNER,
        model=model,
        ok=bool(text),
        latency_ms=(time.monotonic() - started) * 1000,
        error=f"stopped by the player after {len(text)} characters",
        error_code="stopped",
        raw_output=raw or None,
        started_at=offset,
    )
    value = PartnerReply(dialogue=text[:MAX_DIALOGUE], mood=mood) if text else None
    return AgentOutcome(value, call)


async def stream_partner(
    ask: Callable[[Callable[[str], None]], Awaitable[AgentOutcome[PartnerReply]]],
    turn_id: str,
    run: PartnerRun,
    *,
    stop: asyncio.Event,
    model: str,
    mood: str,
    t0: float,
) -> AsyncIterator[ev.PartnerDelta]:
    """Yield her dialogue as deltas while `ask(on_text)` runs; `run.outcome` is set at the end."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    raw = ""

    def on_text(text_so_far: str) -> None:
        nonlocal raw
        raw = text_so_far
        text = partial_field(text_so_far, "dialogue")
        if text:
            queue.put_nowait(text)

    started = time.monotonic()
    task = asyncio.ensure_future(ask(on_text))
    stopper = asyncio.ensure_future(stop.wait())
    try:
        while not task.done() or not queue.empty():
            getter = asyncio.ensure_future(queue.get())
            await asyncio.wait({task, getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if getter.done():
                text = getter.result()
                if len(text) > len(run.shown) and text.startswith(run.shown):
                    yield ev.PartnerDelta(turn_id, delta=text[len(run.shown) :], text=text)
                    run.shown = text
            else:
                getter.cancel()
            if stopper.done() and not task.done():
                task.cancel()
                run.stopped = True
                run.outcome = stopped_outcome(
                    run.shown, raw, model=model, mood=mood, offset=started - t0, started=started
                )
                return
    finally:
        stopper.cancel()
        if not task.done():
            task.cancel()
    run.outcome = task.result()
