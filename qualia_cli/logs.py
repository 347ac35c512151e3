"""Logging: one file in the data dir, each line tagged with session and turn, secrets redacted."""

from __future__ import annotations

import contextvars
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_session: contextvars.ContextVar[str] = contextvars.ContextVar("qualia_session", default="-")
_turn: contextvars.ContextVar[str] = contextvars.ContextVar("qualia_turn", default="-")

# Key-shaped strings: OpenAI/OpenRouter style, bearer tokens, long hex/base64 tokens after "key".
KEY_PATTERNS = [
    re.compile(r"sk-[A-Za-z0-9_\-]{12,}"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9_\-\.=]{12,}"),
    re.compile(r"(?i)(api[_-]?key[\"']?\s*[:=]\s*[\"']?)[A-Za-z0-9_\-\.]{12,}"),
]
KEY_ENV_VARS = {"OPENROUTER_API_KEY", "OPENAI_API_KEY"}


def register_key_env(name: str) -> None:
    """Values of this environment variable will be scrubbed from logs."""
    KEY_ENV_VARS.add(name)


def redact(text: str, extra_secrets: tuple[str, ...] = ()) -> str:
    secrets = [os.environ.get(n, "") for n in KEY_ENV_VARS] + list(extra_secrets)
    for secret in secrets:
        if secret and len(secret) >= 6:
            text = text.replace(secret, "***")
    for pattern in KEY_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "***", text)
    return text


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.session_id = _session.get()
        record.turn_id = _turn.get()
        return True


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


@contextmanager
def turn_context(session_id: str, turn_id: str) -> Iterator[None]:
    s = _session.set(session_id)
    t = _turn.set(turn_id)
    try:
        yield
    finally:
        try:
            _session.reset(s)
            _turn.reset(t)
        except ValueError:  # reset from another context (generator closed elsewhere)
            pass


def setup_logging(log_file: Path, level: str = "INFO") -> None:
    """Send qualia's logs (and library warnings) to `log_file`. Safe to call twice."""
    root = logging.getLogger("qualia")
    for old in [h for h in root.handlers if getattr(h, "_qualia", False)]:
        if isinstance(old, logging.FileHandler) and Path(old.baseFilename) == log_file.resolve():
            return
        for name in ("qualia", "httpx", "openai"):
            logging.getLogger(name).removeHandler(old)
        old.close()
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler._qualia = True  # type: ignore[attr-defined]
    handler.addFilter(_ContextFilter())
    handler.setFormatter(
        _RedactingFormatter(
            "%(asctime)s %(levelname)s %(name)s session=%(session_id)s turn=%(turn_id)s %(message)s"
        )
    )
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
    for noisy in ("httpx", "openai"):
        lib = logging.getLogger(noisy)
        lib.addHandler(handler)
        lib.setLevel(logging.WARNING)
