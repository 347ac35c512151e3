"""Image errors. Each prints as one line a user can act on."""

from __future__ import annotations

from collections.abc import Sequence

from qualia_cli.errors import QualiaError
from qualia_cli.scenario.errors import Problem


class ImageError(QualiaError):
    """An image could not be made or shown (one line; shown without a traceback)."""

    code = "image"


class WorkflowError(ImageError):
    """A workflow template that cannot be used; every problem is a `file:line:col: message`."""

    code = "workflow"

    def __init__(self, problems: Problem | Sequence[Problem]) -> None:
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        if not self.problems:
            raise ValueError("WorkflowError needs at least one problem")
        super().__init__(str(self.problems[0]))

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]


class ComfyError(ImageError):
    """ComfyUI refused, failed, timed out or could not be reached.

    `code` is one of: unreachable, rejected (a 400 on POST /prompt), execution, interrupted,
    timeout, protocol (an answer that makes no sense), output (an image could not be fetched).
    """

    def __init__(self, code: str, message: str, *, server: str = "") -> None:
        self.code = code
        self.server = server
        super().__init__(message)


__all__ = ["ComfyError", "ImageError", "Problem", "WorkflowError"]
