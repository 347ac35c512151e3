"""Scenario problems: ``file:line:col: message`` lines and the exception that carries them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from qualia_cli.errors import QualiaError

__all__ = ["Problem", "ScenarioError", "ScenarioNotFoundError"]


@dataclass(frozen=True)
class Problem:
    """One problem in a scenario. ``line``/``col`` are 1-based; 0 means "no position"."""

    path: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        if self.line > 0:
            return f"{self.path}:{self.line}:{self.col}: {self.message}"
        if self.path:
            return f"{self.path}: {self.message}"
        return self.message


class ScenarioError(QualiaError):
    """A scenario that cannot be used. ``str()`` is the first problem on one line."""

    def __init__(self, problems: Problem | Sequence[Problem]) -> None:
        self.problems: list[Problem] = (
            [problems] if isinstance(problems, Problem) else list(problems)
        )
        if not self.problems:
            raise ValueError("ScenarioError needs at least one problem")
        super().__init__(str(self.problems[0]))

    def __str__(self) -> str:
        return str(self.problems[0])

    @property
    def path(self) -> str:
        return self.problems[0].path

    def lines(self) -> list[str]:
        """Every problem, one ``file:line:col: message`` line each."""
        return [str(p) for p in self.problems]


class ScenarioNotFoundError(ScenarioError):
    """No scenario matches a name; ``available`` lists the ids that do exist."""

    def __init__(self, name: str, available: list[str], message: str) -> None:
        self.name = name
        self.available = available
        super().__init__(Problem("", 0, 0, message))
