"""Load a playthrough script: validate it, resolve its scenario, expand setup and includes,
and compile every check. Every problem is reported as `file:line:col: message`."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qualia_cli.engine import SamplingPins, start_state_problems
from qualia_cli.headless.checks import Check, compile_spec, parse_shorthand
from qualia_cli.headless.script import CheckSpec, ScriptSpec, StepSpec, TestSpec
from qualia_cli.scenario.errors import Problem, ScenarioError
from qualia_cli.scenario.file_errors import DocumentError, LocatedError, load_document, problem_at
from qualia_cli.scenario.loader import default_search_dirs, find_scenario, load_scenario
from qualia_cli.scenario.models import Scenario
from qualia_cli.scenario.yaml_source import Loc, Locator

MAX_SUGGESTIONS = 4
_CHOOSE_RE = re.compile(r"^/(.*)/([a-z]*)$", re.S)


@dataclass
class Step:
    kind: str  # "say" | "choose"
    text: str = ""  # say
    index: int | None = None  # choose N (1-based)
    pattern: re.Pattern[str] | None = None  # choose /regex/
    checks: list[Check] = field(default_factory=list)
    where: str = ""  # file:line

    @property
    def label(self) -> str:
        if self.kind == "say":
            return f"say: {self.text}"
        return f"choose: {self.index if self.index is not None else self.pattern_text}"

    @property
    def pattern_text(self) -> str:
        return f"/{self.pattern.pattern}/" if self.pattern else ""


@dataclass
class TestPlan:
    name: str
    steps: list[Step]
    final: list[Check]
    state: dict[str, Any] | None
    seed: int
    where: str
    description: str = ""


@dataclass
class Playthrough:
    path: Path
    scenario_path: Path
    scenario: Scenario
    models: dict[str, str]  # "default" and/or agent roles
    seed: int
    cassette: Path | None
    tests: list[TestPlan]  # runnable tests, in file order
    sampling: SamplingPins | None = None  # pinned for cassette runs (llm/cassette_settings.py)


class _Compiler:
    def __init__(self, path: Path, spec: ScriptSpec, locator: Locator, scenario: Scenario) -> None:
        self.path = path
        self.shown = str(path)
        self.spec = spec
        self.locator = locator
        self.scenario = scenario
        self.problems: list[Problem] = []
        self._cycles: set[frozenset[str]] = set()  # each include cycle is reported once

    def where(self, loc: Loc) -> str:
        line, _ = self.locator.at(loc)
        return f"{self.shown}:{line}"

    def problem(
        self, loc: Loc, message: str, offset: int | None = None, *, key: bool = False
    ) -> None:
        self.problems.append(
            problem_at(self.shown, self.locator, loc, message, offset=offset, key=key)
        )

    def check(self, raw: str | CheckSpec, loc: Loc) -> Check | None:
        where = self.where(loc)
        try:
            if isinstance(raw, str):
                return parse_shorthand(raw, where=where)
            return compile_spec(raw, self.scenario, where=where)
        except LocatedError as err:
            self.problem(loc + err.loc, str(err), err.offset)
            return None

    def checks(self, raws: list[str | CheckSpec], loc: Loc) -> list[Check]:
        out = []
        for j, raw in enumerate(raws):
            check = self.check(raw, (*loc, j))  # a single check (not a list) locates at loc
            if check is not None:
                out.append(check)
        return out

    def step(self, step: StepSpec, loc: Loc) -> Step:
        checks = self.checks(step.checks(), (*loc, "expect"))
        where = self.where(loc)
        if step.say is not None:
            return Step("say", text=step.say, checks=checks, where=where)
        choose = step.choose
        if isinstance(choose, int):
            if choose > MAX_SUGGESTIONS:
                self.problem(
                    (*loc, "choose"), f"the Strategist offers at most {MAX_SUGGESTIONS} moves"
                )
            return Step("choose", index=choose, checks=checks, where=where)
        m = _CHOOSE_RE.match(str(choose))
        if not m:
            self.problem((*loc, "choose"), "choose takes a number from 1 or a /regex/")
            return Step("choose", index=1, checks=checks, where=where)
        flags = re.IGNORECASE if "i" in m.group(2) else 0
        try:
            pattern = re.compile(m.group(1), flags)
        except re.error as err:
            self.problem((*loc, "choose"), f"bad regex: {err.msg}", 1 + (err.pos or 0))
            pattern = re.compile("$^")
        return Step("choose", pattern=pattern, checks=checks, where=where)

    def turns(
        self, owner: str, turns: list[StepSpec], loc: Loc, stack: tuple[str, ...]
    ) -> list[Step]:
        out: list[Step] = []
        for i, step in enumerate(turns):
            step_loc = (*loc, i)
            if step.include is None:
                out.append(self.step(step, step_loc))
                continue
            name = step.include
            target = self.spec.tests.get(name)
            if target is None:
                close = difflib.get_close_matches(name, list(self.spec.tests), n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                self.problem((*step_loc, "include"), f"no test named '{name}' to include{hint}")
            elif name in stack or name == owner:
                members = frozenset(stack[stack.index(name) :] if name in stack else (owner,))
                if members not in self._cycles:  # met again from each of its members
                    self._cycles.add(members)
                    chain = " → ".join([*stack, name])
                    self.problem((*step_loc, "include"), f"include cycle: {chain}")
            else:
                out += self.turns(name, target.turns, ("tests", name, "turns"), (*stack, name))
        return out

    def start_state(self, test: TestSpec, name: str) -> dict[str, Any] | None:
        setup = self.spec.setup.state if self.spec.setup and self.spec.setup.state else None
        merged: dict[str, Any] = setup.as_dict() if setup else {}
        own = test.state.as_dict() if test.state else {}
        stats = {**merged.get("stats", {}), **own.get("stats", {})}
        merged.update(own)
        if stats:
            merged["stats"] = stats
        for err in start_state_problems(self.scenario, merged):
            in_test = test.state is not None and _has(own, err.loc)
            base: Loc = ("tests", name, "state") if in_test else ("setup", "state")
            self.problem((*base, *err.loc), str(err))
        return merged or None

    def compile(self) -> list[TestPlan]:
        plans: list[TestPlan] = []
        setup_steps: list[Step] = []
        if self.spec.setup:
            setup_steps = self.turns("", self.spec.setup.turns, ("setup", "turns"), ())
        for name, test in self.spec.tests.items():
            steps = self.turns(name, test.turns, ("tests", name, "turns"), (name,))
            final = self.checks(list(test.final), ("tests", name, "final"))
            state = self.start_state(test, name)
            if name.startswith("_"):
                continue  # include-only: compiled above for its problems
            if (not self.spec.setup or not self.spec.setup.turns) and not test.turns:
                self.problem(("tests", name), f"test '{name}' has no turns", key=True)
            plans.append(
                TestPlan(
                    name=name,
                    steps=[*setup_steps, *steps],
                    final=final,
                    state=state,
                    seed=test.seed if test.seed is not None else self.spec.seed,
                    where=self.where(("tests", name)),
                    description=test.description,
                )
            )
        return plans


def _has(data: dict[str, Any], loc: tuple[str | int, ...]) -> bool:
    node: Any = data
    for part in loc:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def resolve_scenario(ref: str, script_path: Path) -> Path:
    """A path (relative to the script, then to the working directory) or a scenario id."""
    looks_like_path = "/" in ref or ref.endswith((".yaml", ".yml"))
    if looks_like_path:
        near = (script_path.parent / ref).resolve()
        if near.is_file():
            return near
    return find_scenario(ref, default_search_dirs())


def load_playthrough(path: str | Path) -> Playthrough:
    """Read, validate and compile a `*.play.yaml` file (raises DocumentError)."""
    p = Path(path)
    spec, doc = load_document(p, ScriptSpec, what="playthrough script")
    locator = Locator(doc)
    shown = str(p)
    try:
        scenario_path = resolve_scenario(spec.scenario, p)
        scenario = load_scenario(scenario_path)
    except ScenarioError as err:
        problem = problem_at(shown, locator, ("scenario",), str(err))
        raise DocumentError(problem) from None
    compiler = _Compiler(p, spec, locator, scenario)
    tests = compiler.compile()
    if compiler.problems:
        problems = sorted(dict.fromkeys(compiler.problems), key=lambda x: (x.line, x.col))
        raise DocumentError(problems)
    models = dict(spec.models)
    if spec.model:
        models["default"] = spec.model
    cassette = (p.parent / spec.cassette).resolve() if spec.cassette else None
    return Playthrough(
        p, scenario_path, scenario, models, spec.seed, cassette, tests, spec.sampling
    )
