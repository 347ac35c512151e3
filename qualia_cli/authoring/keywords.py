"""Fair variety for the Scenario Generator: a round-robin over unused keywords, persisted.

Each axis (genre, setting, hook) draws a keyword nobody has drawn since the axis last ran
out; when every keyword has been used, the axis starts a new round. The state is a small
JSON file in the data dir, so variety holds across runs; a damaged file starts over.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Sequence
from pathlib import Path

GENRES: tuple[str, ...] = (
    "mystery",
    "romance",
    "fantasy",
    "science fiction",
    "gothic horror",
    "comedy",
    "adventure",
    "slice of life",
    "historical drama",
    "thriller",
    "post-apocalyptic",
    "cyberpunk",
    "western",
    "fairy tale",
    "noir",
    "space opera",
)

SETTINGS: tuple[str, ...] = (
    "a lighthouse on a storm coast",
    "a night train crossing the mountains",
    "an orbital research station",
    "a desert caravan town",
    "a mountain monastery",
    "a half-flooded city",
    "a travelling circus",
    "an old university library",
    "a vineyard at harvest time",
    "an arctic weather base",
    "a smoky jazz club",
    "a royal court in decline",
    "a small-town bakery",
    "a deep-sea submarine",
    "a manor with a locked wing",
    "a floating market on a river",
    "a frontier mining camp",
    "an observatory above the clouds",
    "a ferry between two islands",
    "a botanical garden after hours",
    "a rooftop garden in a megacity",
    "a lantern festival in a river town",
    "a snowed-in mountain inn",
    "an abandoned amusement park",
)

HOOKS: tuple[str, ...] = (
    "a letter that arrives twenty years late",
    "a debt that must be paid by midnight",
    "a rival who is not what they seem",
    "a stolen heirloom",
    "a storm that cuts everyone off",
    "a promise made to someone now gone",
    "a map with one place scratched out",
    "a contest only one can win",
    "a stranger who knows the player's name",
    "a secret kept for the town's sake",
    "a machine that has started to dream",
    "an inheritance with strange conditions",
    "a song nobody admits to writing",
    "a door that opens only at night",
)

AXES: dict[str, tuple[str, ...]] = {"genre": GENRES, "setting": SETTINGS, "hook": HOOKS}


class KeywordRotation:
    def __init__(self, path: Path, rng: random.Random | None = None) -> None:
        self.path = path
        self.rng = rng or random.Random()

    def _load(self) -> dict[str, list[str]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {
            k: [x for x in v if isinstance(x, str)]
            for k, v in data.items()
            if isinstance(k, str) and isinstance(v, list)
        }

    def _save(self, state: dict[str, list[str]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp{os.getpid()}")
        tmp.write_text(json.dumps(state, indent=1), encoding="utf-8")
        tmp.replace(self.path)

    def draw(self, axis: str, pool: Sequence[str] | None = None) -> str:
        """A keyword of ``axis`` not used in the current round (and record it)."""
        return self.draw_many([axis], {axis: pool} if pool else None)[axis]

    def draw_many(
        self, axes: Sequence[str], pools: dict[str, Sequence[str]] | None = None
    ) -> dict[str, str]:
        state = self._load()
        out: dict[str, str] = {}
        for axis in axes:
            pool = list((pools or {}).get(axis) or AXES[axis])
            used = [k for k in state.get(axis, []) if k in pool]
            unused = [k for k in pool if k not in used]
            if not unused:  # a new round
                used, unused = [], pool
            choice = self.rng.choice(unused)
            state[axis] = [*used, choice]
            out[axis] = choice
        self._save(state)
        return out
