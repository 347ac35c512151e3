"""ModelRouter: name parsing, builtin and configured endpoints, injection, caching."""

from __future__ import annotations

from pathlib import Path

import keyring
import pytest

from qualia_cli.config import EndpointConfig, Settings
from qualia_cli.llm.errors import ErrorCode, LLMError
from qualia_cli.llm.local import resolve_gguf
from qualia_cli.llm.openai_compat import OpenAICompatProvider
from qualia_cli.llm.router import ModelRouter, ollama_base_url, split_model_name
from qualia_cli.llm.tokens import ESTIMATE


@pytest.fixture(autouse=True)
def no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyring, "get_password", lambda service, user: None)
    for var in ("OPENROUTER_API_KEY", "OPENAI_API_KEY", "OLLAMA_HOST", "MY_KEY"):
        monkeypatch.delenv(var, raising=False)


def test_split_model_name() -> None:
    assert split_model_name("openrouter/meta-llama/llama-3-8b") == (
        "openrouter",
        "meta-llama/llama-3-8b",
    )
    assert split_model_name("local//abs/model.gguf") == ("local", "/abs/model.gguf")
    for bad in ("gpt-4o", "local/", "/x", ""):
        with pytest.raises(LLMError) as info:
            split_model_name(bad)
        assert info.value.code is ErrorCode.CONFIG


def test_unknown_provider_lists_known_ones() -> None:
    settings = Settings(endpoints={"lab": EndpointConfig(base_url="http://lab:8000/v1")})
    with pytest.raises(LLMError) as info:
        ModelRouter(settings).resolve("anthropic/claude")
    message = str(info.value)
    assert info.value.code is ErrorCode.CONFIG
    for name in ("local", "openrouter", "openai", "ollama", "lab"):
        assert name in message


