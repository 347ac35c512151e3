"""Critical path of a turn against a real OpenAI-compatible HTTP server on 127.0.0.1 that
answers every call after a fixed delay (default 100 ms).

Ideal: director + partner + max(visual, strategist) = 3 × delay, vs 4 × delay if sequential.

    uv run python benchmarks/critical_path.py [--delay 0.1] [--turns 10]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from _common import table, temp_home


async def main(delay: float, turns: int) -> None:
    temp_home()
    from support.openai_stub import StubServer

    from qualia_cli.config import load_settings
    from qualia_cli.engine import Engine
    from qualia_cli.engine import events as ev

    with StubServer(delay_s=delay) as stub:
        settings = load_settings(
            models={"default": "stub/bench"},
            endpoints={"stub": {"base_url": stub.base_url}},
        )
        engine = Engine(settings)
        session = engine.new_session("fogbound_archive")
        walls, sums, firsts = [], [], []
        for i in range(turns):
            t0 = time.perf_counter()
            first = None
            agents: list[dict] = []
            async for event in session.turn(f"question {i}"):
                if isinstance(event, ev.PartnerDelta) and first is None:
                    first = time.perf_counter() - t0
                if isinstance(event, ev.ExtrasCommitted):  # the whole turn's agents
                    agents = event.agents
            walls.append((time.perf_counter() - t0) * 1000)
            sums.append(sum(a["latency_ms"] for a in agents))
            firsts.append((first or 0) * 1000)
        await engine.aclose()
    table(
        f"turn critical path, server delay {delay * 1000:.0f} ms/call, {turns} turns (median)",
        [
            ("turn wall time ms", f"{statistics.median(walls):.0f}"),
            ("sum of agent times ms", f"{statistics.median(sums):.0f}"),
            ("critical path (3 calls) ms", f"{3 * delay * 1000:.0f}"),
            ("time to first partner token ms", f"{statistics.median(firsts):.0f}"),
            ("wall / critical path", f"{statistics.median(walls) / (3 * delay * 1000):.2f}"),
        ],
    )


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--delay", type=float, default=0.1)
    p.add_argument("--turns", type=int, default=10)
    a = p.parse_args()
    asyncio.run(main(a.delay, a.turns))
