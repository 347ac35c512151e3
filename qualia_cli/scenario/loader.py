"""Load scenario YAML files and report every problem as ``file:line:col: message``.

Parsing lives in :mod:`qualia_cli.scenario.yaml_source`, and the translator of Pydantic's
errors in :mod:`qualia_cli.scenario.file_errors` (it walks each error's ``loc`` through the
YAML node tree to the offending node). After the models validate, the loader checks what
the models cannot see on their own: ending conditions (compiled with the condition
language), mood and location names used in them, reserved stat names and duplicate ending
ids.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from qualia_cli.paths import bundled_scenarios_dir, get_paths
from qualia_cli.scenario.conditions import CONTEXT_NAMES, ConditionError, compile_condition
from qualia_cli.scenario.errors import Problem, ScenarioError, ScenarioNotFoundError
from qualia_cli.scenario.file_errors import describe_value, problem_at, validation_error
from qualia_cli.scenario.models import MOODS, Scenario
from qualia_cli.scenario.yaml_source import Doc, Loc, Locator, NoLocator, parse_yaml, read_text

__all__ = [
    "Problem",
    "ScenarioError",
    "ScenarioNotFoundError",
    "default_search_dirs",
    "find_scenario",
    "list_scenarios",
    "load_scenario",
    "load_scenario_dict",
]

SCENARIO_SUFFIXES: tuple[str, ...] = (".yaml", ".yml")


# --------------------------------------------------------------------------- checks


def _semantic_problems(scenario: Scenario) -> Iterator[tuple[Loc, int | None, str]]:
    """What the models cannot check alone: (loc, offset in the scalar, message)."""
    for i, stat in enumerate(scenario.stats):
        if stat.name in CONTEXT_NAMES:
            yield (
                ("stats", i, "name"),
                None,
                f"'{stat.name}' is reserved: {', '.join(CONTEXT_NAMES)} are always "
                "available to ending conditions; pick another stat name",
            )
    seen: set[str] = set()
    stat_names = {s.name for s in scenario.stats}
    places = {*scenario.setting.locations, scenario.setting.start_location}
    for i, ending in enumerate(scenario.endings):
        if ending.id in seen:
            yield ("endings", i, "id"), None, f"ending id '{ending.id}' is used twice"
        seen.add(ending.id)
        loc: Loc = ("endings", i, "condition")
        try:
            cond = compile_condition(ending.condition, stat_names)
        except ConditionError as e:
            yield loc, e.offset, e.message
            continue
        for name, literal, offset in cond.literals:
            if name == "mood" and literal not in MOODS:
                close = difflib.get_close_matches(literal, MOODS, n=1)
                hint = f"did you mean '{close[0]}'? " if close else ""
                message = f"'{literal}' is not a known mood; {hint}moods: {', '.join(MOODS)}"
                yield loc, offset, message
            elif name == "location" and scenario.setting.locations and literal not in places:
                message = (
                    f"'{literal}' is not a location of this scenario "
                    f"(setting.locations: {', '.join(scenario.setting.locations)})"
                )
                yield loc, offset, message


def _validate(doc: Doc, path: str, locator: Locator) -> Scenario:
    if not isinstance(doc.data, Mapping):
        line, col = locator.at(())
        if doc.data is None:
            raise ScenarioError(Problem(path, line, col, "the scenario is empty"))
        raise ScenarioError(
            Problem(
                path,
                line,
                col,
                "a scenario must be a mapping of keys (id, title, setting, partner, ...), "
                f"found {describe_value(doc.data)}",
            )
        )
    try:
        scenario = Scenario.model_validate(dict(doc.data))
    except ValidationError as e:
        raise validation_error(
            path, e, locator, error=ScenarioError, model=Scenario, data=doc.data
        ) from None
    problems = [
        problem_at(path, locator, loc, message, offset=offset)
        for loc, offset, message in _semantic_problems(scenario)
    ]
    if not problems:
        return scenario
    problems = list(dict.fromkeys(problems))
    if problems[0].line > 0:
        problems.sort(key=lambda p: (p.line, p.col))
    raise ScenarioError(problems)


# --------------------------------------------------------------------------- public


def load_scenario(path: str | Path) -> Scenario:
    """Read, parse and validate a scenario file; raises ScenarioError with file:line:col."""
    p = Path(path)
    shown = str(path)
    text = read_text(p)
    doc = parse_yaml(text, shown)
    return _validate(doc, shown, Locator(doc))


def load_scenario_dict(data: Mapping[str, Any], source: str = "<scenario>") -> Scenario:
    """Validate already-parsed data (e.g. a snapshot from the database).

    Same checks as :func:`load_scenario`; problems carry ``source`` but no line/col.
    """
    return _validate(Doc(data), source, NoLocator())


def default_search_dirs() -> list[Path]:
    """The user's scenarios directory first (so it can override), then the bundled one."""
    return [get_paths().scenarios_dir, bundled_scenarios_dir()]


