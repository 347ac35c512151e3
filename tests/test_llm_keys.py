"""API keys: environment then keyring, masking, and keys never in error text."""

from __future__ import annotations

import keyring
import pytest

from qualia_cli.config import Settings
from qualia_cli.llm.errors import ErrorCode, LLMError
from qualia_cli.llm.keys import KEYRING_SERVICE, get_api_key, mask, scrub, store_api_key
from qualia_cli.llm.router import ModelRouter

SECRET = "sk-or-v1-0123456789abcdefa1b2"


@pytest.fixture
def fake_keyring(monkeypatch: pytest.MonkeyPatch) -> dict[tuple[str, str], str]:
    store: dict[tuple[str, str], str] = {}

    def get_password(service: str, user: str) -> str | None:
        return store.get((service, user))

    def set_password(service: str, user: str, value: str) -> None:
        store[(service, user)] = value

    monkeypatch.setattr(keyring, "get_password", get_password)
    monkeypatch.setattr(keyring, "set_password", set_password)
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    return store


def test_mask() -> None:
    assert mask("sk-abcdefghijkla1b2") == "sk-…a1b2"
    assert mask(SECRET) == "sk-…a1b2"
    assert mask("short") == "…"
    assert mask("") == "" and mask(None) == ""
    assert "abcdef" not in mask(SECRET)


def test_scrub() -> None:
    assert scrub(f"key {SECRET} rejected", SECRET) == "key sk-…a1b2 rejected"
    assert scrub("nothing here", None, "") == "nothing here"


def test_environment_wins_over_keyring(
    fake_keyring: dict[tuple[str, str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_keyring[(KEYRING_SERVICE, "OPENROUTER_API_KEY")] = "from-keyring"
    monkeypatch.setenv("OPENROUTER_API_KEY", "  from-env  ")
    assert get_api_key("OPENROUTER_API_KEY") == "from-env"


def test_keyring_fallback(fake_keyring: dict[tuple[str, str], str]) -> None:
    assert get_api_key("OPENROUTER_API_KEY") is None
    fake_keyring[(KEYRING_SERVICE, "OPENROUTER_API_KEY")] = SECRET
    assert get_api_key("OPENROUTER_API_KEY") == SECRET


def test_empty_env_falls_back_to_keyring(
    fake_keyring: dict[tuple[str, str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "")
    fake_keyring[(KEYRING_SERVICE, "OPENAI_API_KEY")] = "k-from-ring"
    assert get_api_key("OPENAI_API_KEY") == "k-from-ring"


def test_keyring_failure_means_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(service: str, user: str) -> str | None:
        raise keyring.errors.NoKeyringError("no backend")

    monkeypatch.setattr(keyring, "get_password", broken)
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    assert get_api_key("OPENROUTER_API_KEY") is None


def test_store_api_key(fake_keyring: dict[tuple[str, str], str]) -> None:
    store_api_key("OPENROUTER_API_KEY", f" {SECRET}\n")
    assert get_api_key("OPENROUTER_API_KEY") == SECRET


def test_store_api_key_failure_is_one_clean_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(service: str, user: str, value: str) -> None:
        raise RuntimeError(f"cannot store {value}")

    monkeypatch.setattr(keyring, "set_password", broken)
    with pytest.raises(LLMError) as info:
        store_api_key("OPENROUTER_API_KEY", SECRET)
    assert info.value.code is ErrorCode.CONFIG
    assert SECRET not in str(info.value) and "OPENROUTER_API_KEY" in str(info.value)


def test_missing_key_is_auth_error(fake_keyring: dict[tuple[str, str], str]) -> None:
    with pytest.raises(LLMError) as info:
        ModelRouter(Settings()).resolve("openrouter/openai/gpt-4o-mini")
    assert info.value.code is ErrorCode.AUTH
    assert str(info.value).startswith("OPENROUTER_API_KEY is not set (environment or keyring)")


async def test_keyring_key_reaches_the_provider_but_not_describe(
    fake_keyring: dict[tuple[str, str], str],
) -> None:
    fake_keyring[(KEYRING_SERVICE, "OPENROUTER_API_KEY")] = SECRET
    router = ModelRouter(Settings())
    provider, model = router.resolve("openrouter/openai/gpt-4o-mini")
    assert model == "openai/gpt-4o-mini"
    assert SECRET not in repr(provider)
    info = router.describe("openrouter/openai/gpt-4o-mini")
    assert info["key_present"] is True and info["key_masked"] == "sk-…a1b2"
    assert SECRET not in str(info)
    await router.aclose()
