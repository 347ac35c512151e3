"""The errors a front end shows as one line (it never needs to import llm/ or store/ for them)."""

from __future__ import annotations

from qualia_cli.agents.template import TemplateError
from qualia_cli.authoring.errors import AuthoringError
from qualia_cli.authoring.generator import GenerationFailed
from qualia_cli.config import ConfigError
from qualia_cli.engine.branching import SessionActionError
from qualia_cli.engine.greetings import GreetingError
from qualia_cli.engine.portability import PortabilityError
from qualia_cli.engine.session import BudgetExceeded
from qualia_cli.engine.start import StartStateError
from qualia_cli.images.errors import ImageError
from qualia_cli.llm.errors import ErrorCode, LLMError
from qualia_cli.memory.lore_import import LorebookImportError
from qualia_cli.scenario.loader import ScenarioError
from qualia_cli.store.errors import StoreError

USER_ERRORS: tuple[type[Exception], ...] = (
    ConfigError,
    LLMError,
    ScenarioError,
    StoreError,
    BudgetExceeded,
    TemplateError,
    AuthoringError,
    GenerationFailed,
    ImageError,
    LorebookImportError,
    PortabilityError,
    SessionActionError,
    StartStateError,
    GreetingError,
)

__all__ = [
    "USER_ERRORS",
    "AuthoringError",
    "BudgetExceeded",
    "ConfigError",
    "ErrorCode",
    "GenerationFailed",
    "GreetingError",
    "ImageError",
    "LLMError",
    "LorebookImportError",
    "PortabilityError",
    "ScenarioError",
    "SessionActionError",
    "StartStateError",
    "StoreError",
    "TemplateError",
]
