"""Settings: config.yaml in the user config dir, overridden by QUALIA_* env vars, then CLI flags.

Precedence (highest first): explicit overrides passed by the CLI, environment variables
(`QUALIA_MODELS__PARTNER=openai/gpt-4o-mini`, nested with `__`), `config.yaml`, defaults.
API keys are never stored here: an endpoint names the environment variable that holds its key.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from qualia_cli.errors import QualiaError
from qualia_cli.paths import get_paths
from qualia_cli.roles import AGENT_ROLES as AGENT_ROLES  # the roles config keys accept


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EndpointConfig(_Strict):
    """A named OpenAI-compatible endpoint, used as `<name>/<model>`."""

    base_url: str
    api_key_env: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    # "openrouter": the endpoint speaks OpenRouter's dialect (model list, usage cost,
    # provider.require_parameters, reasoning); "auto": decided by the host name
    kind: Literal["auto", "openrouter", "generic"] = "auto"


class ModelOverride(_Strict):
    """What you know about a model better than its provider's list (`model_overrides`)."""

    context_length: int | None = Field(default=None, gt=0)
    prompt_usd_per_m: float | None = Field(default=None, ge=0)
    completion_usd_per_m: float | None = Field(default=None, ge=0)
    json_schema: bool | None = None
    json_object: bool | None = None
    reasoning: bool | None = None
    streaming: bool | None = None
    structured_output: Literal["json_schema", "json_object", "prompt"] | None = None


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
    n_ctx: int = 9216  # shared by the slots: 3072 tokens each by default
    n_parallel: int = 3  # slots: partner, strategist, the rest (each keeps its prompt cached)
    n_threads: int | None = None  # None: all CPUs when idle, else one per two (llm/local.py)
    n_threads_batch: int | None = None  # prompt reading; None: as n_threads
    slot_cache: bool = True  # save/restore slot caches across processes (`qualia say`)


class AgentBudget(_Strict):
    """Prompt-token budget and output cap per agent."""

    context_tokens: int = 1800  # unless set in config: scaled to the model's window
    max_tokens: int = 256


class ImagesConfig(_Strict):
    """Scene images: ComfyUI when `comfyui_url` is set, the offline sketch renderer otherwise."""

    enabled: bool = True
    comfyui_url: str | None = None  # also QUALIA_COMFYUI_URL
    workflow: str = "sdxl_txt2img"  # a name in workflows/ (yours or bundled) or a file
    format: Literal["webp", "png"] = "webp"
    quality: int = Field(default=90, ge=1, le=100)
    timeout_s: float = Field(default=300.0, gt=0)
    allow_mature: bool = False  # drop the safe-content negative for scenarios rated mature
    model: str | None = None  # checkpoint for %model% (else the workflow's default)
    params: dict[str, str | int | float] = Field(default_factory=dict)  # other %placeholders%
    user_avatar: str | None = None  # a picture of the player, for %user_avatar% workflows


# the default context_tokens are sized for this window (the embedded model's per-slot
# window); a model with another window gets them scaled (see Settings.context_tokens)
REFERENCE_WINDOW = 4096
MAX_SCALED_WINDOW = 32768  # past this a bigger window only costs more


def _default_budget(context_tokens: int, max_tokens: int) -> AgentBudget:
    budget = AgentBudget(context_tokens=context_tokens, max_tokens=max_tokens)
    budget.model_fields_set.discard("context_tokens")  # a default: scaled to the window
    return budget


def _default_agents() -> dict[str, AgentBudget]:
    return {
        "director": _default_budget(1600, 220),
        "partner": _default_budget(2000, 260),
        "visual": _default_budget(900, 200),
        "strategist": _default_budget(1200, 220),
        "summarizer": _default_budget(1400, 300),
    }


