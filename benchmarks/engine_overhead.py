"""Engine overhead per turn with a zero-latency scripted model, over N turns.

uv run python benchmarks/engine_overhead.py [--turns 200] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import statistics
import time

from _common import SUMMARIZER_ANSWER, table, temp_home


async def main(turns: int, profile: bool) -> None:
    temp_home()
    from fakes import ScriptedProvider

    from qualia_cli.config import load_settings
    from qualia_cli.engine import Engine
    from qualia_cli.llm.router import ModelRouter

    settings = load_settings(models={"default": "fake/zero"})
    router = ModelRouter(settings)
    router.register("fake", ScriptedProvider(answers={"summarizer": SUMMARIZER_ANSWER}))
    engine = Engine(settings, router=router)
    session = engine.new_session("fogbound_archive")
    times: list[float] = []
    profiler = cProfile.Profile()
    if profile:
        profiler.enable()
    started = time.perf_counter()
    for i in range(turns):
        t0 = time.perf_counter()
        async for _ in session.turn(f"turn {i}: tell me more"):
            pass
        times.append((time.perf_counter() - t0) * 1000)
    total = time.perf_counter() - started
    await engine.aclose()
    times.sort()
    if profile:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    table(
        f"engine overhead, zero-latency model, {turns} turns",
        [
            ("median ms/turn", f"{statistics.median(times):.2f}"),
            ("p95 ms/turn", f"{times[int(len(times) * 0.95) - 1]:.2f}"),
            ("first 10 median", f"{statistics.median(times[:10]):.2f}"),
            ("turns/s", f"{turns / total:.1f}"),
        ],
    )


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--turns", type=int, default=200)
    p.add_argument("--profile", action="store_true", help="print the 30 costliest calls")
    args = p.parse_args()
    asyncio.run(main(args.turns, args.profile))
