"""Turn ComfyUI's error answers into one readable line naming the node and the input.

`POST /prompt` answers 400 with `{"error": {type, message, details}, "node_errors": {id:
{errors: [...], class_type}}}`; a run that fails sends `execution_error` over the websocket.
"""

from __future__ import annotations

from typing import Any

from qualia_cli.images.validate import combo_message


def _node_error(node_id: str, class_type: str, err: dict[str, Any]) -> str:
    kind = err.get("type", "")
    extra = err.get("extra_info") or {}
    name = extra.get("input_name") or ""
    received = extra.get("received_value")
    config = extra.get("input_config")
    label = f"node {node_id} {class_type}".rstrip()
    if kind == "value_not_in_list" and name:
        options = (
            config[0] if isinstance(config, list) and config and isinstance(config[0], list) else []
        )
        if isinstance(config, list) and config and config[0] == "COMBO" and len(config) > 1:
            options = (config[1] or {}).get("options") or []
        return f"{label}: {combo_message(name, received, options)}"
    if kind == "required_input_missing":
        return f"{label}: required input '{name or err.get('details', '')}' is missing"
    if kind == "invalid_input_type" and name:
        wanted = config[0] if isinstance(config, list) and config else "value"
        return f"{label}: {name}: {received!r} is not a valid {wanted}"
    if kind in ("value_bigger_than_max", "value_smaller_than_min") and name:
        limits = config[1] if isinstance(config, list) and len(config) > 1 else {}
        if kind == "value_bigger_than_max":
            return f"{label}: {name} {received} is above the maximum {limits.get('max')}"
        return f"{label}: {name} {received} is below the minimum {limits.get('min')}"
    if kind == "return_type_mismatch" and name:
        linked = extra.get("linked_node") or ["?"]
        wanted = config[0] if isinstance(config, list) and config else "?"
        return (
            f"{label}: {name} expects {wanted} but node {linked[0]} gives "
            f"{extra.get('received_type', '?')}"
        )
    if kind == "exception_during_validation" and extra.get("exception_type") == "KeyError":
        missing = str(err.get("details", "")).strip("'\"")
        return f"{label}: links to node {missing}, which does not exist"
    details = err.get("details")
    message = err.get("message") or kind or "invalid"
    return f"{label}: {message}" + (f" ({details})" if details else "")


def describe_rejection(status: int, body: Any) -> str:
    """One line for a non-200 answer to `POST /prompt` (JSON body or plain text)."""
    if not isinstance(body, dict):
        text = str(body or "").strip().splitlines()
        first = text[-1] if text else ""
        return f"ComfyUI could not read the request (HTTP {status}{': ' + first if first else ''})"
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    node_errors = body.get("node_errors") if isinstance(body.get("node_errors"), dict) else {}
    parts: list[str] = []
    for node_id, entry in node_errors.items():
        if not isinstance(entry, dict):
            continue
        for err in entry.get("errors") or []:
            if isinstance(err, dict):
                parts.append(_node_error(str(node_id), str(entry.get("class_type", "")), err))
    if parts:
        return "; ".join(parts)
    kind = error.get("type", "")
    if kind == "prompt_no_outputs":
        return "the workflow has no output node (add a SaveImage node)"
    if kind == "no_prompt":
        return "ComfyUI received no prompt"
    message = error.get("message") or f"HTTP {status}"
    details = error.get("details")
    return f"ComfyUI rejected the workflow: {message}" + (f" ({details})" if details else "")


def describe_execution_error(data: dict[str, Any]) -> str:
    """One line for an `execution_error` websocket message (or the history entry's copy)."""
    node = data.get("node_id", "?")
    kind = str(data.get("exception_type") or "error").rsplit(".", 1)[-1]
    message = str(data.get("exception_message") or "").strip().replace("\n", " ")
    return f"node {node} {data.get('node_type', '')} failed: {kind}: {message}".replace("  ", " ")
