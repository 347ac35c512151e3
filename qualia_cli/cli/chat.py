"""`qualia chat`: line-mode play on stdin/stdout — works over pipes, SSH and screen readers."""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

from qualia_cli.cli.common import console, err_console, make_engine, run_async
from qualia_cli.cli.line_mode import print_clean
from qualia_cli.cli.render import render_message, state_line, suggestions_block

HELP = "type to speak · 1-4 pick a suggestion · /state · /history · /help · /quit"


def register(app: typer.Typer) -> None:
    app.command("chat")(chat)


def chat(
    scenario: str | None = typer.Argument(None, help="Start a new session from this scenario."),
    session_id: str | None = typer.Option(None, "--session", help="Resume this session."),
    model: str | None = typer.Option(None, "--model", help="Model for every agent."),
    no_images: bool = typer.Option(
        False, "--no-images", help="Do not draw (or wait for) pictures."
    ),
    greeting: int = typer.Option(
        0, "--greeting", help="Open with a card's alternate greeting N (0: the scenario's)."
    ),
) -> None:
    """Play in line mode: a new session from SCENARIO, or resume one with --session.

    On a terminal the next prompt comes as soon as her reply is saved; the suggestions and the
    picture's path follow above it when ready. Over a pipe each turn's picture (a progress bar
    while it is drawn, then its path) comes before the next line is read. ctrl+c while she
    answers stops her and keeps what she said; at the prompt it leaves.
    """
    if not scenario and not session_id:
        raise typer.BadParameter("give a SCENARIO to start, or --session ID to resume")
    if greeting and session_id:
        raise typer.BadParameter("--greeting picks how a new story opens: not with --session")
    run_async(_chat(scenario, session_id, model, no_images, greeting))


def _report(event: object) -> None:
    from qualia_cli.engine import events as ev
    from qualia_cli.engine import explain

    if isinstance(event, ev.AgentError):
        why = explain(event.message, event.agent, pick="--model")
        text = f"({event.agent} unavailable: {why})"
        err_console.print(text, markup=False, style="yellow", soft_wrap=True)
    elif isinstance(event, ev.TurnFailed):
        err_console.print(
            "the turn failed and was not saved; try again "
            f"({explain(event.reason, pick='--model')})",
            markup=False,
            style="red",
            soft_wrap=True,
        )


async def _chat(
    scenario: str | None,
    session_id: str | None,
    model: str | None,
    no_images: bool = False,
    greeting: int = 0,
) -> None:
    from qualia_cli.cli.chat_turns import ChatTurns, LineReader
    from qualia_cli.cli.images import wait_for_images

    engine = make_engine(pictures=not no_images)
    reader = LineReader(sys.stdin.isatty())
    try:
        if session_id:
            session = engine.open_session(session_id, model=model)
        else:
            assert scenario is not None
            session = engine.new_session(scenario, model=model, greeting=greeting)
        name = session.scenario.partner.name

        def show(sender: str, content: dict[str, object]) -> None:
            print_clean(console, lambda c: render_message(c, sender, content, name))

        t = session.transcript(limit=12)
        console.print(f"[bold]{escape(session.record.title)}[/]  session {session.id}")
        console.print(f"[dim]{HELP}[/]")
        for m in t.messages:
            show(m.sender, m.content)
        if not session_id:  # a new session: its opening picture
            await wait_for_images(engine, "opening", session.id)
        turns = ChatTurns(engine, session, console, reader, sys.stdout, report=_report)
        turns.suggestions = t.suggestions
        for line in suggestions_block(turns.suggestions):
            console.print(line, markup=False)
        with turns.ctrl_c():
            while True:
                line = await reader.read("> ")
                if line is None:
                    break
                text = line.strip()
                if not text:
                    continue
                if text in ("/quit", "/exit", "/q"):
                    break
                if text == "/help":
                    console.print(HELP, markup=False)
                    continue
                if text == "/state":
                    console.print(state_line(session.state.snapshot()), markup=False)
                    continue
                if text == "/history":
                    for m in session.history(20):
                        show(m.sender, m.content)
                    continue
                if text.isdigit():
                    await turns.wait_suggestions()  # a number picks from the last turn's
                    suggestions = turns.suggestions
                    if not 1 <= int(text) <= len(suggestions):
                        console.print("no such suggestion", markup=False)
                        continue
                    text = suggestions[int(text) - 1]["text"]
                    console.print(f"[bold cyan]You:[/] {escape(text)}")
                try:
                    await turns.play(text)
                except Exception as err:  # keep the session alive on any turn failure
                    from qualia_cli.errors import QualiaError

                    if not isinstance(err, QualiaError):
                        raise
                    err_console.print(f"error: {err}", markup=False, style="red", soft_wrap=True)
            await turns.close(wait=not turns.quit)  # ctrl+c: the extras are not waited for
        if turns.quit:
            console.print()
        console.print(f"[dim]saved. resume with: qualia chat --session {session.id}[/]")
    finally:
        await engine.aclose()
