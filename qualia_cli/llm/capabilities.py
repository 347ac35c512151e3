"""What each model can do, in one place: context window, prices, structured-output modes,
reasoning.

Sources, strongest first:
1. `model_overrides` in config.yaml, keyed by the full name (`openrouter/openai/gpt-4o-mini`);
2. what a server taught us: a refused `json_schema` / `json_object` (remembered on disk, so
   the next run does not ask again), a model seen reasoning;
3. OpenRouter's model list (`GET /api/v1/models`), cached in the user cache dir for
   `CATALOG_TTL_S`; offline, the last cache is used however old it is;
4. conservative defaults: unknown window, no prices, try `json_schema` and learn.

Nothing here touches the network on its own: `refresh_catalog` / `arefresh_catalog` do.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from qualia_cli.paths import get_paths

log = logging.getLogger("qualia.llm")

Mode = Literal["json_schema", "json_object", "prompt"]
MODES: tuple[Mode, ...] = ("json_schema", "json_object", "prompt")

CATALOG_TTL_S = 24 * 3600.0
CATALOG_FILE = "openrouter_models.json"
LEARNED_FILE = "learned_capabilities.json"
CATALOG_TIMEOUT_S = 10.0
LEARNED_TTL_S = 7 * 24 * 3600.0  # servers get upgraded: re-learn a refusal after a week


@dataclass(frozen=True)
class ModelCaps:
    """What one model (`provider/model`) supports, and where we know it from."""

    name: str
    source: str = "defaults"  # "openrouter list", "config", "learned", "embedded", "defaults"
    known: bool = False  # listed by the provider's catalog, or described in config
    context_length: int | None = None
    max_completion_tokens: int | None = None
    prompt_price: float | None = None  # USD per token
    completion_price: float | None = None  # USD per token
    json_schema: bool | None = None  # None: unknown, try it and learn
    json_object: bool | None = None
    reasoning: bool = False  # spends hidden/visible reasoning tokens before answering
    streaming: bool = True
    forced_mode: Mode | None = None  # config: always use this mode
    # OpenRouter's supported_parameters (None: not listed, send everything)
    parameters: frozenset[str] | None = None

    def accepts(self, parameter: str) -> bool:
        return self.parameters is None or parameter in self.parameters

    @property
    def modes(self) -> list[Mode]:
        """The structured-output modes to try, best first (prompt-only always works)."""
        if self.forced_mode is not None:
            return list(MODES[MODES.index(self.forced_mode) :])
        out: list[Mode] = []
        if self.json_schema is not False:
            out.append("json_schema")
        if self.json_object is not False:
            out.append("json_object")
        out.append("prompt")
        return out

    @property
    def best_mode(self) -> Mode:
        return self.modes[0]

    def price_per_million(self) -> tuple[float | None, float | None]:
        def per_m(p: float | None) -> float | None:
            return None if p is None else round(p * 1_000_000, 6)

        return per_m(self.prompt_price), per_m(self.completion_price)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        """Price × tokens, when the prices are known."""
        if self.prompt_price is None or self.completion_price is None:
            return None
        return prompt_tokens * self.prompt_price + completion_tokens * self.completion_price

    def to_dict(self) -> dict[str, Any]:
        prompt_m, completion_m = self.price_per_million()
        return {
            "name": self.name,
            "known": self.known,
            "source": self.source,
            "context_length": self.context_length,
            "max_completion_tokens": self.max_completion_tokens,
            "prompt_usd_per_m": prompt_m,
            "completion_usd_per_m": completion_m,
            "modes": list(self.modes),
            "reasoning": self.reasoning,
        }


# -- the OpenRouter model list ---------------------------------------------------------


def _float(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if out >= 0 else None  # "-1" marks a variable price (routers)


def _int(value: Any) -> int | None:
    try:
        out = int(value)
    except (TypeError, ValueError):
        return None
    return out if out > 0 else None


def caps_from_openrouter(entry: dict[str, Any], provider: str = "openrouter") -> ModelCaps:
    """One item of OpenRouter's `GET /api/v1/models` `data` list as ModelCaps.

    Documented fields (https://openrouter.ai/docs/api-reference/list-available-models):
    `id`, `context_length`, `pricing.prompt` / `pricing.completion` (USD per token, strings),
    `top_provider.max_completion_tokens`, `supported_parameters` (`structured_outputs` means
    `json_schema`, `response_format` means at least `json_object`, `reasoning`).
    """
    params = {str(p) for p in entry.get("supported_parameters") or []}
    pricing = entry.get("pricing") or {}
    top = entry.get("top_provider") or {}
    return ModelCaps(
        name=f"{provider}/{entry.get('id')}",
        source="openrouter list",
        known=True,
        context_length=_int(entry.get("context_length")) or _int(top.get("context_length")),
        max_completion_tokens=_int(top.get("max_completion_tokens")),
        prompt_price=_float(pricing.get("prompt")),
        completion_price=_float(pricing.get("completion")),
        json_schema="structured_outputs" in params,
        json_object="response_format" in params or "structured_outputs" in params,
        reasoning="reasoning" in params or "include_reasoning" in params,
        parameters=frozenset(params) if params else None,
    )


@dataclass
class Catalog:
    """A cached model list: when it was fetched and its entries by model id."""

    fetched_at: float
    entries: dict[str, dict[str, Any]]

    def age_s(self, now: float | None = None) -> float:
        return (time.time() if now is None else now) - self.fetched_at


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_json(path: Path, data: Any) -> None:
    """Write-then-rename, so a crash never leaves half a cache file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def load_catalog(path: Path | None = None) -> Catalog | None:
    path = path or get_paths().cache_dir / CATALOG_FILE
    raw = _read_json(path)
    if not isinstance(raw, dict) or not isinstance(raw.get("data"), list):
        return None
    entries = {
        str(e["id"]): e for e in raw["data"] if isinstance(e, dict) and isinstance(e.get("id"), str)
    }
    return Catalog(float(raw.get("fetched_at") or 0.0), entries)


def save_catalog(models: list[dict[str, Any]], path: Path | None = None) -> Catalog:
    path = path or get_paths().cache_dir / CATALOG_FILE
    now = time.time()
    _write_json(path, {"fetched_at": now, "data": models})
    return Catalog(now, {str(e["id"]): e for e in models if isinstance(e.get("id"), str)})


def _models_from_body(body: Any) -> list[dict[str, Any]]:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise ValueError("the model list has no 'data' array")
    return [e for e in data if isinstance(e, dict) and isinstance(e.get("id"), str)]


def fetch_openrouter_models(base_url: str, *, timeout_s: float = CATALOG_TIMEOUT_S) -> list[Any]:
    """`GET {base_url}/models` (no key needed); raises on any failure."""
    import httpx

    resp = httpx.get(f"{base_url.rstrip('/')}/models", timeout=timeout_s)
    resp.raise_for_status()
    return _models_from_body(resp.json())


async def afetch_openrouter_models(
    base_url: str, *, timeout_s: float = CATALOG_TIMEOUT_S
) -> list[Any]:
    import httpx

    async with httpx.AsyncClient(timeout=timeout_s) as client:
        resp = await client.get(f"{base_url.rstrip('/')}/models")
    resp.raise_for_status()
    return _models_from_body(resp.json())


# -- the registry ----------------------------------------------------------------------


class CapabilityRegistry:
    """Answers `caps(name)`; remembers what servers refused. Thread-safe."""

    def __init__(
        self,
        overrides: dict[str, Any] | None = None,
        *,
        ttl_s: float = CATALOG_TTL_S,
        cache_dir: Path | None = None,
        persist: bool = True,
    ) -> None:
        self.overrides = overrides or {}
        self.persist = persist  # False: nothing read from or written to the cache dir
        self.ttl_s = ttl_s
        self._cache_dir = cache_dir
        self._lock = threading.Lock()
        self._catalog: Catalog | None = None
        self._catalog_loaded = False
        self._refresh_tried = False
        self._learned: dict[str, dict[str, Any]] | None = None
        self._embedded: dict[str, int] = {}

    @property
    def cache_dir(self) -> Path:
        return self._cache_dir or get_paths().cache_dir

    # catalog --------------------------------------------------------------------------

    def catalog(self) -> Catalog | None:
        with self._lock:
            if not self._catalog_loaded:
                if self.persist:
                    self._catalog = load_catalog(self.cache_dir / CATALOG_FILE)
                self._catalog_loaded = True
            return self._catalog

    def catalog_stale(self) -> bool:
        cat = self.catalog()
        return cat is None or cat.age_s() > self.ttl_s

    def refresh_catalog(self, base_url: str) -> Catalog:
        """Fetch and cache the model list now (raises on failure; the old cache stays)."""
        models = fetch_openrouter_models(base_url)
        return self._store(models)

    async def arefresh_if_stale(self, base_url: str) -> None:
        """Before the first OpenRouter call of a run: refresh a missing/stale cache, once.
        Failure is only logged: the last cache or the defaults answer instead."""
        with self._lock:
            if self._refresh_tried:
                return
            self._refresh_tried = True
        if not self.catalog_stale():
            return
        try:
            self._store(await afetch_openrouter_models(base_url))
        except Exception as exc:
            log.info("model list from %s unavailable (%s): using the last cache", base_url, exc)

    def _store(self, models: list[dict[str, Any]]) -> Catalog:
        cat = save_catalog(models, self.cache_dir / CATALOG_FILE)
        with self._lock:
            self._catalog = cat
            self._catalog_loaded = True
        return cat

    def available(self, provider: str = "openrouter") -> list[ModelCaps]:
        cat = self.catalog()
        if cat is None:
            return []
        return [
            self.caps(f"{provider}/{mid}", catalog_provider=True) for mid in sorted(cat.entries)
        ]

    # learned --------------------------------------------------------------------------

    def _learned_map(self) -> dict[str, dict[str, Any]]:
        if self._learned is None:
            raw = _read_json(self.cache_dir / LEARNED_FILE) if self.persist else None
            now = time.time()
            self._learned = {
                str(k): dict(v)
                for k, v in (raw.items() if isinstance(raw, dict) else [])
                if isinstance(v, dict) and now - float(v.get("learned_at") or 0) < LEARNED_TTL_S
            }
        return self._learned

    def learn(self, name: str, **facts: bool) -> None:
        """Remember what a server showed about `name` (e.g. json_schema=False)."""
        with self._lock:
            learned = self._learned_map()
            entry = learned.setdefault(name, {})
            if all(entry.get(k) == v for k, v in facts.items()):
                return
            entry.update(facts)
            entry["learned_at"] = time.time()
            snapshot = json.loads(json.dumps(learned))
        if not self.persist:
            return
        try:
            _write_json(self.cache_dir / LEARNED_FILE, snapshot)
        except OSError as exc:  # a read-only cache dir: remember for this run only
            log.info("cannot save learned capabilities: %s", exc)
        log.info("learned about %s: %s", name, facts)

    def set_embedded_window(self, name: str, window: int) -> None:
        """The embedded model's per-request window (n_ctx / n_parallel)."""
        with self._lock:
            self._embedded[name] = window

    # lookup ---------------------------------------------------------------------------

    def caps(self, name: str, *, catalog_provider: bool | None = None) -> ModelCaps:
        """Capabilities of `name` (`provider/model`): catalog, then learned, then config."""
        provider, _, model_id = name.partition("/")
        caps = ModelCaps(name=name)
        use_catalog = provider == "openrouter" if catalog_provider is None else catalog_provider
        if use_catalog:
            cat = self.catalog()
            entry = cat.entries.get(model_id) if cat else None
            if entry is not None:
                caps = replace(caps_from_openrouter(entry, provider), name=name)
        with self._lock:
            window = self._embedded.get(name)
            learned = dict(self._learned_map().get(name, {}))
        if window is not None:
            caps = replace(
                caps, source="embedded", known=True, context_length=window, json_schema=True
            )
        if learned:
            caps = replace(
                caps,
                json_schema=learned.get("json_schema", caps.json_schema),
                json_object=learned.get("json_object", caps.json_object),
                reasoning=learned.get("reasoning", caps.reasoning),
                source=caps.source if caps.known else "learned",
            )
        override = self.overrides.get(name)
        if override is not None:
            caps = apply_override(caps, override)
        return caps


def apply_override(caps: ModelCaps, override: Any) -> ModelCaps:
    """Fold a `model_overrides` entry (config.ModelOverride) into `caps`."""
    data = override.model_dump(exclude_none=True) if hasattr(override, "model_dump") else {}
    changes: dict[str, Any] = {"source": "config", "known": True}
    if "context_length" in data:
        changes["context_length"] = data["context_length"]
    if "prompt_usd_per_m" in data:
        changes["prompt_price"] = data["prompt_usd_per_m"] / 1_000_000
    if "completion_usd_per_m" in data:
        changes["completion_price"] = data["completion_usd_per_m"] / 1_000_000
    for key in ("json_schema", "json_object", "reasoning", "streaming"):
        if key in data:
            changes[key] = data[key]
    if "structured_output" in data:
        changes["forced_mode"] = data["structured_output"]
    return replace(caps, **changes)
