"""What the configured models can do, for `qualia models` and `qualia doctor`.

``ModelsService`` is composed by the Engine facade as ``engine.models`` (front ends never
reach `llm/` themselves); it gets the settings and the router, never the Engine.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from qualia_cli.config import AGENT_ROLES
from qualia_cli.errors import QualiaError
from qualia_cli.llm.capabilities import ModelCaps
from qualia_cli.llm.errors import ErrorCode, LLMError

if TYPE_CHECKING:
    from qualia_cli.config import Settings
    from qualia_cli.llm.router import ModelRouter

# roles whose text streams to the player as it is written
STREAMED_ROLES = frozenset({"partner"})


class ModelsService:
    """The configured models: one row per agent, what a provider offers, what degrades."""

    def __init__(self, settings: Settings, router: ModelRouter) -> None:
        self.settings = settings
        self.router = router

    def _caps(self, name: str) -> ModelCaps | None:
        try:
            return self.router.caps(name)
        except LLMError:
            return None

    def problems(self, names: Iterable[tuple[str, str]]) -> list[str]:
        """``where: message`` for every (where, model name) the router cannot resolve.

        Checked before anything runs (eval matrices, playthrough runs): a name that names no
        provider, or a provider nobody configured, would otherwise surface only once a cell
        played. Describing a name never starts a model and never calls a server.
        """
        problems: list[str] = []
        seen: set[str] = set()
        for where, name in names:
            if name in seen:
                continue
            seen.add(name)
            try:
                self.router.describe(name)
            except QualiaError as err:
                problems.append(f"{where}: {err}")
        return problems

    def report(self) -> list[dict[str, Any]]:
        """One row per agent: model, endpoint, key (masked), and what the model can do."""
        rows = []
        for role in AGENT_ROLES:
            name = self.settings.models.for_agent(role)
            try:
                info = self.router.describe(name)
            except Exception as err:
                info = {"error": str(err)}
            caps = self._caps(name)
            info["capabilities"] = caps.to_dict() if caps else None
            window = caps.context_length if caps else None
            info["context_tokens"] = self.settings.context_tokens(role, window)
            # "model" is the configured name; the provider-side id stays as "model_id"
            rows.append({"agent": role, **info, "model": name, "model_id": info.get("model")})
        return rows

    def _openrouter_base(self, provider: str) -> str:
        from qualia_cli.llm.openai_compat import is_openrouter

        spec = self.router.endpoint(provider)
        if spec is None:
            raise LLMError(ErrorCode.CONFIG, f"no endpoint named '{provider}' in the config")
        kind = spec.openrouter if spec.openrouter is not None else is_openrouter(spec.base_url)
        if not kind:
            raise LLMError(
                ErrorCode.CONFIG,
                f"'{provider}' has no model list with capabilities (only OpenRouter-style "
                "endpoints do): its capabilities are learned as it answers",
            )
        return spec.base_url

    def available(self, provider: str = "openrouter", *, refresh: bool = False) -> dict[str, Any]:
        """The models `provider` offers, with capabilities and prices, from the cached list
        (`refresh`: fetch it first). Raises LLMError with one line on failure."""
        base_url = self._openrouter_base(provider)
        registry = self.router.capabilities
        refresh_error = None
        if refresh:
            try:
                registry.refresh_catalog(base_url)
            except Exception as exc:
                refresh_error = (
                    f"cannot fetch the model list from {base_url} ({type(exc).__name__})"
                )
                if registry.catalog() is None:
                    raise LLMError(
                        ErrorCode.UNREACHABLE,
                        f"{refresh_error} and there is no cached copy: check the network and retry",
                    ) from None
        catalog = registry.catalog()
        return {
            "provider": provider,
            "refresh_error": refresh_error,
            "fetched_at": catalog.fetched_at if catalog else None,
            "stale": registry.catalog_stale(),
            "models": [c.to_dict() for c in registry.available(provider)],
        }

    def capability_checks(self) -> list[dict[str, Any]]:
        """`qualia doctor` rows: each agent's model against what the agent needs."""
        rows: list[dict[str, Any]] = []
        for role in AGENT_ROLES:
            name = self.settings.models.for_agent(role)
            caps = self._caps(name)
            if caps is None:
                rows.append({"check": f"agent {role}", "ok": False, "detail": f"{name}: unknown"})
                continue
            budget = self.settings.agent_budget(role)
            context = self.settings.context_tokens(role, caps.context_length)
            notes = degradations(role, caps, context, budget.max_tokens) + self._profile_notes(
                role, name
            )
            window = f"{caps.context_length:,} window" if caps.context_length else "window unknown"
            head = f"{name}: {caps.best_mode}, {window}, context {context}"
            detail = head + ("; degrades: " + "; ".join(notes) if notes else "; nothing degrades")
            rows.append({"check": f"agent {role}", "ok": True, "detail": detail, "degrades": notes})
        return rows

    def _profile_notes(self, role: str, name: str) -> list[str]:
        """What the small profile (agents/profile.py) and the generator check leave out."""
        from qualia_cli.agents.profile import profile_for
        from qualia_cli.engine.authoring import TOO_SMALL_FOR_GENERATOR

        settings = self.settings
        small = profile_for(settings, settings.models.for_agent("partner")) == "small"
        if role == "director" and small:
            return ["not asked (small profile: the scene is planned by rules)"]
        if (
            role == "visual"
            and small
            and not (settings.images.enabled and settings.images.comfyui_url)
        ):
            return ["not asked (small profile, no ComfyUI: tags composed from the scene)"]
        if role == "generator" and name in TOO_SMALL_FOR_GENERATOR:
            return [
                "`scenario new` refuses it (too small for playable scenarios): set a capable model"
            ]
        return []


def degradations(role: str, caps: ModelCaps, context_tokens: int, max_tokens: int) -> list[str]:
    """What will work less well for `role` on a model with `caps` (empty: nothing)."""
    notes: list[str] = []
    mode = caps.best_mode
    if mode == "json_object":
        notes.append("JSON mode without schema: answers validated, retried when wrong")
    elif mode == "prompt":
        notes.append("no structured output: JSON asked in the prompt, repaired and retried")
    if not caps.known:
        notes.append("capabilities unknown (learned on first use)")
    window = caps.context_length
    if window is not None and context_tokens + max_tokens > window:
        notes.append(
            f"window {window} tokens < budget {context_tokens} + answer {max_tokens}: "
            "history trimmed harder"
        )
    if role in STREAMED_ROLES and not caps.streaming:
        notes.append("no streaming: the reply shows when complete")
    if caps.reasoning:
        notes.append("reasoning model: slower, more output tokens per call")
    if caps.prompt_price is None and caps.source not in ("embedded",) and caps.known:
        notes.append("no price known: cost counted only when the server reports it")
    return notes
