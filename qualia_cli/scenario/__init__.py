"""Scenarios: Pydantic models and a YAML loader that reports file:line:col errors."""

from qualia_cli.scenario.conditions import (
    CONTEXT_NAMES,
    Condition,
    ConditionError,
    compile_condition,
    condition_context,
    ending_reached,
)
from qualia_cli.scenario.loader import (
    Problem,
    ScenarioError,
    ScenarioNotFoundError,
    default_search_dirs,
    find_scenario,
    list_scenarios,
    load_scenario,
    load_scenario_dict,
)
from qualia_cli.scenario.models import (
    MOODS,
    Ending,
    Lorebook,
    LoreEntry,
    Partner,
    Rating,
    Scenario,
    StatDef,
)

__all__ = [
    "CONTEXT_NAMES",
    "MOODS",
    "Condition",
    "ConditionError",
    "Ending",
    "LoreEntry",
    "Lorebook",
    "Partner",
    "Problem",
    "Rating",
    "Scenario",
    "ScenarioError",
    "ScenarioNotFoundError",
    "StatDef",
    "compile_condition",
    "condition_context",
    "default_search_dirs",
    "ending_reached",
    "find_scenario",
    "list_scenarios",
    "load_scenario",
    "load_scenario_dict",
]
