"""Workflow templates: ComfyUI API-format JSON with `%placeholder%` strings, and a YAML sidecar.

The placeholders are the ones SillyTavern users already write, so their workflows load as they
are. A string that is exactly one placeholder (`"%seed%"`) is replaced by the typed JSON value
(the number 42, not the text "42"); a placeholder inside longer text (`"%prompt%, 8k"`) is
replaced as text. The sidecar `NAME.yaml` next to `NAME.json` gives a name, a description,
default values and user-defined find/replace placeholders (SillyTavern's custom placeholders); it
is optional. `%char_avatar%` / `%user_avatar%` name an image uploaded to the server before the
prompt (the partner's portrait, the player's avatar), as in SillyTavern's avatar workflows.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qualia_cli.images.errors import Problem, WorkflowError
from qualia_cli.images.placeholders import PLACEHOLDERS, coerce
from qualia_cli.images.workflow_sidecar import WorkflowMeta, load_sidecar
from qualia_cli.paths import bundled_workflows_dir, get_paths
from qualia_cli.scenario.safe_read import line_col

AVATARS = ("char_avatar", "user_avatar")
RUNTIME = frozenset({"prompt", "negative_prompt", "seed"})  # qualia fills these for every image
# used when neither the sidecar nor the config gives a value (%model% and %vae% have none)
BUILTIN_DEFAULTS: dict[str, Any] = {
    "width": 1024,
    "height": 1024,
    "steps": 25,
    "scale": 7.0,
    "sampler": "euler",
    "scheduler": "normal",
    "denoise": 1.0,
    "clip_skip": -1,
}
PLACEHOLDER = re.compile(r"%([A-Za-z0-9_]+)%")
MAX_BYTES = 2_000_000
_UNCLOSED = re.compile(r"%([A-Za-z0-9_]+)(?![A-Za-z0-9_%])")


@dataclass(frozen=True)
class Workflow:
    id: str
    path: Path
    graph: dict[str, Any]
    meta: WorkflowMeta
    text: str

    @property
    def title(self) -> str:
        return self.meta.name or self.id

    @property
    def template_hash(self) -> str:
        return hashlib.sha256(canonical(self.graph).encode()).hexdigest()

    def uses(self) -> dict[str, list[tuple[str, str]]]:
        """placeholder name -> [(node id, input name)] where it appears."""
        found: dict[str, list[tuple[str, str]]] = {}
        for node_id, node in self.graph.items():
            for input_name, value in node_inputs(node).items():
                if isinstance(value, str):
                    for name in PLACEHOLDER.findall(value):
                        found.setdefault(name, []).append((node_id, input_name))
        return found

    def values(self, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """Built-in defaults, the sidecar's, its custom placeholders, then `overrides` (None
        values ignored), typed (custom placeholders keep the type they were given)."""
        given = {k: v for k, v in (overrides or {}).items() if v is not None}
        custom = self.meta.custom
        merged = {**BUILTIN_DEFAULTS, **self.meta.defaults, **custom, **given}
        return {
            k: v if k in custom and k not in PLACEHOLDERS else coerce(k, v, where=str(self.path))
            for k, v in merged.items()
        }

    def missing(self, values: dict[str, Any]) -> list[Problem]:
        """One problem per placeholder the workflow uses that `values` gives no value."""
        out: list[Problem] = []
        uses = self.uses()
        for name in sorted(set(uses) - set(values)):
            if name not in PLACEHOLDERS:
                continue  # an unknown placeholder is a structure problem
            node_id, input_name = uses[name][0]
            line, col = self.locate(node_id, input_name)
            hint = {
                "model": " or images.model in config.yaml",
                "user_avatar": " or images.user_avatar in config.yaml",
            }.get(name, "")
            out.append(
                Problem(
                    str(self.path),
                    line,
                    col,
                    f"node {node_id}: %{name}% has no value; set defaults.{name} in "
                    f"{self.path.with_suffix('.yaml').name}{hint}",
                )
            )
        return out

    def resolve(self, values: dict[str, Any]) -> dict[str, Any]:
        """The graph with every placeholder replaced (raises WorkflowError if one has no value)."""
        missing = self.missing(values)
        if missing:
            raise WorkflowError(missing)
        return substitute(self.graph, values)

    def locate(self, node_id: str, input_name: str | None = None) -> tuple[int, int]:
        """Best-effort 1-based line:col of a node (or one of its inputs) in the JSON text."""
        m = re.search(rf'"{re.escape(node_id)}"\s*:\s*\{{', self.text)
        if not m:
            return 1, 1
        index = m.start()
        if input_name is not None:
            sub = re.compile(rf'"{re.escape(input_name)}"\s*:').search(self.text, m.end())
            if sub:
                index = sub.start()
        return line_col(self.text, index)


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def substitute(graph: Any, values: dict[str, Any]) -> Any:
    """Replace placeholders everywhere in a JSON value; exact ones keep the value's type."""
    if isinstance(graph, dict):
        return {k: substitute(v, values) for k, v in graph.items()}
    if isinstance(graph, list):
        return [substitute(v, values) for v in graph]
    if isinstance(graph, str):
        whole = PLACEHOLDER.fullmatch(graph)
        if whole and whole.group(1) in values:
            return values[whole.group(1)]
        return PLACEHOLDER.sub(
            lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), graph
        )
    return graph


def replace_value(graph: Any, old: str, new: str) -> Any:
    """Every string equal to `old` replaced by `new` (an uploaded file the server renamed)."""
    if isinstance(graph, dict):
        return {k: replace_value(v, old, new) for k, v in graph.items()}
    if isinstance(graph, list):
        return [replace_value(v, old, new) for v in graph]
    return new if graph == old else graph


