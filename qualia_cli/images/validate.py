"""Check a resolved workflow against a server's `/object_info` before submitting it.

Every node class must exist, every required input must be given, combo values (checkpoint,
sampler, scheduler…) must be among the installed choices, numbers must be numbers within range,
and links must point at an output of the right type. Problems name the file, node and input.
"""

from __future__ import annotations

from typing import Any

from qualia_cli.images.errors import Problem
from qualia_cli.images.workflows import AVATARS, PLACEHOLDER, Workflow, is_link, node_inputs

FILE_INPUTS = ("ckpt_name", "vae_name", "lora_name", "unet_name", "clip_name", "control_net_name")
MAX_SHOWN = 12


def combo_options(spec: Any) -> list[Any] | None:
    """Choices of a combo input in either format: `[[a, b], {...}]` or `["COMBO", {"options"}]`."""
    if not isinstance(spec, list) or not spec:
        return None
    if isinstance(spec[0], list):
        return spec[0]
    if spec[0] == "COMBO" and len(spec) > 1 and isinstance(spec[1], dict):
        options = spec[1].get("options")
        return options if isinstance(options, list) else None
    return None


def input_spec(info: dict[str, Any], name: str) -> Any:
    inputs = info.get("input") or {}
    for section in ("required", "optional"):
        spec = (inputs.get(section) or {}).get(name)
        if spec is not None:
            return spec
    return None


def shown_list(values: list[Any]) -> str:
    text = ", ".join(str(v) for v in values[:MAX_SHOWN])
    return text + (f", … ({len(values) - MAX_SHOWN} more)" if len(values) > MAX_SHOWN else "")


def combo_message(input_name: str, value: Any, options: list[Any]) -> str:
    if input_name in FILE_INPUTS:
        installed = shown_list(options) if options else "none"
        return f"{input_name} '{value}' is not installed; installed: {installed}"
    return f"{input_name} '{value}' is not allowed; choose one of: {shown_list(options)}"


def _value_problem(input_name: str, value: Any, spec: Any) -> str | None:
    options = combo_options(spec)
    if options is not None:
        return None if value in options else combo_message(input_name, value, options)
    kind = spec[0] if isinstance(spec, list) and spec else None
    limits = (
        spec[1] if isinstance(spec, list) and len(spec) > 1 and isinstance(spec[1], dict) else {}
    )
    if kind in ("INT", "FLOAT"):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if kind == "INT" and isinstance(value, float) and not value.is_integer():
            ok = False
        if not ok:
            return f"{input_name}: {value!r} is not a valid {kind}"
        low, high = limits.get("min"), limits.get("max")
        if low is not None and value < low:
            return f"{input_name} {value} is below the minimum {low}"
        if high is not None and value > high:
            return f"{input_name} {value} is above the maximum {high}"
    elif kind == "STRING" and not isinstance(value, str):
        return f"{input_name}: {value!r} is not text"
    elif kind == "BOOLEAN" and not isinstance(value, bool):
        return f"{input_name}: {value!r} is not true or false"
    return None


def _types_match(given: str, wanted: str) -> bool:
    if "*" in (given, wanted):
        return True
    return bool(set(given.split(",")) & set(wanted.split(",")))


def check_graph(
    wf: Workflow, resolved: dict[str, Any], object_info: dict[str, Any]
) -> list[Problem]:
    """Problems of `resolved` (the workflow with its placeholders filled) on this server."""
    shown = str(wf.path)
    out: list[Problem] = []

    def add(node_id: str, input_name: str | None, message: str) -> None:
        template = (
            wf.graph.get(node_id, {}).get("inputs", {}).get(input_name) if input_name else None
        )
        if isinstance(template, str) and PLACEHOLDER.fullmatch(template):
            message += f" (from {template})"
        line, col = wf.locate(node_id, input_name)
        out.append(Problem(shown, line, col, message))

    has_output = False
    for node_id, node in resolved.items():
        class_type = node.get("class_type", "")
        info = object_info.get(class_type)
        if not info:
            add(node_id, None, f"node {node_id}: node class '{class_type}' is not installed")
            continue
        has_output = has_output or bool(info.get("output_node"))
        inputs = node.get("inputs") or {}
        label = f"node {node_id} {class_type}"
        for name in (info.get("input") or {}).get("required") or {}:
            if name not in inputs:
                add(node_id, None, f"{label}: required input '{name}' is missing")
        for name, value in inputs.items():
            spec = input_spec(info, name)
            if spec is None:
                continue
            if isinstance(value, str) and PLACEHOLDER.fullmatch(value):
                continue  # left without a value: reported as such
            template = node_inputs(wf.graph.get(node_id)).get(name)
            if isinstance(template, str) and template.strip("%") in AVATARS:
                continue  # uploaded just before the prompt, so not in the list yet
            if is_link(value):
                problem = _link_problem(resolved, object_info, value, spec)
                if problem:
                    add(node_id, name, f"{label}: {name} {problem}")
                continue
            problem = _value_problem(name, value, spec)
            if problem:
                add(node_id, name, f"{label}: {problem}")
    if not has_output:
        out.append(Problem(shown, 1, 1, "the workflow has no output node (add a SaveImage node)"))
    return out


def _link_problem(
    resolved: dict[str, Any], object_info: dict[str, Any], link: list[Any], spec: Any
) -> str | None:
    source_id, index = str(link[0]), link[1]
    source = resolved.get(source_id)
    if source is None:
        return f"links to node {source_id}, which does not exist"
    info = object_info.get(source.get("class_type", ""))
    if not info:
        return None  # reported on the source node
    outputs = info.get("output") or []
    if not 0 <= index < len(outputs):
        return f"links to output {index} of node {source_id}, which has {len(outputs)}"
    wanted = spec[0] if isinstance(spec, list) and spec and isinstance(spec[0], str) else None
    given = outputs[index]
    if wanted and wanted != "COMBO" and isinstance(given, str) and not _types_match(given, wanted):
        return f"expects {wanted} but node {source_id} gives {given}"
    return None
