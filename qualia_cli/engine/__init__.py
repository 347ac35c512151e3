"""The engine's public surface: the only module front ends (cli/, tui/, headless/) import.

Names load on first use (PEP 562 `__getattr__`), so importing the facade costs nothing until a
command needs a part of it and `qualia --help` stays fast. `events` is the event vocabulary
(`from qualia_cli.engine import events as ev`). No public name is also the name of an engine
module: `from qualia_cli.engine import x` would give the module once it is loaded.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qualia_cli.agents.quality import copy_reason, is_echo, junk_reason
    from qualia_cli.authoring.generator import Generated
    from qualia_cli.engine.authoring import (
        GenerationRequest,
        check_generator_model,
        validate_files,
    )
    from qualia_cli.engine.checks.diagnostics import run_checks
    from qualia_cli.engine.checks.error_hints import explain
    from qualia_cli.engine.checks.model_choice import check_models, configured_models
    from qualia_cli.engine.errors import USER_ERRORS
    from qualia_cli.engine.events import Event
    from qualia_cli.engine.facade import Engine
    from qualia_cli.engine.memory import MemoryAdmin
    from qualia_cli.engine.scripted.cassettes import (
        Cassette,
        SamplingPins,
        lint_cassette,
        load_cassette,
        not_recorded,
        pinned_settings,
    )
    from qualia_cli.engine.story.greetings import greeting_text
    from qualia_cli.engine.story.session import (
        BudgetExceeded,
        GameSession,
        Message,
        last_suggestions,
        transcript_dict,
    )
    from qualia_cli.engine.story.start import start_state_problems
    from qualia_cli.engine.story.tree import (
        SearchHit,
        StoryTree,
        branch_after,
        redo,
        search,
    )
    from qualia_cli.engine.story.tree import story_tree as read_story_tree
    from qualia_cli.engine.turn.summary import TurnSummary
    from qualia_cli.engine.turn.trace import TurnTrace, context_lines
    from qualia_cli.images.batch import BatchItem, BatchStats
    from qualia_cli.images.errors import WorkflowError
    from qualia_cli.llm.errors import LLMError
    from qualia_cli.roles import TURN_AGENTS, Role, Sender, speaker_name
    from qualia_cli.store.content import PartnerLine, line_text

_WHERE: dict[str, str] = {
    "BatchItem": "qualia_cli.images.batch",
    "BatchStats": "qualia_cli.images.batch",
    "branch_after": "qualia_cli.engine.story.tree",
    "BudgetExceeded": "qualia_cli.engine.story.session",
    "Cassette": "qualia_cli.engine.scripted.cassettes",
    "check_generator_model": "qualia_cli.engine.authoring",
    "check_models": "qualia_cli.engine.checks.model_choice",
    "configured_models": "qualia_cli.engine.checks.model_choice",
    "context_lines": "qualia_cli.engine.turn.trace",
    "copy_reason": "qualia_cli.agents.quality",
    "Engine": "qualia_cli.engine.facade",
    "Event": "qualia_cli.engine.events",
    "explain": "qualia_cli.engine.checks.error_hints",
    "GameSession": "qualia_cli.engine.story.session",
    "Generated": "qualia_cli.authoring.generator",
    "GenerationRequest": "qualia_cli.engine.authoring",
    "greeting_text": "qualia_cli.engine.story.greetings",
    "is_echo": "qualia_cli.agents.quality",
    "junk_reason": "qualia_cli.agents.quality",
    "last_suggestions": "qualia_cli.engine.story.session",
    "lint_cassette": "qualia_cli.engine.scripted.cassettes",
    "LLMError": "qualia_cli.llm.errors",
    "load_cassette": "qualia_cli.engine.scripted.cassettes",
    "MemoryAdmin": "qualia_cli.engine.memory",
    "Message": "qualia_cli.engine.story.session",
    "not_recorded": "qualia_cli.engine.scripted.cassettes",
    "PartnerLine": "qualia_cli.store.content",
    "line_text": "qualia_cli.store.content",
    "pinned_settings": "qualia_cli.engine.scripted.cassettes",
    "redo": "qualia_cli.engine.story.tree",
    "Role": "qualia_cli.roles",
    "run_checks": "qualia_cli.engine.checks.diagnostics",
    "SamplingPins": "qualia_cli.engine.scripted.cassettes",
    "search": "qualia_cli.engine.story.tree",
    "SearchHit": "qualia_cli.engine.story.tree",
    "Sender": "qualia_cli.roles",
    "speaker_name": "qualia_cli.roles",
    "start_state_problems": "qualia_cli.engine.story.start",
    "read_story_tree": "qualia_cli.engine.story.tree:story_tree",
    "StoryTree": "qualia_cli.engine.story.tree",
    "transcript_dict": "qualia_cli.engine.story.session",
    "TURN_AGENTS": "qualia_cli.roles",
    "TurnSummary": "qualia_cli.engine.turn.summary",
    "TurnTrace": "qualia_cli.engine.turn.trace",
    "USER_ERRORS": "qualia_cli.engine.errors",
    "validate_files": "qualia_cli.engine.authoring",
    "WorkflowError": "qualia_cli.images.errors",
}

__all__ = [
    "TURN_AGENTS",
    "USER_ERRORS",
    "BatchItem",
    "BatchStats",
    "BudgetExceeded",
    "Cassette",
    "Engine",
    "Event",
    "GameSession",
    "Generated",
    "GenerationRequest",
    "LLMError",
    "MemoryAdmin",
    "Message",
    "PartnerLine",
    "Role",
    "SamplingPins",
    "SearchHit",
    "Sender",
    "StoryTree",
    "TurnSummary",
    "TurnTrace",
    "WorkflowError",
    "branch_after",
    "check_generator_model",
    "check_models",
    "configured_models",
    "context_lines",
    "copy_reason",
    "events",
    "explain",
    "greeting_text",
    "is_echo",
    "junk_reason",
    "last_suggestions",
    "line_text",
    "lint_cassette",
    "load_cassette",
    "not_recorded",
    "pinned_settings",
    "read_story_tree",
    "redo",
    "run_checks",
    "search",
    "speaker_name",
    "start_state_problems",
    "transcript_dict",
    "validate_files",
]


def __getattr__(name: str) -> Any:
    if name == "events":
        return import_module("qualia_cli.engine.events")
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, _, attr = where.partition(":")  # "module:attr" when the public name differs
    # looked up each time, not cached here: a test that patches the defining module is obeyed
    return getattr(import_module(module), attr or name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
