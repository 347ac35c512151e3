"""The built-in `%placeholder%` names of a workflow template and the JSON type of each.

Shared by the workflow loader (images/workflows.py) and its sidecar (images/workflow_sidecar.py),
which both check and type placeholder values; it imports neither.
"""

from __future__ import annotations

from typing import Any

from qualia_cli.images.errors import Problem, WorkflowError

PLACEHOLDERS: dict[str, type] = {
    "prompt": str,
    "negative_prompt": str,
    "seed": int,
    "width": int,
    "height": int,
    "steps": int,
    "scale": float,
    "sampler": str,
    "scheduler": str,
    "model": str,
    "vae": str,
    "denoise": float,
    "clip_skip": int,
    "char_avatar": str,  # the partner's portrait, uploaded through /upload/image
    "user_avatar": str,  # the player's avatar (images.user_avatar), uploaded likewise
}


def coerce(name: str, value: Any, where: str = "") -> Any:
    """Give a placeholder value the JSON type ComfyUI expects (seed -> int, scale -> float…)."""
    kind = PLACEHOLDERS.get(name)
    if kind is None:
        known = ", ".join(f"%{k}%" for k in PLACEHOLDERS)
        raise WorkflowError(Problem(where, 0, 0, f"unknown placeholder %{name}% (known: {known})"))
    try:
        if kind is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if kind is float:
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise WorkflowError(
            Problem(where, 0, 0, f"%{name}% must be {kind.__name__}, got {value!r}")
        ) from None