class MemoryConfig(_Strict):
    """Long-term memory, recall and the summarizer (see qualia_cli/memory/)."""

    enabled: bool = True  # summarizer and recall; the lorebook always applies
    summarize_every: int = Field(default=8, ge=1, le=200)  # turns leaving the window per fold
    window_turns: int = Field(default=12, ge=1, le=500)  # recent turns never folded
    max_fold_turns: int = Field(default=24, ge=1, le=500)  # most turns one fold reads
    memory_tokens: int = Field(default=300, ge=0)  # per-agent cap for long-term memory
    recall_tokens: int = Field(default=220, ge=0)  # per-agent cap for recalled snippets
    recall_results: int = Field(default=4, ge=0, le=50)
    tokenizer: Literal["auto", "estimate"] = "auto"  # auto: the model's own when known
    # semantic recall (issue 17): an OpenAI-compatible embeddings model, provider/model; off
    # (None) by default: recall is then lexical (FTS5) only
    embedder: str | None = None
    recall_mode: Literal["lexical", "semantic", "hybrid"] = "hybrid"  # with an embedder
    embed_timeout_s: float = Field(default=10.0, gt=0)  # most a turn waits for embeddings


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
    memory: MemoryConfig = Field(default_factory=MemoryConfig)
    profile: Literal["auto", "small", "full"] = "auto"  # auto: small for local/* partners
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    frequency_penalty: float = Field(default=0.5, ge=-2.0, le=2.0)
    request_timeout_s: float = 120.0
    max_retries: int = 3
    max_stat_delta: int = 5
    session_budget_usd: float | None = None
    # extra output tokens a reasoning model may spend thinking before its answer
    reasoning_tokens: int = Field(default=1024, ge=0)
    model_overrides: dict[str, ModelOverride] = Field(default_factory=dict)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    images: ImagesConfig = Field(default_factory=ImagesConfig)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        flat_url = os.environ.get("QUALIA_COMFYUI_URL")  # flat alias of QUALIA_IMAGES__COMFYUI_URL
        if flat_url:
            sources.append(
                InitSettingsSource(settings_cls, init_kwargs={"images": {"comfyui_url": flat_url}})
            )
        file_data = _read_config_file()
        if file_data:
            sources.append(InitSettingsSource(settings_cls, init_kwargs=file_data))
        return tuple(sources)

    def agent_budget(self, role: str) -> AgentBudget:
        # a role missing from a config that sets only some agents keeps its own default
        return self.agents.get(role) or _default_agents().get(role) or _default_budget(1800, 256)

    def context_tokens(self, role: str, window: int | None) -> int:
        """The prompt budget of `role` on a model with `window` tokens of context: the
        configured number when set, else the default share of the window."""
        budget = self.agent_budget(role)
        if window is None or "context_tokens" in budget.model_fields_set:
            return budget.context_tokens
        window = min(window, MAX_SCALED_WINDOW)
        scaled = budget.context_tokens * window // REFERENCE_WINDOW
        # never more than the window minus the answer (and reasoning) it must leave room for
        return max(1, min(scaled, window - budget.max_tokens))


class ConfigError(QualiaError):
    """config.yaml or a QUALIA_* variable is invalid; the message is one line."""


def _read_config_file() -> dict[str, Any]:
    from qualia_cli.scenario.errors import ScenarioError
    from qualia_cli.scenario.file_errors import read_document

    path = get_paths().config_file
    if not path.exists():
        return {}
    try:
        doc = read_document(path, what="config file", json=False)
    except ScenarioError as err:
        raise ConfigError(str(err)) from None
    if doc.data is None:
        return {}
    if not isinstance(doc.data, dict):
        raise ConfigError(f"{path}:1:1: the config file must be a mapping of settings")
    return doc.data


def _config_error(err: ValidationError) -> ConfigError:
    """The first problem, at config.yaml:line:col when the bad value came from the file."""
    from qualia_cli.scenario.errors import ScenarioError
    from qualia_cli.scenario.file_errors import problem_for, read_document
    from qualia_cli.scenario.yaml_source import Doc, Locator, NoLocator

    first = err.errors()[0]
    loc = tuple(first["loc"])
    path = get_paths().config_file
    source, positions = "settings (environment or flags)", NoLocator()
    if path.is_file():
        try:
            doc = read_document(path, what="config file", json=False)
        except ScenarioError:  # it was read when the settings loaded: only a race gets here
            doc = Doc(None)
        kind = first["type"]
        node: Any = doc.data
        for part in loc[:-1] if kind == "missing" else loc:
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None and (kind in ("extra_forbidden", "missing") or node == first["input"]):
            source, positions = str(path), Locator(doc)
    problem = problem_for(first, source, positions, model=Settings, noun="setting")
    if source == str(path):
        return ConfigError(f"{problem} (fix it in config.yaml)")
    env_hint = "QUALIA_" + "__".join(str(p).upper() for p in loc)
    return ConfigError(f"{problem} (fix the {env_hint} variable or the flag)")


def load_settings(**overrides: Any) -> Settings:
    """Load settings; `overrides` (CLI flags) win over env and file. None values are ignored."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**clean)
    except ValidationError as err:
        raise _config_error(err) from None


def config_file_path() -> Path:
    return get_paths().config_file
