"""Slot caches of the REAL embedded llama.cpp server (starts two small servers: embedded model)."""

from __future__ import annotations

import httpx

from qualia_cli.config import LocalModelConfig
from qualia_cli.llm.local import _start, resolve_gguf, save_slots

PROMPT = [
    {"role": "system", "content": "You are Maren, an archivist. " + "She keeps ledgers. " * 40},
    {"role": "user", "content": "Which ledgers survived the fire?"},
]


def _ask(server, slot: int) -> dict:  # type: ignore[no-untyped-def]
    resp = httpx.post(
        f"{server.base_url}/chat/completions",
        json={"messages": PROMPT, "max_tokens": 4, "id_slot": slot, "cache_prompt": True},
        headers={"Authorization": f"Bearer {server.api_key}"},
        timeout=300,
    )
    resp.raise_for_status()
    return resp.json()["usage"]


def test_a_new_process_restores_the_slot_caches_the_last_one_saved() -> None:
    cfg = LocalModelConfig(n_threads=1, n_parallel=3, n_ctx=3 * 1024)
    path = resolve_gguf("smollm2")
    first = _start(path, cfg)  # a server as `qualia say` starts it (no slot files yet)
    try:
        usage = _ask(first, 0)
        assert usage["prompt_tokens_details"]["cached_tokens"] == 0
        assert save_slots(first) == 3
        assert first.slot_dir is not None and (first.slot_dir / "slot0.bin").is_file()
        assert not list(first.slot_dir.glob("*.tmp"))  # saved under a private name, renamed
    finally:
        del first
    second = _start(path, cfg)  # the next process: restores the slots at start
    usage = _ask(second, 0)
    cached = usage["prompt_tokens_details"]["cached_tokens"]
    assert cached >= usage["prompt_tokens"] - 2  # everything but the last token or so
    other = _ask(second, 1)  # a slot that held nothing is not helped
    assert other["prompt_tokens_details"]["cached_tokens"] == 0
