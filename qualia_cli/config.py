"""Settings: config.yaml in the user config dir, overridden by QUALIA_* env vars, then CLI flags.

Precedence (highest first): explicit overrides passed by the CLI, environment variables
(`QUALIA_MODELS__PARTNER=openai/gpt-4o-mini`, nested with `__`), `config.yaml`, defaults.
API keys are never stored here: an endpoint names the environment variable that holds its key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from qualia_cli.paths import get_paths

AGENT_ROLES: tuple[str, ...] = (
    "director",
    "partner",
    "visual",
    "strategist",
    "summarizer",
    "generator",
    "judge",
    "player",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EndpointConfig(_Strict):
    """A named OpenAI-compatible endpoint, used as `<name>/<model>`."""

    base_url: str
    api_key_env: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)


class ModelsConfig(_Strict):
    default: str = "local/smollm2"
    director: str | None = None
    partner: str | None = None
    visual: str | None = None
    strategist: str | None = None
    summarizer: str | None = None
    generator: str | None = None
    judge: str | None = None
    player: str | None = None

    def for_agent(self, role: str) -> str:
        return getattr(self, role, None) or self.default


class LocalModelConfig(_Strict):
    n_ctx: int = 8192
    n_parallel: int = 2
    n_threads: int | None = None


class AgentBudget(_Strict):
    """Prompt-token budget and output cap per agent."""

    context_tokens: int = 1800
    max_tokens: int = 256


def _default_agents() -> dict[str, AgentBudget]:
    return {
        "director": AgentBudget(context_tokens=1600, max_tokens=220),
        "partner": AgentBudget(context_tokens=2000, max_tokens=260),
        "visual": AgentBudget(context_tokens=900, max_tokens=200),
        "strategist": AgentBudget(context_tokens=1200, max_tokens=220),
    }


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="QUALIA_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    models: ModelsConfig = Field(default_factory=ModelsConfig)
    endpoints: dict[str, EndpointConfig] = Field(default_factory=dict)
    local: LocalModelConfig = Field(default_factory=LocalModelConfig)
    agents: dict[str, AgentBudget] = Field(default_factory=_default_agents)
    temperature: float = 0.8
    request_timeout_s: float = 120.0
    max_retries: int = 3
    max_stat_delta: int = 5
    session_budget_usd: float | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = get_paths().config_file
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if config_file.is_file():
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        return tuple(sources)

    def agent_budget(self, role: str) -> AgentBudget:
        return self.agents.get(role) or AgentBudget()


def load_settings(**overrides: Any) -> Settings:
    """Load settings; `overrides` (CLI flags) win over env and file. None values are ignored."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)


def config_file_path() -> Path:
    return get_paths().config_file