def node_inputs(node: Any) -> dict[str, Any]:
    inputs = node.get("inputs") if isinstance(node, dict) else None
    return inputs if isinstance(inputs, dict) else {}


# ------------------------------------------------------------------------------ loading


def workflow_dirs() -> list[Path]:
    """The user's workflows first (they may override a bundled name), then the bundled ones."""
    return [get_paths().workflows_dir, bundled_workflows_dir()]


def find_workflow(name_or_path: str, dirs: list[Path] | None = None) -> Path:
    p = Path(name_or_path).expanduser()
    if p.suffix == ".json" or "/" in name_or_path:
        if p.is_file():
            return p
        raise WorkflowError(Problem(str(p), 0, 0, "workflow file not found"))
    dirs = workflow_dirs() if dirs is None else dirs
    for d in dirs:
        candidate = d / f"{name_or_path}.json"
        if candidate.is_file():
            return candidate
    names = sorted({f.stem for d in dirs if d.is_dir() for f in d.glob("*.json")})
    message = f"workflow '{name_or_path}' not found"
    close = difflib.get_close_matches(name_or_path, names, n=1)
    if close:
        message += f"; did you mean '{close[0]}'?"
    message += f" (available: {', '.join(names) or 'none'})"
    raise WorkflowError(Problem("", 0, 0, message))


def load_workflow(name_or_path: str | Path, dirs: list[Path] | None = None) -> Workflow:
    path = find_workflow(str(name_or_path), dirs)
    shown = str(path)
    from qualia_cli.scenario.errors import ScenarioError
    from qualia_cli.scenario.safe_read import read_text

    try:
        text = read_text(path, limit=MAX_BYTES, what="workflow")
    except ScenarioError as err:
        raise WorkflowError(err.problems) from None
    graph = _parse_graph(text, shown)
    meta, problems = load_sidecar(path.with_suffix(".yaml"))
    wf = Workflow(path.stem, path, graph, meta, text)
    problems += structure_problems(wf)
    if problems:
        raise WorkflowError(problems)
    return wf


def _parse_graph(text: str, shown: str) -> dict[str, Any]:
    from qualia_cli.scenario.errors import ScenarioError
    from qualia_cli.scenario.safe_read import parse_json

    try:
        graph = parse_json(text, shown)
    except ScenarioError as err:
        bare = re.search(r'(?<!")%([A-Za-z0-9_]+)%(?!")', text)
        if bare:
            line, col = line_col(text, bare.start())
            name = bare.group(1)
            message = f'placeholder %{name}% must be quoted: write "%{name}%"'
            raise WorkflowError(Problem(shown, line, col, message)) from None
        raise WorkflowError(err.problems) from None
    if isinstance(graph, dict) and isinstance(graph.get("nodes"), list) and "links" in graph:
        message = (
            "this is a ComfyUI UI workflow; export it with 'Save (API Format)' "
            "(enable dev mode options in ComfyUI's settings)"
        )
        raise WorkflowError(Problem(shown, 1, 1, message))
    if not isinstance(graph, dict) or not graph:
        raise WorkflowError(Problem(shown, 1, 1, 'expected an object of nodes: {"id": {...}}'))
    return graph


def structure_problems(wf: Workflow) -> list[Problem]:
    """What needs no server: API-format nodes, links to existing nodes, known placeholders."""
    shown = str(wf.path)
    out: list[Problem] = []
    for node_id, node in wf.graph.items():
        line, col = wf.locate(node_id)
        if not isinstance(node, dict) or not isinstance(node.get("class_type"), str):
            out.append(Problem(shown, line, col, f'node {node_id}: needs a "class_type"'))
            continue
        if not isinstance(node.get("inputs", {}), dict):
            out.append(Problem(shown, line, col, f'node {node_id}: "inputs" must be an object'))
            continue
        for input_name, value in node_inputs(node).items():
            if is_link(value) and str(value[0]) not in wf.graph:
                line, col = wf.locate(node_id, input_name)
                out.append(
                    Problem(
                        shown,
                        line,
                        col,
                        f"node {node_id} {node['class_type']}: {input_name} links to node "
                        f"{value[0]}, which does not exist",
                    )
                )
        for input_name, value in node_inputs(node).items():
            if isinstance(value, str):
                for m in _UNCLOSED.finditer(PLACEHOLDER.sub("", value)):
                    if m.group(1) in PLACEHOLDERS:
                        line, col = wf.locate(node_id, input_name)
                        message = f"node {node_id}: placeholder %{m.group(1)} is not closed"
                        out.append(Problem(shown, line, col, f"{message}; write %{m.group(1)}%"))
    for name, places in wf.uses().items():
        if name not in PLACEHOLDERS and name not in wf.meta.custom:
            node_id, input_name = places[0]
            line, col = wf.locate(node_id, input_name)
            close = difflib.get_close_matches(name, list(PLACEHOLDERS), n=1)
            hint = f"; did you mean %{close[0]}%?" if close else ""
            out.append(
                Problem(shown, line, col, f"node {node_id}: unknown placeholder %{name}%{hint}")
            )
    return out


def is_link(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str | int)
        and isinstance(value[1], int)
        and not isinstance(value[1], bool)
    )


def list_workflows(dirs: list[Path] | None = None) -> list[tuple[Path, Workflow | WorkflowError]]:
    dirs = workflow_dirs() if dirs is None else dirs
    seen: set[str] = set()
    out: list[tuple[Path, Workflow | WorkflowError]] = []
    for d in dirs:
        if not d.is_dir():
            continue
        for f in sorted(d.glob("*.json")):
            if f.stem in seen:
                continue
            seen.add(f.stem)
            try:
                out.append((f, load_workflow(f)))
            except WorkflowError as err:
                out.append((f, err))
    return out
