"""API keys: from the environment first, then the OS keyring. Never logged, never stored.

Keyring entries live under the service name `qualia` with the environment variable's name
as the user name, e.g. `keyring set qualia OPENROUTER_API_KEY`.
"""

from __future__ import annotations

import logging
import os

from qualia_cli.llm.errors import ErrorCode, LLMError

log = logging.getLogger("qualia.llm")

KEYRING_SERVICE = "qualia"


def get_api_key(env_var: str) -> str | None:
    """The key named `env_var`: environment, then keyring; None if neither has it."""
    value = os.environ.get(env_var, "").strip()
    if value:
        return value
    try:
        import keyring

        stored = keyring.get_password(KEYRING_SERVICE, env_var)
    except Exception as exc:  # no backend, locked, D-Bus down...: treat as "no key"
        log.debug("keyring lookup for %s failed: %s", env_var, type(exc).__name__)
        return None
    if isinstance(stored, str) and stored.strip():
        return stored.strip()
    return None


def store_api_key(env_var: str, key: str) -> None:
    """Save a key in the OS keyring (for a `qualia keys set` command)."""
    try:
        import keyring

        keyring.set_password(KEYRING_SERVICE, env_var, key.strip())
    except Exception as exc:
        raise LLMError(
            ErrorCode.CONFIG,
            f"cannot save {env_var} in the OS keyring ({type(exc).__name__}): "
            f"set the {env_var} environment variable instead",
        ) from None


def mask(key: str | None) -> str:
    """A display form that cannot leak the key: `sk-…a1b2` (short keys show nothing)."""
    if not key:
        return ""
    if len(key) < 12:
        return "…"
    return f"{key[:3]}…{key[-4:]}"


def scrub(text: str, *secrets: str | None) -> str:
    """Replace every occurrence of the given secrets in `text` by their masked form."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, mask(secret) or "…")
    return text
