"""Is the Scenario Generator's output playable on a given model? Generate N scenarios, play
each for 3 turns on the same model, and say per scenario what makes it unplayable.

uv run python benchmarks/scenario_generator.py [--model local/smollm2] [--n 3] [--turns 3]

Playable means: it validates, every turn completes, the partner answers every turn with her
own words (not empty, not the same line again, not the scenario's text echoed back, not a
template placeholder), and the scenario's own texts are sentences (the world and opening are
not lists of keywords or cut off mid-word, the partner has a name that is not the genre).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time

from _common import table, temp_home

PLAYER_LINES = ["Hello. Who are you?", "What is this place?", "What should we do now?"]


def scenario_problems(sc: object) -> list[str]:
    from qualia_cli.scenario.models import Scenario

    assert isinstance(sc, Scenario)
    problems = []
    for label, text in (("world", sc.setting.world), ("opening", sc.opening)):
        words = re.findall(r"[A-Za-z']+", text)
        if len(words) < 12:
            problems.append(f"{label} has {len(words)} words")
        elif not re.search(r"[.!?…\"']\s*$", text.strip()):
            problems.append(f"{label} is cut off")
    generic = (sc.genre.lower(), "partner", "name", "character", "anonymous", "unknown")
    if sc.partner.name.lower() in generic:
        problems.append(f"partner is called {sc.partner.name!r}")
    for label, text in (
        ("speech_style", sc.partner.speech_style),
        ("backstory", sc.partner.backstory),
    ):
        letters = sum(ch.isalpha() or ch.isspace() for ch in text)
        if text and letters < 0.8 * len(text):
            problems.append(f"{label} is not prose ({text[:30]!r})")
    sentences = [x.strip().lower() for x in re.split(r"[.!?]", sc.setting.world) if x.strip()]
    if len(set(sentences)) < len(sentences):
        problems.append("world repeats itself")
    return problems


def reply_problems(replies: list[str], sc: object) -> list[str]:
    problems = []
    for i, reply in enumerate(replies, 1):
        text = reply.strip()
        if len(re.findall(r"[A-Za-z']+", text)) < 3:
            problems.append(f"turn {i}: reply {text!r}")
        elif "{{" in text or ("<" in text and ">" in text):
            problems.append(f"turn {i}: template text in the reply")
    if len(replies) > 1 and len({r.strip().lower() for r in replies}) < len(replies):
        problems.append("the same reply twice")
    return problems


async def main(model: str, n: int, turns: int) -> None:
    temp_home()
    from qualia_cli.config import load_settings
    from qualia_cli.engine import Engine
    from qualia_cli.engine.authoring import GenerationRequest
    from qualia_cli.engine.turn.summary import TurnSummary

    settings = load_settings(models={"default": model})
    engine = Engine(settings, pictures=False)
    rows: list[tuple[str, str]] = []
    playable = 0
    try:
        for seed in range(1, n + 1):
            t0 = time.perf_counter()
            try:
                result, path = await engine.authoring.generate(
                    GenerationRequest(seed=seed), model=model, allow_small_model=True
                )
            except Exception as err:  # a failed generation is a measured outcome
                rows.append((f"seed {seed}", f"generation failed: {err}"))
                continue
            gen_s = time.perf_counter() - t0
            sc = result.scenario
            session = engine.new_session(str(path))
            replies: list[str] = []
            failed = 0
            t1 = time.perf_counter()
            for line in PLAYER_LINES[:turns]:
                summary = TurnSummary()
                async for event in session.turn(line):
                    summary.add(event)
                failed += not summary.ok
                replies.append(summary.reply if summary.ok else "")
            play_s = time.perf_counter() - t1
            problems = scenario_problems(sc) + reply_problems(replies, sc)
            if failed:
                problems.insert(0, f"{failed} of {turns} turns failed")
            playable += not problems
            rows.append(
                (
                    f"seed {seed}: {sc.title!r} ({sc.genre}, {sc.partner.name})",
                    f"gen {gen_s:.0f}s (attempt {result.attempts}), play {play_s:.0f}s: "
                    + ("playable" if not problems else "; ".join(problems)),
                )
            )
            for i, r in enumerate(replies, 1):
                rows.append((f"  turn {i} reply", r[:100]))
    finally:
        await engine.aclose()
    rows.append(("playable", f"{playable} of {n}"))
    table(f"Scenario Generator on {model}: playable after {turns} turns", rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="local/smollm2")
    parser.add_argument("--n", type=int, default=3)
    parser.add_argument("--turns", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.model, args.n, args.turns))
