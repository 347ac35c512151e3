"""Field types for agent outputs: tight JSON schemas for the model, forgiving validation for us.

A small model under a loose schema rambles, so every string carries `maxLength` and every list
`maxItems` in the schema sent to the model. When a remote model (no constrained decoding)
overshoots, we trim rather than fail the turn.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema


def _trim(limit: int):  # type: ignore[no-untyped-def]
    def trim(value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            if len(value) > limit:
                cut = value[:limit].rsplit(" ", 1)[0]
                return cut or value[:limit]
        return value

    return trim


def short(limit: int) -> Any:
    """A string of at most `limit` characters (schema) trimmed to fit (validation)."""
    return Annotated[
        str,
        BeforeValidator(_trim(limit)),
        WithJsonSchema({"type": "string", "maxLength": limit}),
    ]


def tag_list(max_items: int, item_len: int = 40) -> Any:
    """A short list of short tags; extra items are dropped."""

    def clip(value: Any) -> Any:
        if isinstance(value, str):
            value = [t for t in value.split(",")]
        if isinstance(value, list):
            out = [str(v).strip()[:item_len] for v in value if str(v).strip()]
            return out[:max_items]
        return value

    return Annotated[
        list[str],
        BeforeValidator(clip),
        WithJsonSchema(
            {
                "type": "array",
                "items": {"type": "string", "maxLength": item_len},
                "maxItems": max_items,
            }
        ),
    ]
