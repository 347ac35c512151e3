"""Story quality on the embedded model: the same player lines for every configuration.

uv run python benchmarks/story_quality.py [--turns 6] [--scenarios a,b] [--json out.json]

Each of the three bundled scenarios is played for --turns turns with fixed player lines (no
simulated player, so runs compare). Every partner reply is labelled by one rule:

- nonsense: junk (agents/quality.py: no words, field names, brackets, bare numbers) or a copy
  of the opening, her first message or an earlier reply (6 words in a row);
- on: otherwise, if it shares a content word (4+ letters, first 5 letters) with the player's line
  or is a question back to the player;
- weak: the rest.

It prints counts, distinct-2 over her replies, suggestions (distinct, not echoing the player's
line or the Strategist's own prompt) per turn, seconds per turn, first-token seconds, prompt
tokens per turn (and how many the llama.cpp cache served, when the server reports it), and the
Director's first-try validity. Images are off (text only). Run it on an idle machine for the
issue's targets; report `uptime` next to the figures otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from typing import Any

from _common import table, temp_home

LABELS = ("on", "weak", "nonsense")
LINES: dict[str, list[str]] = {
    "fogbound_archive": [
        "Good evening. I'm the investigator from the city.",
        "Which ledgers survived the fire?",
        "Tell me about the harbour master, Aldous Crane.",
        "Did anyone else have a key to the archive?",
        "Why are you helping me?",
        "Show me the manifests from the night of the fire.",
        "Who is Tobias?",
        "I think someone burned those pages on purpose.",
        "Can we look in the basement stacks?",
        "You seem nervous. What's wrong?",
        "Thank you for trusting me.",
        "What will you do when this is over?",
    ],
    "second_shelf": [
        "Hi! I just moved in upstairs.",
        "Sure, I'll help you carry the cookbooks.",
        "How long have you had the shop?",
        "Offer to help her with the work.",
        "What's your favourite book here?",
        "Is the shop doing all right?",
        "I could paint a new sign for the window.",
        "Who was the shop's owner before you?",
        "Let's make a reading corner by the window.",
        "Do you want to have dinner sometime?",
        "I'm glad I moved here.",
        "What should we do this weekend?",
    ],
    "halcyon_relay": [
        "What are you listening to?",
        "Play me the signal again.",
        "Eleven days until what?",
        "Have you told the commander?",
        "Whose voice is it?",
        "I think I heard my own name in the static.",
        "Let's trace where the signal comes from.",
        "How long have you been on this station?",
        "Are you all right? You look tired.",
        "I won't tell anyone.",
        "What happened to your last crew?",
        "We'll figure this out together.",
    ],
}


def label(reply: str, player: str, earlier: dict[str, str]) -> tuple[str, str | None, str | None]:
    from qualia_cli.agents.quality import copy_reason, junk_reason, words

    junk = junk_reason(reply)
    copied = None if junk else copy_reason(reply, earlier)
    if junk or copied:
        return "nonsense", junk, copied
    stems = {w[:5] for w in words(player) if len(w) >= 4}
    mine = {w[:5] for w in words(reply) if len(w) >= 4}
    if stems & mine or reply.strip().endswith("?"):
        return "on", None, None
    return "weak", None, None


async def play(name: str, turns: int, seed: int) -> list[dict[str, Any]]:
    from qualia_cli.config import load_settings
    from qualia_cli.engine import Engine
    from qualia_cli.engine import events as ev

    engine = Engine(load_settings())
    session = engine.new_session(name, seed=seed)
    sc = session.scenario if hasattr(session, "scenario") else engine.find_scenario(name)[1]
    earlier = {"opening": sc.opening or "", "first message": sc.first_message or ""}
    player_lines: list[str] = []
    rows: list[dict[str, Any]] = []
    for i, text in enumerate(LINES[name][:turns]):
        t0 = time.perf_counter()
        first: float | None = None
        row: dict[str, Any] = {"scenario": name, "turn": i + 1, "player": text, "ok": False}
        async for event in session.turn(text):
            if isinstance(event, ev.PartnerDelta) and first is None:
                first = time.perf_counter() - t0
            elif isinstance(event, ev.PartnerMessage):
                row["reply"] = event.dialogue
                row["reply_s"] = time.perf_counter() - t0
            elif isinstance(event, ev.StateChanged):
                row["deltas"] = event.deltas
            elif isinstance(event, ev.SuggestionsReady):
                row["suggestions"] = [s.get("text", "") for s in event.suggestions]
            elif isinstance(event, ev.TurnCommitted):
                row["ok"] = True
                row["agents"] = event.agents
                row["prompt_tokens"] = event.prompt_tokens
        row["wall_s"] = time.perf_counter() - t0
        row["first_s"] = first
        reply = row.get("reply", "")
        row["label"], row["junk"], row["copy"] = label(reply, text, earlier)
        earlier[f"reply {i + 1}"] = reply
        player_lines.append(text)
        rows.append(row)
        print(f"{name} {i + 1}: {row['label']:8} {row['wall_s']:5.1f}s  {reply!r}", flush=True)
    await engine.aclose()
    return rows


def suggestion_ok(row: dict[str, Any]) -> int:
    from qualia_cli.agents.quality import is_echo

    prompt_examples = ["Ask her what she is hiding.", "Offer to help her with the work."]
    good = {
        s.strip().lower()
        for s in row.get("suggestions", [])
        if not is_echo(s, row["player"], prompt_examples)
    }
    return len(good)


def summary(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    from qualia_cli.agents.quality import distinct_2

    n = len(rows)
    labels = [r["label"] for r in rows]
    calls = [a for r in rows for a in r.get("agents", [])]
    director = [a for a in calls if a["agent"] == "director" and a["model"] != "rules"]
    dir_first = sum(1 for a in director if a["ok"] and not a["repairs"] and not a["retries"])
    cached = [a.get("cached_tokens") for a in calls if a.get("cached_tokens") is not None]
    good_sugg = [suggestion_ok(r) for r in rows]
    walls = [r["wall_s"] for r in rows]
    firsts = [r["first_s"] for r in rows if r.get("first_s")]
    replies_s = [r["reply_s"] for r in rows if r.get("reply_s")]
    partner = [a for a in calls if a["agent"] == "partner"]
    prompts = [r.get("prompt_tokens", 0) for r in rows]
    out = [
        ("turns (complete)", f"{n} ({sum(r['ok'] for r in rows)})"),
        (
            "on / weak / nonsense",
            "/".join(str(labels.count(k)) for k in ("on", "weak", "nonsense")),
        ),
        ("copies", str(sum(1 for r in rows if r["copy"]))),
        ("junk", str(sum(1 for r in rows if r["junk"]))),
        ("distinct-2 (her replies)", f"{distinct_2(r.get('reply', '') for r in rows):.2f}"),
        ("turns with >= 2 good suggestions", f"{sum(g >= 2 for g in good_sugg)}/{n}"),
        ("good suggestions per turn", f"{statistics.mean(good_sugg):.2f}"),
        (
            "director first-try valid",
            f"{dir_first}/{len(director)}" if director else "not called",
        ),
        ("turn s (median / max)", f"{statistics.median(walls):.1f} / {max(walls):.1f}"),
        ("first token s (median)", f"{statistics.median(firsts):.2f}" if firsts else "-"),
        ("reply done s (median)", f"{statistics.median(replies_s):.2f}" if replies_s else "-"),
        (
            "prompt tokens per turn",
            f"{statistics.mean(prompts):.0f}",
        ),
        ("model calls per turn", f"{len(calls) / n:.1f}"),
        (
            "partner prompt / completion tokens",
            f"{statistics.mean(a['prompt_tokens'] for a in partner):.0f} / "
            f"{statistics.mean(a['completion_tokens'] for a in partner):.0f}"
            if partner
            else "-",
        ),
    ]
    if cached:
        out.append(("cached prompt tokens per call (mean)", f"{statistics.mean(cached):.0f}"))
    return out


async def main(turns: int, scenarios: list[str], seed: int, out: str | None) -> None:
    temp_home()
    os.environ.setdefault("QUALIA_IMAGES__ENABLED", "false")
    rows: list[dict[str, Any]] = []
    for name in scenarios:
        rows += await play(name, turns, seed)
        if out:  # after every scenario, so a long run that is stopped keeps what it measured
            with open(out, "w", encoding="utf-8") as fh:
                json.dump(rows, fh, indent=1, ensure_ascii=False, default=str)
    load = os.getloadavg()[0]
    table(
        f"story quality, {len(scenarios)} scenarios x {turns} turns, load {load:.2f}",
        summary(rows),
    )


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--turns", type=int, default=6)
    p.add_argument("--scenarios", default=",".join(LINES))
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--json", dest="out")
    a = p.parse_args()
    asyncio.run(main(a.turns, a.scenarios.split(","), a.seed, a.out))
