"""The optional sidecar `NAME.yaml` next to a workflow `NAME.json`: name, description, kind,
defaults for the built-in placeholders, and user-defined find/replace placeholders
(SillyTavern's custom placeholders). Every problem is reported, each as `file:line:col`.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from qualia_cli.images.errors import Problem, WorkflowError
from qualia_cli.images.placeholders import PLACEHOLDERS, coerce


class CustomPlaceholder(BaseModel):
    """A user-defined find/replace: `%find%` in the workflow becomes `replace`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    find: str = Field(pattern=r"^%?[A-Za-z0-9_]+%?$")
    replace: str | int | float = ""

    @property
    def name(self) -> str:
        return self.find.strip("%")


class WorkflowMeta(BaseModel):
    """The sidecar `NAME.yaml`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = ""
    description: str = ""
    kind: Literal["scene", "portrait"] = "scene"
    defaults: dict[str, str | int | float] = Field(default_factory=dict)
    placeholders: list[CustomPlaceholder] = Field(default_factory=list)

    @property
    def custom(self) -> dict[str, str | int | float]:
        return {p.name: p.replace for p in self.placeholders}


def load_sidecar(path: Path) -> tuple[WorkflowMeta, list[Problem]]:
    """The sidecar and every problem in it (a sidecar with problems reads as empty)."""
    if not path.is_file():
        return WorkflowMeta(), []
    from qualia_cli.scenario.errors import ScenarioError
    from qualia_cli.scenario.file_errors import problem_at, read_document, validation_problems
    from qualia_cli.scenario.yaml_source import Locator

    try:
        doc = read_document(path, what="workflow sidecar", json=False)
    except ScenarioError as err:
        return WorkflowMeta(), list(err.problems)
    try:
        meta = WorkflowMeta.model_validate(doc.data or {})
    except ValidationError as err:
        problems = validation_problems(
            str(path), err, Locator(doc), model=WorkflowMeta, data=doc.data
        )
        return WorkflowMeta(), problems
    problems = []
    for name, value in meta.defaults.items():
        if name not in PLACEHOLDERS:
            line, col = Locator(doc).at(("defaults", name), key=True)
            close = difflib.get_close_matches(name, list(PLACEHOLDERS), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            hint = hint or " (your own placeholders go under placeholders: with find/replace)"
            problems.append(
                Problem(str(path), line, col, f"defaults.{name}: unknown placeholder{hint}")
            )
            continue
        try:
            coerce(name, value)
        except WorkflowError as err:
            line, col = Locator(doc).at(("defaults", name))
            problems.append(Problem(str(path), line, col, err.problems[0].message))
    for i, custom in enumerate(meta.placeholders):
        if custom.name in PLACEHOLDERS:
            message = f"%{custom.name}% is built in; set defaults.{custom.name} instead"
            loc = ("placeholders", i, "find")
            problems.append(problem_at(str(path), Locator(doc), loc, message))
    return meta, problems
