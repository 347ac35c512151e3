"""`qualia sessions list|show|export|import|delete|archive|rename`."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from qualia_cli.cli.common import console, fail, make_engine, print_json, run_async
from qualia_cli.cli.render import render_message, state_line

app = typer.Typer(help="List, inspect, export and manage saved sessions.", no_args_is_help=True)


@app.command("list")
def list_sessions(
    archived: bool = typer.Option(False, "--archived", help="Include archived sessions."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """List saved sessions, most recently played first."""
    engine = make_engine()
    try:
        rows = engine.library.list_sessions(include_archived=archived)
        if as_json:
            print_json(
                [
                    {
                        "id": r.id,
                        "title": r.title,
                        "scenario": r.scenario_id,
                        "turns": r.turns,
                        "cost_usd": r.cost_usd,
                        "updated_at": r.updated_at,
                        "archived": r.archived,
                    }
                    for r in rows
                ]
            )
            return
        if not rows:
            console.print("no sessions yet: qualia new <scenario>")
            return
        table = Table("id", "title", "scenario", "turns", "last played")
        for r in rows:
            table.add_row(r.id, r.title, r.scenario_id, str(r.turns), r.updated_at[:19])
        console.print(table)
    finally:
        run_async(engine.aclose())


@app.command("show")
def show(
    session_id: str = typer.Argument(..., help="Session id (a unique prefix is enough)."),
    limit: int = typer.Option(40, "--limit", help="How many recent messages to show."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON (with agent calls)."),
) -> None:
    """Show a session: its state and recent messages."""
    from qualia_cli.engine import transcript_dict

    engine = make_engine()
    try:
        session = engine.open_session(session_id)
        t = session.transcript(limit=limit)
        if as_json:
            data = transcript_dict(t)
            data["agent_calls"] = engine.agent_calls(session.id)
            print_json(data)
            return
        console.print(
            f"[bold]{t.session.title}[/]  {t.session.id} · {t.session.scenario_id} · "
            f"{t.session.turns} turns"
        )
        for m in t.messages:
            render_message(console, m.sender, m.content, session.scenario.partner.name)
        console.print(state_line(t.state.snapshot()), markup=False, style="dim")
    finally:
        run_async(engine.aclose())


class ExportFormat(StrEnum):
    md = "md"
    html = "html"
    json = "json"


@app.command("export")
def export(
    session_id: str = typer.Argument(..., help="Session id (a unique prefix is enough)."),
    fmt: ExportFormat = typer.Option(ExportFormat.md, "--format", help="md, html or json."),
    branch: bool = typer.Option(
        False, "--branch", help="Only the current branch (no swiped or rewound replies)."
    ),
    out: Path | None = typer.Option(None, "--out", help="Write to this file (default: stdout)."),
) -> None:
    """Export a session: Markdown, a self-contained HTML file, or a portable JSON copy."""
    engine = make_engine()
    try:
        text = engine.library.export(session_id, fmt.value, branch_only=branch)
    finally:
        run_async(engine.aclose())
    if out is None:
        if sys.stdout.isatty():  # a terminal obeys escape sequences; a pipe gets the data
            from qualia_cli.textsafe import printable

            text = printable(text)
        sys.stdout.write(text)
        return
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    except OSError as err:
        fail(f"{out}: cannot write: {err.strerror or err}")
    console.print(str(out), markup=False, highlight=False, soft_wrap=True)


@app.command("import")
def import_(
    file: Path = typer.Argument(..., help="A file from `qualia sessions export ID --format json`."),
    as_json: bool = typer.Option(False, "--json", help="Print the new session as JSON."),
) -> None:
    """Import a portable session copy (from this machine or another)."""
    engine = make_engine()
    try:
        record = engine.library.import_file(file)
    finally:
        run_async(engine.aclose())
    if as_json:
        print_json({"id": record.id, "title": record.title, "turns": record.turns})
        return
    console.print(
        f"imported '{escape(record.title)}' ({record.turns} turns) as {record.id}; "
        f"continue with: qualia chat --session {record.id}",
        highlight=False,
        soft_wrap=True,
    )


@app.command("delete")
def delete(
    session_id: str = typer.Argument(..., help="Session id (a unique prefix is enough)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Delete a session and everything in it (messages, state, its images)."""
    engine = make_engine()
    try:
        record = engine.open_session(session_id).record
        if not yes:
            if not sys.stdin.isatty():
                fail(f"deleting session {record.id} needs confirmation: pass --yes")
            if not typer.confirm(f"Delete '{record.title}' ({record.id}, {record.turns} turns)?"):
                raise typer.Exit(1)
        full = engine.library.delete(record.id)
    finally:
        run_async(engine.aclose())
    if as_json:
        print_json({"id": full, "deleted": True})
    else:
        console.print(f"deleted {full}", highlight=False, soft_wrap=True)


@app.command("archive")
def archive(
    session_id: str = typer.Argument(..., help="Session id (a unique prefix is enough)."),
    undo: bool = typer.Option(False, "--undo", help="Bring an archived session back."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Archive a session (hidden from `sessions list` unless --archived)."""
    engine = make_engine()
    try:
        full = engine.library.archive(session_id, not undo)
    finally:
        run_async(engine.aclose())
    if as_json:
        print_json({"id": full, "archived": not undo})
    else:
        console.print(
            f"{'unarchived' if undo else 'archived'} {full}", highlight=False, soft_wrap=True
        )


@app.command("rename")
def rename(
    session_id: str = typer.Argument(..., help="Session id (a unique prefix is enough)."),
    title: str = typer.Argument(..., help="The new title."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Give a session a new title."""
    engine = make_engine()
    try:
        full = engine.library.rename(session_id, title)
        new_title = engine.open_session(full).record.title
    finally:
        run_async(engine.aclose())
    if as_json:
        print_json({"id": full, "title": new_title})
    else:
        console.print(f"renamed {full}: {escape(new_title)}", highlight=False, soft_wrap=True)
