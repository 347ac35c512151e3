"""The embedded model: load time, decode tokens/s, and wall time of full turns.

uv run python benchmarks/embedded_model.py [--turns 3] [--threads 1,2]

--threads runs the speed probe (prompt reading and decoding tokens/s) once per thread count,
each in a fresh process (the server is per process), so 1 vs 2 threads compare on the same
load. Turn rows split each agent's prompt into cached and evaluated tokens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time

from _common import table, temp_home


async def main(turns: int) -> None:
    temp_home()
    from qualia_cli.config import load_settings
    from qualia_cli.engine import Engine
    from qualia_cli.engine import events as ev
    from qualia_cli.llm.base import Request

    settings = load_settings()
    engine = Engine(settings)
    t0 = time.perf_counter()
    engine.router.resolve("local/smollm2")
    load_s = time.perf_counter() - t0
    provider, model_id = engine.router.resolve("local/smollm2")
    decode = []
    for seed in range(3):
        c = await provider.complete(
            Request(
                messages=[{"role": "user", "content": "Tell me a long story about the sea."}],
                model=model_id,
                max_tokens=200,
                temperature=0.7,
                seed=seed,
            )
        )
        decode.append(c.usage.completion_tokens / (c.latency_ms / 1000))
    session = engine.new_session("fogbound_archive")
    walls, firsts, replies, rates, per_agent = [], [], [], [], {}
    split: dict[str, list[tuple[int, int]]] = {}
    for i, text in enumerate(["Hello. Who are you?", "What happened here?", "Can I help?"][:turns]):
        t0 = time.perf_counter()
        first = None
        reply = 0.0
        async for event in session.turn(text):
            if isinstance(event, ev.PartnerDelta) and first is None:
                first = time.perf_counter() - t0
            if isinstance(event, ev.TurnCommitted):  # her reply is saved: the input is free
                reply = time.perf_counter() - t0
            if isinstance(event, ev.ExtrasCommitted):  # agents of the whole turn
                for a in event.agents:
                    per_agent.setdefault(a["agent"], []).append(a["latency_ms"])
                    tokens = (a.get("context") or {}).get("tokens") or {}
                    if tokens.get("cached") is not None:
                        split.setdefault(a["agent"], []).append(
                            (tokens["cached"], tokens["evaluated"])
                        )
                    if a["latency_ms"] and a["completion_tokens"]:
                        rates.append(a["completion_tokens"] / (a["latency_ms"] / 1000))
        walls.append(time.perf_counter() - t0)
        firsts.append(first or 0.0)
        replies.append(reply)
        print(f"turn {i + 1}: {walls[-1]:.2f}s")
    await engine.aclose()
    rows = [
        ("model load s", f"{load_s:.2f}"),
        (
            "plain decode tok/s, 200 tokens, no schema (median of 3)",
            f"{statistics.median(decode):.0f}",
        ),
        ("turn wall s (median)", f"{statistics.median(walls):.2f}"),
        ("first partner token s (median)", f"{statistics.median(firsts):.2f}"),
        ("reply complete (turn_committed) s (median)", f"{statistics.median(replies):.2f}"),
        ("completion tok/s per call incl. prompt (median)", f"{statistics.median(rates):.0f}"),
    ]
    rows += [
        (f"{k} latency ms (median)", f"{statistics.median(v):.0f}") for k, v in per_agent.items()
    ]
    rows += [
        (
            f"{k} prompt tokens cached / evaluated (mean)",
            f"{statistics.mean(c for c, _ in v):.0f} / {statistics.mean(e for _, e in v):.0f}",
        )
        for k, v in split.items()
    ]
    table(f"embedded SmolLM2-135M, {turns} turns, load {os.getloadavg()[0]:.2f}", rows)


async def probe() -> None:
    """Prompt reading and decoding speed of a fresh server (threads from the environment)."""
    temp_home()
    from qualia_cli.config import load_settings
    from qualia_cli.engine import Engine
    from qualia_cli.llm.base import Request

    engine = Engine(load_settings())
    provider, model_id = engine.router.resolve("local/smollm2")
    long_prompt = " ".join(f"Line {i}: the lamp room log mentions ships." for i in range(90))
    read, decode = [], []
    for seed in range(3):
        c = await provider.complete(
            Request(
                messages=[{"role": "user", "content": f"{seed} {long_prompt}"}],
                model=model_id,
                max_tokens=1,
                seed=seed,
                extra={"cache_prompt": False},
            )
        )
        read.append(c.usage.prompt_tokens / (c.latency_ms / 1000))
        c = await provider.complete(
            Request(
                messages=[{"role": "user", "content": "Tell me a long story about the sea."}],
                model=model_id,
                max_tokens=120,
                temperature=0.7,
                seed=seed,
            )
        )
        decode.append(c.usage.completion_tokens / (c.latency_ms / 1000))
    await engine.aclose()
    print(json.dumps({"read": statistics.median(read), "decode": statistics.median(decode)}))


def threads(counts: list[int]) -> None:
    rows = []
    for n in counts:
        env = {**os.environ, "QUALIA_LOCAL__N_THREADS": str(n)}
        env["QUALIA_LOCAL__N_THREADS_BATCH"] = str(n)
        out = subprocess.run(
            [sys.executable, __file__, "--probe"], env=env, capture_output=True, text=True
        )
        last = (out.stdout.strip().splitlines() or ["{}"])[-1]
        data = json.loads(last) if last.startswith("{") else {}
        err = (out.stderr.strip().splitlines() or ["no output"])[-1][-90:]
        value = f"{data['read']:.0f} / {data['decode']:.0f}" if data else f"failed: {err}"
        rows.append((f"{n} thread(s): prompt read / decode tok/s", value))
    table(f"threads, load {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", rows)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--turns", type=int, default=3)
    p.add_argument("--threads", help="compare thread counts, e.g. 1,2 (no turns played)")
    p.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.probe:
        asyncio.run(probe())
    elif a.threads:
        threads([int(n) for n in a.threads.split(",")])
    else:
        asyncio.run(main(a.turns))
