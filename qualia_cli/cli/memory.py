"""`qualia memory show|edit|pin|unpin|search|reindex|import-lorebook`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.table import Table

from qualia_cli.cli.common import console, err_console, fail, make_engine, print_json, run_async

if TYPE_CHECKING:
    from qualia_cli.engine import Engine

app = typer.Typer(help="Long-term memory of a session, and lorebooks.", no_args_is_help=True)

T = TypeVar("T")


def _with_engine(work: Callable[[Engine], T]) -> T:
    engine = make_engine()
    try:
        return work(engine)
    finally:
        run_async(engine.aclose())


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
    mode: str | None = typer.Option(
        None,
        "--mode",
        help="lexical (FTS5 BM25), semantic (by meaning: needs memory.embedder) or hybrid "
        "(both, fused). Default: memory.recall_mode with an embedder, else lexical.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """What recall finds on the current branch (messages and memories, best first)."""
    hits = _with_engine(lambda e: e.memory.search(session_id, query, limit=limit, mode=mode))
    if as_json:
        print_json(hits)
        return
    if not hits:
        console.print("nothing found", markup=False)
        return
    table = Table("kind", "id", "from", "score", "text")
    for h in hits:
        score = f"{h['score']:.2f}" if h["from"] == "lexical" else f"{h['score']:.4f}"
        table.add_row(h["kind"], str(h["id"]), h["from"], score, h["text"])
    console.print(table)


@app.command("reindex")
def reindex(
    session_id: str | None = typer.Argument(None, help="Session id (or --all)."),
    all_sessions: bool = typer.Option(False, "--all", help="Every session."),
    force: bool = typer.Option(False, "--force", help="Embed again what is already embedded."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Embed a session's messages and memories with memory.embedder (after changing it)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    if (session_id is None) == (not all_sessions):
        fail("give a SESSION id or --all (not both)")
    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=as_json,
        transient=False,
    )
    task: list[Any] = []

    def start(sid: str, total: int) -> None:
        task.append(bar.add_task(f"session {sid}", total=total))

    def advance(n: int) -> None:
        bar.advance(task[-1], n)

    def work(e: Engine) -> list[dict[str, Any]]:
        ids = None if all_sessions else [str(session_id)]
        try:
            return run_async(
                e.memory.reindex(ids, force=force, on_start=start, on_progress=advance)
            )
        finally:
            if task:
                bar.stop()

    done = _with_engine(work)
    if as_json:
        print_json(done)
        return
    for d in done:
        console.print(
            f"session {d['session']}: {d['embedded']} embedded, {d['vectors']} vectors "
            f"({d['embedder']})",
            markup=False,
        )


@app.command("import-lorebook")
def import_lorebook(
    path: Path = typer.Argument(..., help="A SillyTavern card, character book or world info."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON instead of YAML."),
) -> None:
    """Convert a SillyTavern lorebook into a `lorebook:` block for a scenario file."""
    import yaml

    from qualia_cli.engine import MemoryAdmin

    book = MemoryAdmin.import_lorebook(path).model_dump(mode="json")
    if as_json:
        print_json(book)
        return
    text = yaml.safe_dump({"lorebook": book}, sort_keys=False, allow_unicode=True, width=90)
    typer.echo(text.rstrip("\n"))
