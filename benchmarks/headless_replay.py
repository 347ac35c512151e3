"""What a CI run of the shipped playthroughs costs on cassettes: loading the cassettes, the
cost of a replayed turn, and the cost of keying a call.

uv run python benchmarks/headless_replay.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from _common import ROOT, table, temp_home


async def main(rounds: int) -> None:
    temp_home()
    from qualia_cli.engine.scripted.cassettes import load_cassette
    from qualia_cli.headless.loader import load_playthrough
    from qualia_cli.headless.runner import PlaythroughRunner, RunOptions
    from qualia_cli.llm.base import Request
    from qualia_cli.llm.cassette import request_key

    scripts = sorted((ROOT / "playthroughs").glob("*.play.yaml"))
    cassettes = sorted((ROOT / "playthroughs").glob("*.cassette.yaml"))
    size = sum(c.stat().st_size for c in cassettes)
    calls = 0
    load_ms: list[float] = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        calls = sum(len(load_cassette(c).interactions) for c in cassettes)
        load_ms.append((time.perf_counter() - t0) * 1000)

    turn_ms: list[float] = []
    run_s: list[float] = []
    turns = 0
    for _ in range(rounds):
        started = time.perf_counter()
        runner = PlaythroughRunner(RunOptions(mode="replay"))
        turns = 0
        for script in scripts:
            result = await runner.run_file(load_playthrough(script), [])
            for test in result.tests:
                assert test.status.value == "passed", test.failures
                for t in test.turns:
                    turns += 1
                    if t.summary is not None:
                        turn_ms.append(t.summary.wall_ms)
        run_s.append(time.perf_counter() - started)

    data = load_cassette(cassettes[0])
    biggest = max(data.interactions, key=lambda i: sum(len(m.content) for m in i.request.messages))
    request = Request(
        messages=[{"role": m.role, "content": m.content} for m in biggest.request.messages],
        model=biggest.model,
        agent=biggest.agent,
    )
    n = 2000
    t0 = time.perf_counter()
    for _ in range(n):
        request_key(biggest.provider, biggest.model, request)
    key_us = (time.perf_counter() - t0) / n * 1e6

    table(
        f"headless replay: {len(scripts)} scripts, {turns} turns, {calls} recorded calls",
        [
            ("cassettes on disk", f"{size / 1024:.0f} KiB in {len(cassettes)} files"),
            ("load + validate all cassettes (median)", f"{statistics.median(load_ms):.1f} ms"),
            ("replayed turn, engine wall time (median)", f"{statistics.median(turn_ms):.1f} ms"),
            ("replayed turn (p95)", f"{sorted(turn_ms)[int(len(turn_ms) * 0.95) - 1]:.1f} ms"),
            ("all scripts, in process (median)", f"{statistics.median(run_s):.2f} s"),
            ("request key of the largest call", f"{key_us:.0f} µs"),
        ],
    )


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=5)
    asyncio.run(main(p.parse_args().rounds))
