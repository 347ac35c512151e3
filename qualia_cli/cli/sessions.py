"""`qualia sessions list|show`."""

from __future__ import annotations

import asyncio

import typer
from rich.table import Table

from qualia_cli.cli.common import console, make_engine, print_json
from qualia_cli.cli.render import render_message, state_line

app = typer.Typer(help="List and inspect saved sessions.", no_args_is_help=True)


@app.command("list")
def list_sessions(
    archived: bool = typer.Option(False, "--archived", help="Include archived sessions."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """List saved sessions, most recently played first."""
    engine = make_engine()
    try:
        rows = engine.list_sessions(include_archived=archived)
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
        asyncio.run(engine.aclose())


@app.command("show")
def show(
    session_id: str = typer.Argument(..., help="Session id (a unique prefix is enough)."),
    limit: int = typer.Option(40, "--limit", help="How many recent messages to show."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON (with agent calls)."),
) -> None:
    """Show a session: its state and recent messages."""
    from qualia_cli.engine.session import transcript_dict

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
        asyncio.run(engine.aclose())
