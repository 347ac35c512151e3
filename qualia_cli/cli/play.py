"""`qualia new` and `qualia say`: start a session, play one turn."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from qualia_cli.cli.common import console, err_console, make_engine, print_json, run_async
from qualia_cli.cli.render import TurnPrinter, render_message, state_line

if TYPE_CHECKING:
    from qualia_cli.engine import Engine


def register(app: typer.Typer) -> None:
    app.command("new")(new)
    app.command("say")(say)


def new(
    scenario: str = typer.Argument(..., help="A scenario file or the id of a bundled one."),
    title: str | None = typer.Option(None, "--title", help="Session title (default: scenario's)."),
    model: str | None = typer.Option(
        None, "--model", help="Model for every agent in this session, e.g. local/smollm2."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the new session as JSON."),
    no_images: bool = typer.Option(False, "--no-images", help="Do not draw the opening."),
    greeting: int = typer.Option(
        0, "--greeting", help="Open with a card's alternate greeting N (0: the scenario's)."
    ),
) -> None:
    """Create a session from SCENARIO; prints its id and the opening."""
    engine = make_engine(pictures=not no_images)
    try:
        session = engine.new_session(scenario, title=title, model=model, greeting=greeting)
        t = session.transcript()
        if as_json:
            from qualia_cli.engine import transcript_dict

            data = transcript_dict(t)
            data["images"] = run_async(_opening_images(engine, session.id, quiet=True))
            print_json(data)
            return
        console.print(f"[bold]{session.record.title}[/]  session [green]{session.id}[/]")
        for m in t.messages:
            render_message(console, m.sender, m.content, session.scenario.partner.name)
        console.print(f"[dim]{state_line(t.state.snapshot())}[/]")
        run_async(_opening_images(engine, session.id, quiet=False))
        console.print(f'[dim]next: qualia say {session.id} "Hello"[/]')
    finally:
        run_async(engine.aclose())


def say(
    session_id: str = typer.Argument(..., help="Session id (a unique prefix is enough)."),
    text: str = typer.Argument(..., help="What you say or do."),
    as_json: bool = typer.Option(False, "--json", help="Print the whole turn as JSON."),
    events: Path | None = typer.Option(None, "--events", help="Append every event to FILE.jsonl."),
    model: str | None = typer.Option(None, "--model", help="Model for every agent, this turn."),
    no_images: bool = typer.Option(
        False, "--no-images", help="Do not draw (or wait for) a picture."
    ),
) -> None:
    """Play one turn in SESSION; prints the partner's reply."""
    code = run_async(_say(session_id, text, as_json, events, model, no_images))
    raise typer.Exit(code)


async def _opening_images(engine: Engine, session_id: str, quiet: bool) -> list[dict[str, Any]]:
    from qualia_cli.cli.images import wait_for_images

    out: list[dict[str, Any]] = []
    await wait_for_images(
        engine, "opening", session_id, add=lambda e: out.append(e.to_dict()), quiet=quiet
    )
    return out[-1:]


async def _say(
    session_id: str,
    text: str,
    as_json: bool,
    events: Path | None,
    model: str | None,
    no_images: bool = False,
) -> int:
    from qualia_cli.cli.images import wait_for_images
    from qualia_cli.engine import TurnSummary

    engine = make_engine(pictures=not no_images)
    try:
        session = engine.open_session(session_id, model=model)
        summary = TurnSummary()
        printer = TurnPrinter(console, sys.stdout, session.scenario.partner.name)
        sink = events.open("a", encoding="utf-8") if events else None
        try:
            async for event in session.turn(text):
                summary.add(event)
                if sink:
                    sink.write(json.dumps(event.to_dict(), ensure_ascii=False) + "\n")
                    sink.flush()
                if not as_json:
                    printer.show(event)
            if summary.ok:  # the turn is saved; now wait for its picture (never fails the turn)
                await wait_for_images(
                    engine, summary.turn_id, session.id, sink=sink, add=summary.add, quiet=as_json
                )
        finally:
            if sink:
                sink.close()
        if as_json:
            print_json(summary.to_dict())
        if not summary.ok:
            err_console.print(f"error: turn failed: {summary.failure}", markup=False)
            return 1
        await engine.save_model_caches()  # the next `qualia say` starts with prompts cached
        return 0
    finally:
        await engine.aclose()
