"""Checking model names before anything runs (eval matrices, playthrough runs).

A model name that names no provider, or a provider nobody configured, used to surface only
once a cell played: `qualia eval` with player model `nonsense` played 0 turns and passed.
:func:`model_problems` asks the engine's router to describe each name — which never starts a
model and never calls a server — and returns one line per name that cannot work.
"""

from __future__ import annotations

from collections.abc import Iterable

from qualia_cli.engine.errors import USER_ERRORS
from qualia_cli.engine.facade import Engine

__all__ = ["model_problems"]


def model_problems(engine: Engine, names: Iterable[tuple[str, str]]) -> list[str]:
    """``where: message`` for every (where, model name) the engine cannot resolve."""
    problems: list[str] = []
    seen: set[str] = set()
    for where, name in names:
        if name in seen:
            continue
        seen.add(name)
        try:
            engine.router.describe(name)
        except USER_ERRORS as err:
            problems.append(f"{where}: {err}")
    return problems
