"""How many tokens an answer under a JSON schema can need, so `max_tokens` never cuts it.

A Director whose `max_tokens` (220) was below what its schema allows had half its answers cut
and repaired; every agent call now asks for at least ``schema_token_ceiling(schema)`` tokens.
The estimate is deliberately high: 2.5 characters per token for free text (prose runs ~3.6
with SmolLM2's tokenizer), plus JSON punctuation and the key names.
"""

from __future__ import annotations

from typing import Any

CHARS_PER_TOKEN = 2.5
UNBOUNDED_STRING = 60  # tokens for a string without maxLength (schemas should not have them)
UNBOUNDED_ITEMS = 4


def _ceiling(node: dict[str, Any]) -> int:
    kind = node.get("type")
    if "enum" in node:
        longest = max((len(str(v)) for v in node["enum"]), default=1)
        return int(longest / CHARS_PER_TOKEN) + 3
    if kind == "string":
        limit = node.get("maxLength")
        return int(limit / CHARS_PER_TOKEN) + 3 if limit else UNBOUNDED_STRING
    if kind in ("integer", "number"):
        return 4
    if kind == "boolean":
        return 2
    if kind == "array":
        items = node.get("items") or {}
        count = node.get("maxItems", UNBOUNDED_ITEMS)
        return 2 + count * (_ceiling(items) + 1)
    if kind == "object":
        total = 2
        for key, sub in (node.get("properties") or {}).items():
            total += int(len(key) / CHARS_PER_TOKEN) + 3 + _ceiling(sub)
        return total
    return 8


def schema_token_ceiling(schema: dict[str, Any] | None) -> int:
    """An upper estimate of the tokens a complete answer under ``schema`` takes (0: no schema)."""
    return _ceiling(schema) if schema else 0
