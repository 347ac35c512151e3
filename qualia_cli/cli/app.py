"""`qualia` entry point: builds the Typer app and turns known errors into one line + exit 2."""

from __future__ import annotations

import sys

import typer

from qualia_cli.cli import (
    cassette,
    chat,
    images,
    info,
    memory,
    play,
    play_tui,
    run,
    scenario,
    sessions,
    workflows,
)
from qualia_cli.cli import eval as eval_cli
from qualia_cli.cli.common import state

app = typer.Typer(
    name="qualia",
    help="LLM-driven interactive fiction in your terminal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
) -> None:
    state.debug = debug


play_tui.register(app)
play.register(app)
chat.register(app)
app.add_typer(sessions.app, name="sessions")
app.add_typer(memory.app, name="memory")
info.register(app)
app.add_typer(images.app, name="images")
app.add_typer(workflows.app, name="workflows")
app.add_typer(scenario.app, name="scenario")
run.register(app)
app.add_typer(cassette.app, name="cassette")
app.add_typer(eval_cli.app, name="eval")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as err:
        if state.debug or "--debug" in sys.argv:
            raise
        from qualia_cli.cli.common import error_line
        from qualia_cli.errors import QualiaError

        if isinstance(err, QualiaError):
            print(error_line(err), file=sys.stderr)
            sys.exit(2)
        print(
            error_line(f"unexpected {type(err).__name__}: {err} (run with --debug for details)"),
            file=sys.stderr,
        )
        sys.exit(1)
