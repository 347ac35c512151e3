"""JSON schemas for structured output, shaped for llama.cpp's grammar converter and strict mode.

`schema_for` inlines `$defs`/`$ref`, closes every object (`additionalProperties: false`),
marks every property required and drops keys that only add tokens or upset strict mode
(`title`, `default`). Constraints that keep small models on a leash (`enum`, `maxLength`,
`maxItems`, `minimum`/`maximum`) are kept.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from pydantic import TypeAdapter

_DROP_KEYS = frozenset({"title", "default", "examples"})


def schema_for(output_type: Any) -> dict[str, Any]:
    """A self-contained JSON schema for a Pydantic model (or any TypeAdapter-able type)."""
    raw = TypeAdapter(output_type).json_schema()
    defs: dict[str, Any] = raw.pop("$defs", {})
    schema = _inline(raw, defs, ())
    if not isinstance(schema, dict):  # pragma: no cover - json_schema always returns a dict
        raise TypeError("schema must be an object")
    return schema


def _inline(node: Any, defs: dict[str, Any], stack: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_inline(item, defs, stack) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = str(node["$ref"])
        name = ref.rsplit("/", 1)[-1]
        if not ref.startswith("#/$defs/") or name not in defs:
            raise ValueError(f"unsupported $ref {ref!r} in output schema")
        if name in stack:
            raise ValueError(f"recursive type {name!r} cannot be used as an output schema")
        target = copy.deepcopy(defs[name])
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        target.update(siblings)
        return _inline(target, defs, (*stack, name))
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP_KEYS:
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {prop: _inline(sub, defs, stack) for prop, sub in value.items()}
        else:
            out[key] = _inline(value, defs, stack)
    # a single-element allOf is how older Pydantic wraps a $ref with siblings
    all_of = out.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], dict):
        out.pop("allOf")
        out = {**all_of[0], **out}
    if isinstance(out.get("properties"), dict):
        out["required"] = list(out["properties"])
        out["additionalProperties"] = False
    return out


def schema_instruction(schema: dict[str, Any]) -> str:
    """A system-prompt paragraph asking for JSON when the endpoint cannot enforce a schema."""
    compact = json.dumps(schema, separators=(",", ":"), ensure_ascii=False)
    return (
        "Reply with one JSON object only: no prose, no code fences, no comments. "
        f"It must match this JSON schema: {compact}"
    )
