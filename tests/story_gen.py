"""A long, varied, deterministic story for memory tests and benchmarks (scripted model answers).

`StoryScript` gives the player's line for each turn and scripted answers per agent: the Partner
replies with varied sentences and the Summarizer "reads" the passage in its prompt and keeps
the lines that state a fact (a name, a promise), like a real one would.
"""

from __future__ import annotations

import random
import re
from typing import Any

from qualia_cli.llm.base import Request

PLACES = ["ledger room", "sea wall", "tavern", "basement", "chapel steps", "boat shed"]
THINGS = [
    "the burned manifests",
    "a brass key",
    "the tide tables",
    "a wet glove",
    "the night ferry",
    "a torn envelope",
    "the lamp oil",
    "a crate of herring",
    "the harbour bell",
    "an old photograph",
    "the broken clock",
    "a sealed letter",
]
VERBS = ["found", "moved", "hid", "checked", "burned", "copied", "lost", "carried"]
WHEN = ["at dawn", "last winter", "after the storm", "on Sunday", "before the fire", "at noon"]
MOODS = ["curious", "thoughtful", "happy", "worried", "playful", "nervous"]


def player_line(turn: int, rng: random.Random) -> str:
    thing, verb, when = rng.choice(THINGS), rng.choice(VERBS), rng.choice(WHEN)
    place = rng.choice(PLACES)
    forms = [
        f"Who {verb} {thing} {when}?",
        f"I saw {thing} near the {place} {when}.",
        f"Let us look at {thing} in the {place}.",
        f"Did the keeper mention {thing}?",
        f"I think someone {verb} {thing} {when}.",
    ]
    return forms[turn % len(forms)]


def partner_line(rng: random.Random) -> str:
    thing, verb, when = rng.choice(THINGS), rng.choice(VERBS), rng.choice(WHEN)
    return f"Hm. Somebody {verb} {thing} {when}. Check the {rng.choice(PLACES)}."


_FACT = re.compile(r"(name is [A-Z]\w+(?: [A-Z]\w+)?|promise[sd]? [^.]+)")


def summarize(request: Request) -> dict[str, Any]:
    """The passage is the user message after 'Passage to remember:'."""
    text = request.messages[-1]["content"].split("Passage to remember:", 1)[-1]
    facts = []
    for line in text.splitlines():
        found = _FACT.search(line)
        if found:
            who = "The player's" if line.startswith("Player") else "Her"
            facts.append(f"{who} {found.group(1)}."[:140])
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return {"summary": f"They talked for {len(lines)} lines about the harbour.", "facts": facts}


class StoryScript:
    """Scripted answers for `ScriptedProvider(answers=StoryScript(seed).answers())`."""

    def __init__(self, seed: int = 7, name: str = "Edmund Harlow") -> None:
        self.rng = random.Random(seed)
        self.name = name

    def player(self, turn: int) -> str:
        if turn == 3:
            return f"My name is {self.name}, by the way. I came on the night ferry."
        return player_line(turn, self.rng)

    def _partner(self, request: Request) -> dict[str, Any]:
        return {
            "dialogue": partner_line(self.rng),
            "action": "taps the ledger",
            "mood": self.rng.choice(MOODS),
            "stat_deltas": {},
        }

    def answers(self) -> dict[str, Any]:
        return {"partner": self._partner, "summarizer": summarize}
