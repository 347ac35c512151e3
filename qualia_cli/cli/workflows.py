"""`qualia workflows list|show|validate`: ComfyUI workflow templates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from qualia_cli.cli.common import console, err_console, make_engine, print_json, run_async

app = typer.Typer(help="ComfyUI workflow templates: list, show, validate.", no_args_is_help=True)


def _summary(wf: Any) -> dict[str, Any]:
    return {
        "name": wf.id,
        "title": wf.title,
        "description": wf.meta.description,
        "kind": wf.meta.kind,
        "path": str(wf.path),
        "placeholders": sorted(wf.uses()),
        "defaults": wf.meta.defaults,
        "nodes": len(wf.graph),
    }


@app.command("list")
def list_workflows(as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """Your workflows and the bundled ones (yours win on a name clash)."""
    engine = make_engine()
    try:
        found = engine.pictures.list_workflows()
    finally:
        run_async(engine.aclose())
    rows: list[dict[str, Any]] = []
    for path, wf in found:
        if isinstance(wf, Exception):
            rows.append({"name": path.stem, "path": str(path), "error": str(wf)})
        else:
            rows.append(_summary(wf))
    if as_json:
        print_json(rows)
        return
    table = Table("name", "title", "kind", "placeholders", "file")
    for r in rows:
        if "error" in r:
            table.add_row(r["name"], f"[red]{escape(r['error'])}[/]", "", "", r["path"])
        else:
            marks = " ".join(f"%{p}%" for p in r["placeholders"])
            table.add_row(r["name"], escape(r["title"]), r["kind"], marks, r["path"])
    console.print(table)


@app.command("show")
def show(
    name: str = typer.Argument(..., help="A workflow name or a .json file."),
    resolved: bool = typer.Option(
        False, "--resolved", help="Print the graph with placeholders filled (config + a sample)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """A workflow's sidecar, placeholders and graph."""
    engine = make_engine()
    try:
        wf = engine.pictures.workflow(name)
        graph = engine.pictures.resolve_workflow(wf) if resolved else wf.graph
    finally:
        run_async(engine.aclose())
    if as_json:
        print_json({**_summary(wf), "graph": graph})
        return
    console.print(f"[bold]{escape(wf.title)}[/] ({wf.id}, {wf.meta.kind}) — {escape(str(wf.path))}")
    if wf.meta.description:
        console.print(escape(wf.meta.description))
    for placeholder, places in sorted(wf.uses().items()):
        where = ", ".join(f"node {n}.{i}" for n, i in places)
        default = wf.meta.defaults.get(placeholder, "")
        console.print(f"  %{placeholder}%  {where}  [dim]{escape(str(default))}[/]")
    console.print(json.dumps(graph, indent=2, ensure_ascii=False), markup=False, highlight=False)


@app.command("validate")
def validate(
    name: str = typer.Argument(..., help="A workflow name or a .json file."),
    server: str | None = typer.Option(None, "--server", help="Check against this ComfyUI server."),
    object_info: Path | None = typer.Option(
        None, "--object-info", help="Check against a saved /object_info answer (JSON file)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Check a workflow: JSON, placeholders, and (with a server) nodes, inputs and choices."""
    from qualia_cli.engine import WorkflowError

    if server and object_info:
        raise typer.BadParameter("give --server or --object-info, not both")
    engine = make_engine()
    try:
        check = run_async(
            engine.pictures.validate_workflow(name, server=server, object_info=object_info)
        )
        problems = [str(p) for p in check.problems]
        against, title = check.against, check.workflow.id
    except WorkflowError as err:
        problems, against, title = err.lines(), "structure only", name
    finally:
        run_async(engine.aclose())
    if as_json:
        print_json(
            {"workflow": title, "against": against, "ok": not problems, "problems": problems}
        )
    elif problems:
        for line in problems:
            err_console.print(line, markup=False, highlight=False, soft_wrap=True)
    else:
        console.print(f"ok: {title} ({against})", markup=False)
    if problems:
        raise typer.Exit(2)
