"""Model names (`provider/model`) → a Provider instance and the provider-side model id.

Providers: `local` (the embedded llama.cpp model: `local/smollm2` or `local/<path.gguf>`),
`openrouter`, `openai`, `ollama`, any endpoint from `settings.endpoints` (a config endpoint
overrides a builtin of the same name), and anything injected with `register()` (tests,
cassettes), which wins over both.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from qualia_cli.config import Settings
from qualia_cli.llm.base import Capabilities, Provider
from qualia_cli.llm.capabilities import CapabilityRegistry, ModelCaps
from qualia_cli.llm.errors import ErrorCode, LLMError
from qualia_cli.llm.keys import get_api_key, mask
from qualia_cli.llm.tokens import ESTIMATE, TokenCounter, llama_counter

log = logging.getLogger("qualia.llm")

LOCAL = "local"
OLLAMA_DEFAULT_HOST = "127.0.0.1:11434"

# wrap(provider name, model, create) -> the provider to use; `create()` builds the real one
ProviderWrapper = Callable[[str, str, Callable[[], Provider]], Provider]


@dataclass(frozen=True)
class EndpointSpec:
    """Where a provider lives and which key it needs."""

    base_url: str
    api_key_env: str | None = None
    key_required: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    capabilities: Capabilities = field(default_factory=Capabilities)
    openrouter: bool | None = None  # None: decided by the host name


def ollama_base_url(host: str | None = None) -> str:
    """Ollama's OpenAI-compatible URL from OLLAMA_HOST (`host`, `host:port` or a URL)."""
    raw = (host if host is not None else os.environ.get("OLLAMA_HOST", "")).strip()
    raw = raw or OLLAMA_DEFAULT_HOST
    scheme = "http"
    if "://" in raw:
        scheme, raw = raw.split("://", 1)
    raw = raw.rstrip("/")
    hostport, _, path = raw.partition("/")
    has_port = "]:" in hostport if hostport.startswith("[") else ":" in hostport
    if not has_port:
        hostport = f"{hostport}:11434"
    hostport = hostport.replace("0.0.0.0", "127.0.0.1")  # a bind address, not a target
    base = f"{scheme}://{hostport}" + (f"/{path}" if path else "")
    return f"{base}/v1"


def builtin_endpoints() -> dict[str, EndpointSpec]:
    return {
        "openrouter": EndpointSpec(
            "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY", key_required=True
        ),
        "openai": EndpointSpec("https://api.openai.com/v1", "OPENAI_API_KEY", key_required=True),
        "ollama": EndpointSpec(ollama_base_url()),
    }


def split_model_name(name: str) -> tuple[str, str]:
    """`openrouter/meta-llama/llama-3-8b` → (`openrouter`, `meta-llama/llama-3-8b`)."""
    provider, sep, model = name.strip().partition("/")
    if not sep or not provider or not model.strip():
        raise LLMError(
            ErrorCode.CONFIG,
            f"model name '{name}' must look like provider/model, e.g. local/smollm2 "
            "or openrouter/openai/gpt-4o-mini",
        )
    return provider, model.strip()


