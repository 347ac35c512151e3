"""The errors a front end shows as one line (it never needs to import llm/ or store/ for them)."""

from __future__ import annotations

from qualia_cli.agents.template import TemplateError
from qualia_cli.config import ConfigError
from qualia_cli.engine.session import BudgetExceeded
from qualia_cli.engine.start import StartStateError
from qualia_cli.llm.errors import ErrorCode, LLMError
from qualia_cli.scenario.loader import ScenarioError
from qualia_cli.store.errors import StoreError

USER_ERRORS: tuple[type[Exception], ...] = (
    ConfigError,
    LLMError,
    ScenarioError,
    StoreError,
    BudgetExceeded,
    TemplateError,
    StartStateError,
)

__all__ = [
    "USER_ERRORS",
    "BudgetExceeded",
    "ConfigError",
    "ErrorCode",
    "LLMError",
    "ScenarioError",
    "StartStateError",
    "StoreError",
    "TemplateError",
]
