"""The turn loop and the facade every front end drives."""

from qualia_cli.engine.facade import Engine
from qualia_cli.engine.session import BudgetExceeded, GameSession

__all__ = ["BudgetExceeded", "Engine", "GameSession"]
