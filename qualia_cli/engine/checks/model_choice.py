"""Choosing models per agent from a front end: what is configured, and is a name usable."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qualia_cli.engine.story.session import GameSession


def configured_models(session: GameSession) -> list[str]:
    """Every model name the config and this session mention (for a picker), sorted."""
    names = set(session.models().values())
    for value in session.settings.models.model_dump().values():
        if isinstance(value, str) and value:
            names.add(value)
    return sorted(names)


def check_models(session: GameSession, models: dict[str, str | None]) -> dict[str, str]:
    """agent -> why its model name cannot be used (unknown provider, missing GGUF file…),
    checked without starting anything; agents whose name is fine (or empty) are left out."""
    from qualia_cli.errors import QualiaError

    errors: dict[str, str] = {}
    for agent, name in models.items():
        if not name:
            continue
        try:
            session.router.describe(name)
        except QualiaError as err:
            errors[agent] = str(err).splitlines()[0] if str(err) else type(err).__name__
    return errors
