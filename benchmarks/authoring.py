"""Authoring and portability: card import/export, session export/import, and the Scenario
Generator on the embedded model.

uv run python benchmarks/authoring.py [--turns 300] [--entries 200] [--generations 2]
(--generations 0 skips the embedded model)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path

from _common import SUMMARIZER_ANSWER, table, temp_home


def timed(fn, repeat: int = 5) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), result


async def main(turns: int, entries: int, generations: int) -> None:
    home = temp_home()
    from fakes import ScriptedProvider
    from support.cards import b64, png_card, png_image, v3

    from qualia_cli.authoring.cards import read_card, scenario_from_card, write_card
    from qualia_cli.config import load_settings
    from qualia_cli.engine import Engine
    from qualia_cli.llm.router import ModelRouter

    rows: list[tuple[str, str]] = []
    work = Path(home) / "bench"
    work.mkdir()

    # cards: a V3 PNG with a big character book and a ~1 MB portrait
    book = {
        "name": "big",
        "entries": [
            {"keys": [f"key{i}", f"alias{i}"], "content": f"Lore entry {i}. " * 20, "id": i}
            for i in range(entries)
        ],
    }
    portrait = png_image(1024, 1024, (90, 60, 30))
    card = work / "big.png"
    card.write_bytes(png_card({"ccv3": b64(v3(character_book=book))}, portrait))
    ms, result = timed(lambda: scenario_from_card(read_card(card)))
    rows.append(
        (
            f"import V3 PNG card ({entries} lore entries, {card.stat().st_size // 1024} KB)",
            f"{ms:.1f} ms",
        )
    )
    scenario = result.scenario  # type: ignore[attr-defined]
    ms, _ = timed(lambda: write_card(scenario, work / "out.png", portrait))
    rows.append(("export V3+V2 PNG card", f"{ms:.1f} ms"))

    # sessions: a long one, exported and imported
    settings = load_settings(models={"default": "fake/zero"})
    router = ModelRouter(settings)
    router.register("fake", ScriptedProvider(answers={"summarizer": SUMMARIZER_ANSWER}))
    engine = Engine(settings, router=router)
    session = engine.new_session("fogbound_archive")
    for i in range(turns):
        async for _ in session.turn(f"turn {i}: tell me more"):
            pass
    for fmt in ("json", "html", "md"):
        ms, text = timed(lambda fmt=fmt: engine.library.export(session.id, fmt), repeat=3)
        rows.append(
            (f"export {turns}-turn session as {fmt} ({len(text) // 1024} KB)", f"{ms:.1f} ms")
        )  # type: ignore[arg-type]
    path = work / "s.json"
    path.write_text(engine.library.export(session.id, "json"))
    ms, _ = timed(lambda: engine.library.import_file(path), repeat=3)
    rows.append((f"import {turns}-turn session", f"{ms:.1f} ms"))
    await engine.aclose()

    # the generator on the embedded model
    if generations:
        from qualia_cli.engine.authoring import GenerationRequest

        engine = Engine(load_settings())
        times, tokens, attempts = [], 0, 0
        for _ in range(generations):
            t0 = time.perf_counter()
            result, _ = await engine.authoring.generate(GenerationRequest())
            times.append(time.perf_counter() - t0)
            tokens += sum(c.completion_tokens for c in result.calls)
            attempts += result.attempts
        await engine.aclose()
        rows.append(
            (
                f"scenario new on local/smollm2 (median of {generations})",
                f"{statistics.median(times):.1f} s",
            )
        )
        rows.append(("  completion tokens per scenario", f"{tokens / generations:.0f}"))
        rows.append(("  attempts per scenario", f"{attempts / generations:.1f}"))
    table("authoring and portability", rows)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--turns", type=int, default=300)
    p.add_argument("--entries", type=int, default=200)
    p.add_argument("--generations", type=int, default=2)
    a = p.parse_args()
    asyncio.run(main(a.turns, a.entries, a.generations))