class ModelRouter:
    """Resolves model names; creates each provider once and owns what it creates."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._created: dict[str, Provider] = {}
        self._registered: dict[str, Provider] = {}
        self._lock = threading.Lock()
        self._wrapper: ProviderWrapper | None = None
        self._wrapped: dict[str, Provider] = {}
        self.capabilities = CapabilityRegistry(dict(settings.model_overrides))

    def caps(self, name: str) -> ModelCaps:
        """What the model `name` can do (from caches and config only: never the network)."""
        provider_name, _ = split_model_name(name)
        if provider_name == LOCAL and provider_name not in self.settings.endpoints:
            local = self.settings.local
            window = local.n_ctx // max(1, local.n_parallel)
            self.capabilities.set_embedded_window(name, window)
            return self.capabilities.caps(name, catalog_provider=False)
        spec = self.endpoint(provider_name)
        openrouter = False
        if spec is not None:
            from qualia_cli.llm.openai_compat import is_openrouter

            openrouter = (
                spec.openrouter if spec.openrouter is not None else is_openrouter(spec.base_url)
            )
        return self.capabilities.caps(name, catalog_provider=openrouter)

    def context_window(self, name: str) -> int | None:
        """The model's context window when known (never raises: None when unsure)."""
        try:
            return self.caps(name).context_length
        except LLMError:
            return None

    def wrap_providers(self, wrapper: ProviderWrapper | None) -> None:
        """Route every model through `wrapper` (cassettes). It gets a `create()` that builds
        the real provider, so a replay that never calls it needs no key and starts nothing."""
        with self._lock:
            self._wrapper = wrapper
            self._wrapped.clear()

    @property
    def wrapped(self) -> bool:
        """Every model goes through a wrapper (a cassette recording or replaying)."""
        return self._wrapper is not None

    def register(self, name: str, provider: Provider) -> None:
        """Serve `name/<model>` with `provider` (not closed by `aclose`: the caller owns it)."""
        with self._lock:
            self._registered[name] = provider

    def known_providers(self) -> list[str]:
        names = {LOCAL, *builtin_endpoints(), *self.settings.endpoints, *self._registered}
        return sorted(names)

    def endpoint(self, provider: str) -> EndpointSpec | None:
        """The endpoint for a remote provider name (config first, then builtins)."""
        cfg = self.settings.endpoints.get(provider)
        if cfg is not None:
            return EndpointSpec(
                cfg.base_url,
                cfg.api_key_env,
                key_required=cfg.api_key_env is not None,
                headers=dict(cfg.headers),
                openrouter=None if cfg.kind == "auto" else cfg.kind == "openrouter",
            )
        if provider == LOCAL:
            return None
        return builtin_endpoints().get(provider)

    def resolve(self, name: str) -> tuple[Provider, str]:
        """(provider, provider-side model id) for `name`; may start the embedded model."""
        provider_name, model = split_model_name(name)
        if self._wrapper is not None:
            return self._resolve_wrapped(name, provider_name, model), model
        return self._resolve(name, provider_name, model)

    def _resolve_wrapped(self, name: str, provider_name: str, model: str) -> Provider:
        with self._lock:
            wrapped = self._wrapped.get(name)
            wrapper = self._wrapper
        if wrapped is not None:
            return wrapped
        if provider_name not in self.known_providers():
            raise self._unknown(provider_name, name)
        assert wrapper is not None

        def create() -> Provider:
            return self._resolve(name, provider_name, model)[0]

        wrapped = wrapper(provider_name, model, create)
        with self._lock:
            return self._wrapped.setdefault(name, wrapped)

    def _resolve(self, name: str, provider_name: str, model: str) -> tuple[Provider, str]:
        with self._lock:
            if provider_name in self._registered:
                return self._registered[provider_name], model
            if provider_name == LOCAL and provider_name not in self.settings.endpoints:
                return self._local(model), model
            spec = self.endpoint(provider_name)
            if spec is None:
                raise self._unknown(provider_name, name)
            provider = self._created.get(provider_name)
            if provider is None:
                provider = self._remote(provider_name, spec)
                self._created[provider_name] = provider
            return provider, model

    async def aresolve(self, name: str) -> tuple[Provider, str]:
        """`resolve` in a worker thread, so starting the embedded model never blocks the loop."""
        return await asyncio.to_thread(self.resolve, name)

    def describe(self, name: str) -> dict[str, Any]:
        """What `name` points at, for `qualia models` (never starts anything, never the key)."""
        provider_name, model = split_model_name(name)
        info: dict[str, Any] = {
            "name": name,
            "provider": provider_name,
            "model": model,
            "base_url": None,
            "key_env": None,
            "key_required": False,
            "key_present": False,
            "key_masked": None,
        }
        if provider_name in self._registered:
            return {**info, "kind": "registered"}
        if provider_name == LOCAL and provider_name not in self.settings.endpoints:
            from qualia_cli.llm.local import resolve_gguf, running_server

            path = resolve_gguf(model)
            server = running_server(path)
            info["base_url"] = server.base_url if server else None
            return {**info, "kind": "embedded", "model_path": str(path), "running": bool(server)}
        spec = self.endpoint(provider_name)
        if spec is None:
            raise self._unknown(provider_name, name)
        key = get_api_key(spec.api_key_env) if spec.api_key_env else None
        info.update(
            base_url=spec.base_url,
            key_env=spec.api_key_env,
            key_required=spec.key_required,
            key_present=key is not None,
            key_masked=mask(key) if key else None,
        )
        return {**info, "kind": "remote"}

    async def token_counter(self, name: str) -> TokenCounter:
        """How prompts for `name` are counted: the embedded model's own tokenizer (starting the
        model if this is its first use), the estimate for every other model. Under a cassette
        the estimate too: a replay starts no model, so a recording counting with the model's
        tokenizer would trim prompts differently from its own replay. Never raises (an unknown
        model fails later, in the agent call itself)."""
        if self.wrapped:
            return ESTIMATE
        try:
            provider_name, model = split_model_name(name)
            if (
                provider_name != LOCAL
                or provider_name in self._registered
                or provider_name in self.settings.endpoints
            ):
                return ESTIMATE
            from qualia_cli.llm.local import resolve_gguf, running_server

            await self.aresolve(name)  # starts it if this is the first use
            server = running_server(resolve_gguf(model).resolve())
            if server is None:
                return ESTIMATE
            return llama_counter(server.address, server.api_key)
        except Exception as err:
            log.debug("no tokenizer for %s: %s", name, err)
            return ESTIMATE

    async def aclose(self) -> None:
        with self._lock:
            providers = list(self._created.values())
            self._created.clear()
        for provider in providers:
            await provider.aclose()

    # -- internals ----------------------------------------------------------------------

    def _unknown(self, provider_name: str, name: str) -> LLMError:
        known = ", ".join(self.known_providers())
        return LLMError(
            ErrorCode.CONFIG,
            f"unknown model provider '{provider_name}' in '{name}': use one of {known} "
            f"(or add an endpoint named '{provider_name}' to config.yaml)",
        )

    def _local(self, model: str) -> Provider:
        from qualia_cli.llm.local import get_local_server, resolve_gguf
        from qualia_cli.llm.openai_compat import OpenAICompatProvider

        path = resolve_gguf(model)
        cache_key = f"{LOCAL}:{path}"
        provider = self._created.get(cache_key)
        if provider is None:
            server = get_local_server(path, self.settings.local)
            provider = OpenAICompatProvider(
                LOCAL,
                server.base_url,
                server.api_key,
                timeout_s=self.settings.request_timeout_s,
                max_retries=self.settings.max_retries,
                registry=self.capabilities,
                openrouter=False,
                reasoning_tokens=self.settings.reasoning_tokens,
            )
            self._created[cache_key] = provider
        return provider

    def _remote(self, provider_name: str, spec: EndpointSpec) -> Provider:
        from qualia_cli.llm.openai_compat import OpenAICompatProvider

        key = get_api_key(spec.api_key_env) if spec.api_key_env else None
        if spec.key_required and key is None:
            raise LLMError(
                ErrorCode.AUTH,
                f"{spec.api_key_env} is not set (environment or keyring): "
                f"needed for {provider_name}/ models",
            )
        return OpenAICompatProvider(
            provider_name,
            spec.base_url,
            key,
            headers=spec.headers or None,
            timeout_s=self.settings.request_timeout_s,
            max_retries=self.settings.max_retries,
            capabilities=spec.capabilities,
            api_key_env=spec.api_key_env,
            registry=self.capabilities,
            openrouter=spec.openrouter,
            reasoning_tokens=self.settings.reasoning_tokens,
        )