@pytest.mark.parametrize(
    ("host", "url"),
    [
        (None, "http://127.0.0.1:11434/v1"),
        ("", "http://127.0.0.1:11434/v1"),
        ("0.0.0.0", "http://127.0.0.1:11434/v1"),
        ("gpu-box", "http://gpu-box:11434/v1"),
        ("gpu-box:9999", "http://gpu-box:9999/v1"),
        ("https://ollama.example.com", "https://ollama.example.com:11434/v1"),
        ("http://10.0.0.2:8080/", "http://10.0.0.2:8080/v1"),
        ("[::1]", "http://[::1]:11434/v1"),
    ],
)
def test_ollama_host(host: str | None, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if host is not None:
        monkeypatch.setenv("OLLAMA_HOST", host)
    assert ollama_base_url() == url


async def test_ollama_needs_no_key_and_is_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", "gpu-box:1234")
    router = ModelRouter(Settings())
    provider, model = router.resolve("ollama/llama3.2:3b")
    assert model == "llama3.2:3b"
    assert isinstance(provider, OpenAICompatProvider)
    assert provider.base_url == "http://gpu-box:1234/v1"
    assert router.resolve("ollama/qwen2.5")[0] is provider
    await router.aclose()


async def test_openai_builtin() -> None:
    with pytest.raises(LLMError) as info:
        ModelRouter(Settings()).resolve("openai/gpt-4o-mini")
    assert info.value.code is ErrorCode.AUTH and "OPENAI_API_KEY is not set" in str(info.value)


async def test_config_endpoint_overrides_builtin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_KEY", "sk-mine-0123456789")
    endpoints = {
        "openai": EndpointConfig(
            base_url="http://proxy:8080/v1", api_key_env="MY_KEY", headers={"X-Team": "ink"}
        ),
        "vllm": EndpointConfig(base_url="http://vllm:8000/v1"),
    }
    router = ModelRouter(Settings(endpoints=endpoints))
    provider, model = router.resolve("openai/gpt-4o")
    assert isinstance(provider, OpenAICompatProvider)
    assert (provider.base_url, model) == ("http://proxy:8080/v1", "gpt-4o")
    assert provider.api_key_env == "MY_KEY"
    vllm, vmodel = router.resolve("vllm/Qwen/Qwen2.5-7B")
    assert isinstance(vllm, OpenAICompatProvider) and vmodel == "Qwen/Qwen2.5-7B"
    info = router.describe("openai/gpt-4o")
    assert info["base_url"] == "http://proxy:8080/v1" and info["key_env"] == "MY_KEY"
    assert info["key_masked"] == "sk-…6789"
    await router.aclose()


async def test_configured_key_missing_is_auth_error() -> None:
    endpoints = {"lab": EndpointConfig(base_url="http://lab/v1", api_key_env="MY_KEY")}
    with pytest.raises(LLMError) as info:
        ModelRouter(Settings(endpoints=endpoints)).resolve("lab/m")
    assert info.value.code is ErrorCode.AUTH and "MY_KEY is not set" in str(info.value)


def test_register_injects_a_provider() -> None:
    class Fake:
        name = "cassette"

    router = ModelRouter(Settings())
    fake = Fake()
    router.register("openrouter", fake)  # type: ignore[arg-type]
    provider, model = router.resolve("openrouter/openai/gpt-4o-mini")
    assert provider is fake and model == "openai/gpt-4o-mini"
    assert router.describe("openrouter/x")["kind"] == "registered"
    assert "openrouter" in router.known_providers()


def test_describe_without_key() -> None:
    info = ModelRouter(Settings()).describe("openrouter/anthropic/claude-3.5-haiku")
    assert info == {
        "name": "openrouter/anthropic/claude-3.5-haiku",
        "provider": "openrouter",
        "model": "anthropic/claude-3.5-haiku",
        "base_url": "https://openrouter.ai/api/v1",
        "key_env": "OPENROUTER_API_KEY",
        "key_required": True,
        "key_present": False,
        "key_masked": None,
        "kind": "remote",
    }


def test_resolve_gguf(tmp_path: Path) -> None:
    bundled = resolve_gguf("smollm2")
    assert bundled.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and bundled.is_file()
    model = tmp_path / "tiny.gguf"
    model.write_bytes(b"GGUF")
    assert resolve_gguf(str(model)) == model.resolve()
    with pytest.raises(LLMError) as info:
        resolve_gguf(str(tmp_path / "missing.gguf"))
    assert info.value.code is ErrorCode.CONFIG and "missing.gguf" in str(info.value)
    with pytest.raises(LLMError) as info:
        resolve_gguf("llama-7b")
    assert "smollm2" in str(info.value)


def test_local_missing_gguf_is_config_error(tmp_path: Path) -> None:
    with pytest.raises(LLMError) as info:
        ModelRouter(Settings()).resolve(f"local/{tmp_path}/nope.gguf")
    assert info.value.code is ErrorCode.CONFIG


def test_describe_local_does_not_start_anything(tmp_path: Path) -> None:
    model = tmp_path / "other.gguf"
    model.write_bytes(b"GGUF")
    info = ModelRouter(Settings()).describe(f"local/{model}")
    assert info["kind"] == "embedded" and info["running"] is False
    assert info["model_path"] == str(model.resolve()) and info["base_url"] is None


def test_importing_llm_is_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, qualia_cli.llm.router, qualia_cli.llm.structured;"
        "print('xllamacpp' in sys.modules, 'openai' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


async def test_token_counter_is_the_estimate_for_every_model_but_the_embedded_one() -> None:
    settings = Settings(endpoints={"lab": EndpointConfig(base_url="http://lab:8000/v1")})
    router = ModelRouter(settings)
    router.register("fake", OpenAICompatProvider("fake", "http://127.0.0.1:9/v1", None))
    for name in ("openrouter/openai/gpt-4o-mini", "ollama/llama3", "lab/m", "fake/m", "nonsense"):
        assert await router.token_counter(name) is ESTIMATE, name


async def test_token_counter_under_a_cassette_is_the_estimate_and_starts_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A replay starts no model: a recording counting with the model's tokenizer would trim
    long prompts differently from its own replay (and the replay would miss)."""
    import qualia_cli.llm.local as local

    started: list[object] = []
    monkeypatch.setattr(local, "get_local_server", lambda *args: started.append(args))
    router = ModelRouter(Settings())
    router.wrap_providers(lambda provider, model, create: create())
    assert await router.token_counter("local/smollm2") is ESTIMATE
    assert started == []


async def test_token_counter_for_an_embedded_model_that_cannot_start_is_the_estimate(
    tmp_path: Path,
) -> None:
    router = ModelRouter(Settings())
    assert await router.token_counter(f"local/{tmp_path}/missing.gguf") is ESTIMATE
