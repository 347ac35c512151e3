"""`qualia memory show|edit|pin|unpin|search|import-lorebook`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.table import Table

from qualia_cli.cli.common import console, make_engine, print_json

if TYPE_CHECKING:
    from qualia_cli.engine import Engine

app = typer.Typer(help="Long-term memory of a session, and lorebooks.", no_args_is_help=True)

T = TypeVar("T")


def _with_engine(work: Callable[[Engine], T]) -> T:
    engine = make_engine()
    try:
        return work(engine)
    finally:
        asyncio.run(engine.aclose())


def _turns(m: dict[str, Any]) -> str:
    a, b = m.get("turn_from"), m.get("turn_to")
    if a is None and b is None:
        return ""
    return str(a) if a == b or b is None else f"{a}–{b}"


def _print_memory(m: dict[str, Any]) -> None:
    pin = " pinned" if m["pinned"] else ""
    console.print(f"memory {m['id']} ({m['kind']}{pin}): {m['text']}", markup=False)


@app.command("show")
def show(
    session_id: str = typer.Argument(..., help="Session id (a unique prefix is enough)."),
    all_branches: bool = typer.Option(False, "--all", help="Include other branches' memories."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """The memories of SESSION's current branch (oldest first, pinned marked)."""
    data = _with_engine(lambda e: e.memory.show(session_id, all_branches=all_branches))
    if as_json:
        print_json(data)
        return
    memories = data["memories"]
    if not memories:
        console.print(f"session {data['session']} has no memories yet", markup=False)
        return
    table = Table("id", "kind", "turns", "pin", "memory", title=f"session {data['session']}")
    if all_branches:
        table.add_column("on branch")
    for m in memories:
        row = [str(m["id"]), m["kind"], _turns(m), "★" if m["pinned"] else "", m["text"]]
        if all_branches:
            row.append("yes" if m["on_branch"] else "")
        table.add_row(*row)
    console.print(table)


@app.command("edit")
def edit(
    session_id: str = typer.Argument(..., help="Session id."),
    memory_id: int = typer.Argument(..., help="Memory id (see `qualia memory show`)."),
    text: str = typer.Argument(..., help="The corrected memory."),
    as_json: bool = typer.Option(False, "--json", help="Print the memory as JSON."),
) -> None:
    """Replace the text of a memory (fix what the summarizer got wrong)."""
    m = _with_engine(lambda e: e.memory.edit(session_id, memory_id, text))
    print_json(m) if as_json else _print_memory(m)


def _pin(session_id: str, memory_id: int, pinned: bool, as_json: bool) -> None:
    m = _with_engine(lambda e: e.memory.pin(session_id, memory_id, pinned))
    print_json(m) if as_json else _print_memory(m)


@app.command("pin")
def pin(
    session_id: str = typer.Argument(..., help="Session id."),
    memory_id: int = typer.Argument(..., help="Memory id."),
    as_json: bool = typer.Option(False, "--json", help="Print the memory as JSON."),
) -> None:
    """Always put this memory into the agents' context (while its branch is played)."""
    _pin(session_id, memory_id, True, as_json)


@app.command("unpin")
def unpin(
    session_id: str = typer.Argument(..., help="Session id."),
    memory_id: int = typer.Argument(..., help="Memory id."),
    as_json: bool = typer.Option(False, "--json", help="Print the memory as JSON."),
) -> None:
    """Let this memory compete for the memory budget again."""
    _pin(session_id, memory_id, False, as_json)


@app.command("search")
def search(
    session_id: str = typer.Argument(..., help="Session id."),
    query: str = typer.Argument(..., help="Words to look for."),
    limit: int = typer.Option(8, "--limit", help="How many results."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """What recall finds on the current branch (messages and memories, best first)."""
    hits = _with_engine(lambda e: e.memory.search(session_id, query, limit=limit))
    if as_json:
        print_json(hits)
        return
    if not hits:
        console.print("nothing found", markup=False)
        return
    table = Table("kind", "id", "score", "text")
    for h in hits:
        table.add_row(h["kind"], str(h["id"]), f"{h['score']:.2f}", h["text"])
    console.print(table)


@app.command("import-lorebook")
def import_lorebook(
    path: Path = typer.Argument(..., help="A SillyTavern card, character book or world info."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON instead of YAML."),
) -> None:
    """Convert a SillyTavern lorebook into a `lorebook:` block for a scenario file."""
    import yaml

    from qualia_cli.engine.memory import MemoryAdmin

    book = MemoryAdmin.import_lorebook(path).model_dump(mode="json")
    if as_json:
        print_json(book)
        return
    text = yaml.safe_dump({"lorebook": book}, sort_keys=False, allow_unicode=True, width=90)
    typer.echo(text.rstrip("\n"))
