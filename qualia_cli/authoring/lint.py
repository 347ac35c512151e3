"""``qualia scenario validate``: errors from the loader plus warnings for weak content.

Errors make a scenario unusable (the loader's ``file:line:col: message``). Warnings point at
content that loads but plays badly: no endings, stats no ending reads, too few appearance
tags, a thin opening, an ending that holds from the very start, lore that never fits.
(A lore key that is not a valid regular expression is an error: the model rejects it.)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from qualia_cli.llm.tokens import estimate_tokens
from qualia_cli.scenario.conditions import (
    ConditionError,
    compile_condition,
    condition_context,
)
from qualia_cli.scenario.errors import Problem, ScenarioError
from qualia_cli.scenario.loader import load_scenario
from qualia_cli.scenario.models import Scenario
from qualia_cli.scenario.yaml_source import Loc, Locator, NoLocator, parse_yaml, read_text

MIN_OPENING_CHARS = 150
MIN_APPEARANCE_TAGS = 3
MAX_WORLD_TOKENS = 600


@dataclass
class Report:
    path: str
    scenario: Scenario | None = None
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, object]:
        def one(p: Problem) -> dict[str, object]:
            return {"line": p.line, "col": p.col, "message": p.message, "text": str(p)}

        return {
            "path": self.path,
            "ok": self.ok,
            "id": self.scenario.id if self.scenario else None,
            "errors": [one(p) for p in self.errors],
            "warnings": [one(p) for p in self.warnings],
        }


def validate_file(path: str | Path) -> Report:
    """Load ``path``; on success, lint it. Never raises for a bad file."""
    shown = str(path)
    report = Report(shown)
    try:
        report.scenario = load_scenario(path)
    except ScenarioError as err:
        report.errors = list(err.problems)
        return report
    try:
        locator: Locator = Locator(parse_yaml(read_text(Path(path)), shown))
    except ScenarioError:  # pragma: no cover - it just loaded
        locator = NoLocator()
    report.warnings = lint(report.scenario, shown, locator)
    return report


def lint(scenario: Scenario, path: str = "", locator: Locator | None = None) -> list[Problem]:
    """Warnings about weak content, located like errors (``file:line:col: warning: …``)."""
    loc8r = locator or NoLocator()
    out = []
    for loc, message in _checks(scenario):
        line, col = loc8r.at(loc)
        out.append(Problem(path, line, col, f"warning: {message}"))
    out.sort(key=lambda p: (p.line, p.col))
    return out


def _checks(s: Scenario) -> Iterator[tuple[Loc, str]]:
    stat_names = {st.name for st in s.stats}
    if not s.endings:
        yield (), "no endings: the story can never end (add endings with conditions)"
    else:
        read: set[str] = set()
        context = condition_context(
            s,
            {},
            s.starting_mood,
            s.setting.start_location,
            s.setting.start_time,
            1,
        )
        for i, ending in enumerate(s.endings):
            try:
                cond = compile_condition(ending.condition, stat_names)
            except ConditionError:  # pragma: no cover - the loader rejected it already
                continue
            read |= cond.names
            if cond.evaluate(context):
                yield (
                    ("endings", i, "condition"),
                    f"ending '{ending.id}' already holds at the first turn",
                )
        for i, st in enumerate(s.stats):
            if st.name not in read:
                yield ("stats", i, "name"), f"stat '{st.name}' is never read by an ending"
    tags = s.partner.appearance.tags
    if len(tags) < MIN_APPEARANCE_TAGS:
        yield (
            ("partner", "appearance", "tags"),
            f"only {len(tags)} appearance tag{'s' if len(tags) != 1 else ''}: images of "
            f"{s.partner.name} will drift (give hair, eyes, clothes, …)",
        )
    if len(s.opening) < MIN_OPENING_CHARS:
        yield (
            ("opening",),
            f"the opening is short ({len(s.opening)} characters): set the scene in a few sentences",
        )
    if not s.first_message:
        yield (), f"no first_message: {s.partner.name} waits for the player to speak first"
    if not s.setting.locations:
        yield ("setting",), "no setting.locations: the director has nowhere to move the story"
    prose = len(s.partner.personality) == 1 and len(s.partner.personality[0].split()) > 8
    if len(s.partner.personality) < 2 and not prose:  # a card's prose personality is whole
        yield ("partner", "personality"), "a one-trait personality plays flat: give two or more"
    world_tokens = estimate_tokens(s.setting.world)
    if world_tokens > MAX_WORLD_TOKENS:
        yield (
            ("setting", "world"),
            f"setting.world is long (~{world_tokens} tokens): every agent reads it every turn",
        )
    yield from _lore_checks(s)


def _lore_checks(s: Scenario) -> Iterator[tuple[Loc, str]]:
    book = s.lorebook
    for i, entry in enumerate(book.entries):
        cost = estimate_tokens(entry.content)
        if entry.enabled and cost > book.token_budget:
            yield (
                ("lorebook", "entries", i, "content"),
                f"this lore entry (~{cost} tokens) never fits lorebook.token_budget "
                f"({book.token_budget})",
            )
