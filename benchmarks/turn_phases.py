"""The two-phase turn on the embedded model: how soon after her reply the input is free, and
how long the extras (Visual Director, Strategist, Summarizer) take after it.

uv run python benchmarks/turn_phases.py [--turns 4] [--threads N]

Per turn, measured where a front end sees the events (the engine's async generator):
- reply end: her last word streamed (`partner_message`);
- input free: `turn_committed` (the reply and state change are stored; the TUI unlocks its input
  and `qualia chat` prints its prompt on that event);
- extras done: `extras_committed` (suggestions, picture prompt and memories stored).
Target (issue 11): input free ≤ 0.1 s after the reply.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

from _common import temp_home

LINES = [
    "Hello. Who are you?",
    "What happened to the Marguerite?",
    "Can I help with the ledgers?",
    "Tell me about the harbour master.",
    "Why is the fire still a secret?",
    "Show me the burned manifests.",
]


async def main(turns: int, threads: int | None) -> None:
    temp_home()
    from rich.console import Console
    from rich.table import Table

    from qualia_cli.config import load_settings
    from qualia_cli.engine import Engine
    from qualia_cli.engine import events as ev

    overrides = {"images": {"enabled": False}}
    if threads:
        overrides["local"] = {"n_threads": threads}
    engine = Engine(load_settings(**overrides))
    session = engine.new_session("fogbound_archive")
    t = Table(
        "turn",
        "reply s",
        "reply end → input free ms",
        "reply end → extras done s",
        "whole turn s",
        title=f"two-phase turn, embedded SmolLM2-135M, {turns} turns "
        f"(load {os.getloadavg()[0]:.2f} at start)",
    )
    free_ms: list[float] = []
    extras_s: list[float] = []
    for n in range(turns):
        t0 = time.perf_counter()
        reply_end = free = done = None
        async for event in session.turn(LINES[n % len(LINES)]):
            now = time.perf_counter()
            if isinstance(event, ev.PartnerMessage):
                reply_end = now
            elif isinstance(event, ev.TurnCommitted):
                free = now
            elif isinstance(event, ev.ExtrasCommitted):
                done = now
        if reply_end is None or free is None or done is None:
            print(f"turn {n + 1} failed")
            continue
        free_ms.append((free - reply_end) * 1000)
        extras_s.append(done - reply_end)
        t.add_row(
            str(n + 1),
            f"{reply_end - t0:.2f}",
            f"{free_ms[-1]:.1f}",
            f"{extras_s[-1]:.2f}",
            f"{done - t0:.2f}",
        )
    if free_ms:
        t.add_row(
            "median",
            "",
            f"{statistics.median(free_ms):.1f}",
            f"{statistics.median(extras_s):.2f}",
            "",
        )
    await engine.aclose()
    Console().print(t)
    print(f"load average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--turns", type=int, default=4)
    p.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: config)")
    args = p.parse_args()
    asyncio.run(main(args.turns, args.threads))
