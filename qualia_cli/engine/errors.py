"""The errors a front end shows as one line (it never needs to import llm/ or store/ for them)."""

from __future__ import annotations

from qualia_cli.agents.template import TemplateError
from qualia_cli.authoring.errors import AuthoringError
from qualia_cli.authoring.generator import GenerationFailed
from qualia_cli.config import ConfigError
from qualia_cli.engine.library.portability import PortabilityError
from qualia_cli.engine.story.branching import SessionActionError
from qualia_cli.engine.story.greetings import GreetingError
from qualia_cli.engine.story.session import BudgetExceeded
from qualia_cli.engine.story.start import StartStateError
from qualia_cli.errors import InputError, QualiaError
from qualia_cli.images.errors import ImageError
from qualia_cli.llm.errors import ErrorCode, LLMError
from qualia_cli.memory.lore_import import LorebookImportError
from qualia_cli.scenario.loader import ScenarioError
from qualia_cli.store.errors import StoreError

USER_ERRORS: tuple[type[Exception], ...] = (QualiaError,)
"""Kept for callers that catch a tuple; every user-facing error derives from `QualiaError`."""

__all__ = [
    "USER_ERRORS",
    "AuthoringError",
    "BudgetExceeded",
    "ConfigError",
    "ErrorCode",
    "GenerationFailed",
    "GreetingError",
    "ImageError",
    "InputError",
    "LLMError",
    "LorebookImportError",
    "PortabilityError",
    "QualiaError",
    "ScenarioError",
    "SessionActionError",
    "StartStateError",
    "StoreError",
    "TemplateError",
]
