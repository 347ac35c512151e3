"""The settings a cassette's calls depend on, pinned so a replay does not read the user's config.

A recorded call is looked up by its prompt and sampling parameters, and the prompt depends on
the context budgets. So a run with a cassette (replay, record, record-missing) takes these
settings from qualia's defaults, overridden only by what the play script or eval spec pins
in its ``sampling:`` block (the values its cassette was recorded with) — never from the
user's ``config.yaml`` or ``QUALIA_*`` variables. A live run keeps the user's settings, with
the pins on top. Models, endpoints and keys always stay the user's.

    sampling:
      temperature: 0.7
      frequency_penalty: 0.5
      max_stat_delta: 5
      agents: {partner: {max_tokens: 260, context_tokens: 2000}}
      memory: {memory_tokens: 300, recall_tokens: 220, window_turns: 12}
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from qualia_cli.config import AGENT_ROLES, AgentBudget, MemoryConfig, Settings

PINNABLE = ("temperature", "frequency_penalty", "max_stat_delta", "agents", "memory")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BudgetPin(_Strict):
    context_tokens: int | None = Field(None, ge=100, le=1_000_000)
    max_tokens: int | None = Field(None, ge=1, le=100_000)


class MemoryPin(_Strict):
    enabled: bool | None = None
    summarize_every: int | None = Field(None, ge=1, le=200)
    window_turns: int | None = Field(None, ge=1, le=500)
    max_fold_turns: int | None = Field(None, ge=1, le=500)
    memory_tokens: int | None = Field(None, ge=0)
    recall_tokens: int | None = Field(None, ge=0)
    recall_results: int | None = Field(None, ge=0, le=50)


class SamplingPins(_Strict):
    """A script's / eval spec's ``sampling:`` block (every field optional)."""

    temperature: float | None = Field(None, ge=0.0, le=2.0)
    frequency_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    max_stat_delta: int | None = Field(None, ge=1, le=100)
    agents: dict[str, BudgetPin] = Field(default_factory=dict)
    memory: MemoryPin | None = None

    def unknown_agents(self) -> list[str]:
        return [role for role in self.agents if role not in AGENT_ROLES]


def _defaults() -> dict[str, Any]:
    fields = Settings.model_fields
    return {name: fields[name].get_default(call_default_factory=True) for name in PINNABLE}


def pinned_settings(
    settings: Settings, pins: SamplingPins | None, *, with_cassette: bool
) -> Settings:
    """``settings`` with the sampling settings a cassette run needs (see the module doc)."""
    base: dict[str, Any] = (
        _defaults() if with_cassette else {n: getattr(settings, n) for n in PINNABLE}
    )
    pins = pins or SamplingPins()
    for name in ("temperature", "frequency_penalty", "max_stat_delta"):
        value = getattr(pins, name)
        if value is not None:
            base[name] = value
    agents: dict[str, AgentBudget] = dict(base["agents"])
    for role, pin in pins.agents.items():
        now = agents.get(role) or AgentBudget()
        agents[role] = now.model_copy(update=pin.model_dump(exclude_none=True))
    base["agents"] = agents
    memory: MemoryConfig = base["memory"]
    if pins.memory is not None:
        base["memory"] = memory.model_copy(update=pins.memory.model_dump(exclude_none=True))
    return settings.model_copy(update=base)
