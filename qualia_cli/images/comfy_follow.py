"""Following one ComfyUI prompt to its end: its websocket messages, its history status.

A prompt ends with `executing {node: null}` — after `execution_success` *and* after the server
has written the history entry; `execution_success` alone is not the end.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from qualia_cli.images.comfy_errors import describe_execution_error
from qualia_cli.images.errors import ComfyError


@dataclass
class Progress:
    percent: float
    node: str | None = None
    step: int | None = None
    steps: int | None = None


async def follow_prompt(
    socket: Any,
    prompt_id: str,
    total_nodes: int,
    on_progress: Callable[[Progress], None] | None,
    server: str,
) -> bool:
    """Read this prompt's messages until it ends; False if the socket dropped first."""
    from websockets.exceptions import ConnectionClosed

    done: set[str] = set()
    current: str | None = None
    last = -1.0

    def report(fraction: float, step: int | None = None, steps: int | None = None) -> None:
        nonlocal last
        percent = min(99.0, 100.0 * (len(done) + fraction) / max(1, total_nodes))
        if on_progress is not None and percent >= last + 0.5:
            last = percent
            on_progress(Progress(round(percent, 1), current, step, steps))

    try:
        async for frame in socket:
            if not isinstance(frame, str):
                continue  # binary previews
            try:
                msg = json.loads(frame)
                kind, data = msg.get("type"), msg.get("data") or {}
            except (ValueError, AttributeError):
                continue
            if not isinstance(data, dict) or data.get("prompt_id") != prompt_id:
                continue
            if kind == "execution_cached":
                done.update(str(n) for n in data.get("nodes") or [])
                report(0.0)
            elif kind == "executing":
                if current is not None:
                    done.add(current)
                current = data.get("node")
                if current is None:
                    return True
                report(0.0)
            elif kind == "progress":
                value, top = data.get("value") or 0, data.get("max") or 1
                report(value / top if top else 0.0, int(value), int(top))
            elif kind == "execution_success":
                # not the end yet: the history entry is written after this message, and
                # `executing {node: null}` follows it
                if on_progress is not None:
                    on_progress(Progress(100.0, None))
                    last = 100.0
            elif kind == "execution_error":
                raise ComfyError("execution", describe_execution_error(data), server=server)
            elif kind == "execution_interrupted":
                raise ComfyError(
                    "interrupted",
                    f"ComfyUI interrupted the prompt at node {data.get('node_id')} "
                    f"{data.get('node_type', '')}".rstrip(),
                    server=server,
                )
    except ConnectionClosed:
        pass
    return False


def raise_status(status: dict[str, Any], server: str) -> None:
    """Raise the failure a history entry's status records (nothing if it succeeded)."""
    for item in status.get("messages") or []:
        if not isinstance(item, list | tuple) or len(item) != 2 or not isinstance(item[1], dict):
            continue
        kind, data = item
        if kind == "execution_error":
            raise ComfyError("execution", describe_execution_error(data), server=server)
        if kind == "execution_interrupted":
            raise ComfyError(
                "interrupted",
                f"ComfyUI interrupted the prompt at node {data.get('node_id')}",
                server=server,
            )
    if status.get("status_str") == "error":
        raise ComfyError("execution", f"{server}: the prompt failed", server=server)


def output_images(entry: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Saved images first (type "output"), then previews, in node order."""
    outputs = (entry or {}).get("outputs") or {}
    found: list[dict[str, Any]] = []
    if not isinstance(outputs, dict):  # a malformed answer: no images
        return found
    for node_id in sorted(outputs, key=lambda k: (len(str(k)), str(k))):
        node = outputs[node_id]
        images = node.get("images") if isinstance(node, dict) else None
        for ref in images if isinstance(images, list) else []:
            if isinstance(ref, dict) and isinstance(ref.get("filename"), str):
                found.append(ref)
    return sorted(found, key=lambda r: r.get("type") != "output")