def _scenario_files(search_dirs: Sequence[Path]) -> list[Path]:
    seen: set[Path] = set()
    files: list[Path] = []
    for d in search_dirs:
        if not d.is_dir():
            continue
        for f in sorted(d.iterdir()):
            if f.suffix in SCENARIO_SUFFIXES and f.is_file() and f.resolve() not in seen:
                seen.add(f.resolve())
                files.append(f)
    return files


def _declared_id(path: Path) -> str | None:
    try:
        data = parse_yaml(read_text(path), str(path)).data
    except ScenarioError:
        return None
    sid = data.get("id") if isinstance(data, Mapping) else None
    return sid if isinstance(sid, str) else None


def find_scenario(name_or_path: str, search_dirs: Sequence[Path]) -> Path:
    """Resolve a scenario file from a path (``x.yaml``, ``dir/x``) or a bare id.

    A bare id matches a file stem in ``search_dirs`` (first directory wins), then the
    ``id:`` declared inside the files. Raises ScenarioNotFoundError listing the ids found.
    """
    p = Path(name_or_path).expanduser()
    has_dir = os.sep in name_or_path or "/" in name_or_path
    if has_dir or p.suffix in SCENARIO_SUFFIXES:
        if p.is_file():
            return p
        if p.exists():
            raise ScenarioError(Problem(str(p), 0, 0, "is not a file"))
        if has_dir:
            raise ScenarioError(Problem(str(p), 0, 0, "file not found"))
    name = p.stem if p.suffix in SCENARIO_SUFFIXES else name_or_path
    for d in search_dirs:
        for suffix in SCENARIO_SUFFIXES:
            candidate = d / f"{name}{suffix}"
            if candidate.is_file():
                return candidate
    files = _scenario_files(search_dirs)
    available: set[str] = set()
    for f in files:
        available.add(f.stem)
        declared = _declared_id(f)
        if declared == name:
            return f
        if declared:
            available.add(declared)
    ids = sorted(available)
    searched = ", ".join(str(d) for d in search_dirs) or "no directories"
    if not ids:
        msg = f"scenario '{name_or_path}' not found: there are no scenarios in {searched}"
    else:
        msg = f"scenario '{name_or_path}' not found"
        close = difflib.get_close_matches(name, ids, n=1)
        if close:
            msg += f"; did you mean '{close[0]}'?"
        msg += f" (available: {', '.join(ids)})"
    raise ScenarioNotFoundError(name_or_path, ids, msg)


def list_scenarios(search_dirs: Sequence[Path]) -> list[tuple[Path, Scenario | ScenarioError]]:
    """Every ``*.yaml``/``*.yml`` file in ``search_dirs`` with its scenario or its error."""
    out: list[tuple[Path, Scenario | ScenarioError]] = []
    for f in _scenario_files(search_dirs):
        try:
            out.append((f, load_scenario(f)))
        except ScenarioError as e:
            out.append((f, e))
    return out
