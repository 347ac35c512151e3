"""Typed model errors: one code, one readable line."""

from __future__ import annotations

from enum import StrEnum

from qualia_cli.errors import QualiaError


class ErrorCode(StrEnum):
    AUTH = "auth"  # bad or missing API key
    CREDITS = "credits"  # 402: the account is out of credits
    NOT_FOUND = "not_found"  # unknown model
    UNREACHABLE = "unreachable"  # host down, DNS, refused
    RATE_LIMITED = "rate_limited"
    TIMEOUT = "timeout"
    SERVER = "server"  # 5xx
    BAD_REQUEST = "bad_request"
    BAD_OUTPUT = "bad_output"  # unparseable / invalid structured output
    CONFIG = "config"  # model name or endpoint misconfigured
    CANCELLED = "cancelled"


class LLMError(QualiaError):
    """A model call that failed; `str(err)` is one line fit for a user."""

    def __init__(self, code: ErrorCode, message: str, *, model: str | None = None) -> None:
        self.code = code
        self.model = model
        self.message = message
        super().__init__(f"{model}: {message}" if model else message)
