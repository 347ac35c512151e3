"""The embedded model: load time, decode tokens/s, and wall time of full turns.

uv run python benchmarks/embedded_model.py [--turns 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
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
    walls, firsts, rates, per_agent = [], [], [], {}
    for i, text in enumerate(["Hello. Who are you?", "What happened here?", "Can I help?"][:turns]):
        t0 = time.perf_counter()
        first = None
        async for event in session.turn(text):
            if isinstance(event, ev.PartnerDelta) and first is None:
                first = time.perf_counter() - t0
            if isinstance(event, ev.TurnCommitted):
                for a in event.agents:
                    per_agent.setdefault(a["agent"], []).append(a["latency_ms"])
                    if a["latency_ms"] and a["completion_tokens"]:
                        rates.append(a["completion_tokens"] / (a["latency_ms"] / 1000))
        walls.append(time.perf_counter() - t0)
        firsts.append(first or 0.0)
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
        ("completion tok/s per call incl. prompt (median)", f"{statistics.median(rates):.0f}"),
    ]
    rows += [
        (f"{k} latency ms (median)", f"{statistics.median(v):.0f}") for k, v in per_agent.items()
    ]
    table(f"embedded SmolLM2-135M, {turns} turns", rows)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--turns", type=int, default=3)
    asyncio.run(main(p.parse_args().turns))
