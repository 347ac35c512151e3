"""Failed turns are explained in plain words with the setting to change."""

from __future__ import annotations

import pytest

from qualia_cli.engine.checks.error_hints import explain


@pytest.mark.parametrize(
    ("raw", "wanted"),
    [
        ("partner: [Errno 111] Connect call failed ('127.0.0.1', 8080)", "Cannot reach"),
        (
            "partner: request (4100 tokens) exceeds the available context size (4096 tokens), "
            "try increasing it",
            "`agents.partner.context_tokens`",
        ),
        ("director: Error code: 401 - invalid api key", "`api_key_env`"),
        ("strategist: Request timed out.", "`request_timeout_s`"),
        ("429 Too Many Requests", "rate-limiting"),
    ],
)
def test_known_failures_name_what_to_do(raw: str, wanted: str) -> None:
    text = explain(raw)
    assert wanted in text
    assert text.endswith(f"({raw})"), "the original stays for the trace"


def test_context_error_names_both_settings() -> None:
    text = explain("exceeds the available context size", agent="director")
    assert "`local.n_ctx`" in text and "`agents.director.context_tokens`" in text


def test_unknown_errors_pass_through() -> None:
    assert explain("the partner answered nothing usable") == "the partner answered nothing usable"
