"""The real ComfyUI 0.3.64 reference data the stand-in answers from (tests/data/comfyui)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def shared_comfyui() -> Path:
    """The real ComfyUI 0.3.64 reference data, copied from shared/comfyui into tests/data."""
    return Path(__file__).resolve().parent.parent / "data" / "comfyui"


_OBJECT_INFO: dict[str, Any] | None = None


def object_info() -> dict[str, Any]:
    global _OBJECT_INFO
    if _OBJECT_INFO is None:
        _OBJECT_INFO = json.loads((shared_comfyui() / "object_info.json").read_text())
    return _OBJECT_INFO


def capture(name: str) -> dict[str, Any]:
    return json.loads((shared_comfyui() / "captures" / name).read_text())
