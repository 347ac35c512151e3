"""ComfyUI's own prompt validation, re-told from the captured answers (for the stand-in server).

Written independently of qualia's validator so that tests of the client meet answers shaped
exactly like the real server's (see shared/comfyui/captures/err_*.json).
"""

from __future__ import annotations

from typing import Any


def _error(kind: str, message: str, details: str = "", **extra: Any) -> dict[str, Any]:
    return {"type": kind, "message": message, "details": details, "extra_info": extra}


def top_error(kind: str, message: str, details: str = "") -> dict[str, Any]:
    return {"error": _error(kind, message, details), "node_errors": {}}


def _spec(info: dict[str, Any], name: str) -> Any:
    for section in ("required", "optional"):
        spec = (info["input"].get(section) or {}).get(name)
        if spec is not None:
            return spec
    return None


def _options(spec: Any) -> list[Any] | None:
    if isinstance(spec[0], list):
        return spec[0]
    if spec[0] == "COMBO":
        return (spec[1] if len(spec) > 1 else {}).get("options")
    return None


def _check_value(name: str, value: Any, spec: Any) -> dict[str, Any] | None:
    options = _options(spec)
    if options is not None:
        if value not in options:
            # real ComfyUI summarises a list of more than 20 choices and leaves out the spec
            long = len(options) > 20
            shown = f"(list of length {len(options)})" if long else repr(options)
            return _error(
                "value_not_in_list",
                "Value not in list",
                f"{name}: '{value}' not in {shown}",
                input_name=name,
                input_config=None if long else spec,
                received_value=value,
            )
        return None
    kind = spec[0]
    limits = spec[1] if len(spec) > 1 else {}
    if kind in ("INT", "FLOAT"):
        try:
            number = int(value) if kind == "INT" else float(value)
        except (TypeError, ValueError) as err:
            return _error(
                "invalid_input_type",
                f"Failed to convert an input value to a {kind} value",
                f"{name}, {value}, {err}",
                input_name=name,
                input_config=spec,
                received_value=value,
                exception_message=str(err),
            )
        if "min" in limits and number < limits["min"]:
            return _error(
                "value_smaller_than_min",
                f"Value {number} smaller than min of {limits['min']}",
                name,
                input_name=name,
                input_config=spec,
                received_value=value,
            )
        if "max" in limits and number > limits["max"]:
            return _error(
                "value_bigger_than_max",
                f"Value {number} bigger than max of {limits['max']}",
                name,
                input_name=name,
                input_config=spec,
                received_value=value,
            )
    return None


def _node_errors(
    prompt: dict[str, Any], info: dict[str, Any], node_id: str
) -> list[dict[str, Any]]:
    node = prompt[node_id]
    klass = info[node["class_type"]]
    inputs = node.get("inputs") or {}
    errors: list[dict[str, Any]] = []
    for name in klass["input"].get("required") or {}:
        if name not in inputs:
            errors.append(
                _error("required_input_missing", "Required input is missing", name, input_name=name)
            )
    for name, value in inputs.items():
        spec = _spec(klass, name)
        if spec is None:
            continue
        if isinstance(value, list) and len(value) == 2:
            source = prompt.get(str(value[0]))
            if source is None:
                errors.append(
                    _error(
                        "exception_during_validation",
                        "Exception when validating node",
                        repr(str(value[0])),
                        exception_type="KeyError",
                        traceback=["<traceback removed>"],
                    )
                )
                continue
            given = info[source["class_type"]]["output"][value[1]]
            wanted = spec[0]
            if isinstance(wanted, str) and given != wanted and "*" not in (given, wanted):
                errors.append(
                    _error(
                        "return_type_mismatch",
                        "Return type mismatch between linked nodes",
                        f"{name}, received_type({given}) mismatch input_type({wanted})",
                        input_name=name,
                        input_config=spec,
                        received_type=given,
                        linked_node=value,
                    )
                )
            continue
        problem = _check_value(name, value, spec)
        if problem:
            errors.append(problem)
    return errors


def validate(prompt: dict[str, Any], info: dict[str, Any]) -> tuple[int, dict[str, Any], list[str]]:
    """(status, answer, output node ids to run). `answer` is the JSON body for errors."""
    for node_id, node in prompt.items():
        if not isinstance(node, dict) or "class_type" not in node:
            return (
                400,
                top_error(
                    "invalid_prompt",
                    "Cannot execute because a node is missing the class_type property.",
                    f"Node ID '#{node_id}'",
                ),
                [],
            )
        if node["class_type"] not in info:
            return (
                400,
                top_error(
                    "invalid_prompt",
                    f"Cannot execute because node {node['class_type']} does not exist.",
                    f"Node ID '#{node_id}'",
                ),
                [],
            )
    outputs = [n for n, node in prompt.items() if info[node["class_type"]].get("output_node")]
    if not outputs:
        return 400, top_error("prompt_no_outputs", "Prompt has no outputs"), []
    node_errors: dict[str, Any] = {}
    good: list[str] = []
    for out in outputs:
        bad = False
        seen: set[str] = set()
        stack = [out]
        while stack:
            node_id = stack.pop()
            if node_id in seen or node_id not in prompt:
                continue
            seen.add(node_id)
            errors = _node_errors(prompt, info, node_id)
            if errors:
                bad = True
                entry = node_errors.setdefault(
                    node_id,
                    {
                        "errors": errors,
                        "dependent_outputs": [],
                        "class_type": prompt[node_id]["class_type"],
                    },
                )
                entry["dependent_outputs"].append(out)
            for value in (prompt[node_id].get("inputs") or {}).values():
                if isinstance(value, list) and len(value) == 2:
                    stack.append(str(value[0]))
        if not bad:
            good.append(out)
    if not good:
        answer = {
            "error": _error("prompt_outputs_failed_validation", "Prompt outputs failed validation"),
            "node_errors": node_errors,
        }
        return 400, answer, []
    return 200, {"node_errors": node_errors}, good
