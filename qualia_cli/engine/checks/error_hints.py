"""Failed turns explained for a player: what happened in plain words and the setting to change.

Model servers fail with texts written for developers (``[Errno 111] Connect call failed``,
``exceeds the available context size … try increasing it``). ``explain`` keeps the original
(for the trace and bug reports) but puts first what it means and which setting, key or dialog
fixes it.
"""

from __future__ import annotations

import re

_CONNECT = re.compile(
    r"errno 111|errno 61|connect call failed|connection refused|connecterror|"
    r"name or service not known|nodename nor servname|failed to establish a new connection|"
    r"all connection attempts failed",
    re.IGNORECASE,
)
_CONTEXT = re.compile(
    r"context (size|length|window)|exceeds the available context|maximum context|"
    r"too many tokens|n_ctx",
    re.IGNORECASE,
)
_TIMEOUT = re.compile(r"timed? ?out|timeout|deadline", re.IGNORECASE)
_AUTH = re.compile(r"\b401\b|\b403\b|unauthori[sz]ed|invalid api key|api key", re.IGNORECASE)
_RATE = re.compile(r"\b429\b|rate limit|too many requests", re.IGNORECASE)
_AGENT = re.compile(r"\b(director|partner|visual|strategist|summarizer)\b", re.IGNORECASE)


def explain(error: str, agent: str | None = None, pick: str = "ctrl+o") -> str:
    """``error`` with a plain-words reason and the setting to change put first (one paragraph).

    ``pick`` says how this front end changes the model (the TUI: ctrl+o; line mode: --model).
    Unknown errors come back unchanged.
    """
    raw = " ".join(error.split())
    if agent is None:
        found = _AGENT.search(raw)
        agent = found.group(1).lower() if found else None
    role = agent or "<role>"
    if _CONTEXT.search(raw):
        hint = (
            "The story no longer fits the model's context window. Raise `local.n_ctx` (the "
            f"embedded model) or lower `agents.{role}.context_tokens` in config.yaml, or pick a "
            f"model with a longer context ({pick})."
        )
    elif _CONNECT.search(raw):
        hint = (
            "Cannot reach the model server (nothing answers at its address). Start it, check "
            f"the endpoint's `base_url` in config.yaml, or pick another model ({pick})."
        )
    elif _AUTH.search(raw):
        hint = (
            "The model server refused the API key. Set the key named by the endpoint's "
            f"`api_key_env` (`qualia doctor` shows which), or pick another model ({pick})."
        )
    elif _RATE.search(raw):
        hint = "The model server is rate-limiting: wait a moment and retry, or pick another model."
    elif _TIMEOUT.search(raw):
        hint = (
            "The model took too long to answer. Retry, raise `request_timeout_s` in "
            f"config.yaml, or pick a faster model ({pick})."
        )
    else:
        return raw
    return f"{hint} ({raw})"
