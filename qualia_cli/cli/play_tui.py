"""`qualia play`: the full-screen chat interface (Textual)."""

from __future__ import annotations

import sys

import typer

from qualia_cli.cli.common import fail, make_engine


def register(app: typer.Typer) -> None:
    app.command("play")(play)


def play(
    scenario: str | None = typer.Argument(
        None, help="Start a new story from this scenario (a file or a bundled id)."
    ),
    session_id: str | None = typer.Option(
        None, "--session", help="Resume this session (a unique id prefix is enough)."
    ),
    model: str | None = typer.Option(
        None, "--model", help="Model for every agent of a NEW session, e.g. local/smollm2."
    ),
    theme: str | None = typer.Option(
        None, "--theme", help="A Textual theme, e.g. textual-light, nord, gruvbox."
    ),
    greeting: int = typer.Option(
        0, "--greeting", help="Open a NEW session with a card's alternate greeting N."
    ),
) -> None:
    """Play in the chat interface; with no argument, pick a session or a scenario."""
    if scenario and session_id:
        fail("give a SCENARIO to start or --session ID to resume, not both")
    if model and not scenario:
        fail("--model applies to a new session; switch models of a session with ctrl+o")
    if greeting and not scenario:
        fail("--greeting applies to a new session: give a SCENARIO")
    engine = make_engine(show_waits=False)
    if session_id:
        session_id = engine.open_session(session_id).id  # a bad id fails here, as one line
    elif scenario:
        from qualia_cli.engine import greeting_text

        greeting_text(engine.find_scenario(scenario)[1], greeting)  # out of range: one line
        if model:
            engine.router.describe(model)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        fail("qualia play needs a terminal; over pipes use: qualia chat")
    if scenario:
        session_id = engine.new_session(scenario, model=model, greeting=greeting).id
    from qualia_cli.tui.app import QualiaApp
    from qualia_cli.tui.widgets.image_pane import prepare_terminal_images

    prepare_terminal_images()  # ask the terminal about Sixel / Kitty before Textual owns it

    app = QualiaApp(engine, session_id=session_id, own_engine=True)
    if theme:
        if theme not in app.available_themes:
            fail(f"unknown theme '{theme}': use one of {', '.join(sorted(app.available_themes))}")
        app.theme = theme
    app.run()
