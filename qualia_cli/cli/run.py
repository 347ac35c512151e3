"""`qualia run FILE.play.yaml [TEST…]`: scripted playthroughs with checks, for writers and CI."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from qualia_cli.cli.common import console, err_console, fail, print_json, run_async

if TYPE_CHECKING:
    from qualia_cli.headless.runner import RunOptions

PLAY_SUFFIXES = (".play.yaml", ".play.yml")


def register(app: typer.Typer) -> None:
    app.command("run")(run)


def cassette_mode(record: bool, record_missing: bool, live: bool) -> str:
    chosen = [n for n, on in (("record", record), ("record-missing", record_missing)) if on]
    chosen += ["live"] if live else []
    if len(chosen) > 1:
        fail(f"choose one of --record, --record-missing, --live (got {', '.join(chosen)})")
    return chosen[0] if chosen else "replay"


def split_targets(targets: list[str]) -> tuple[list[Path], list[str]]:
    """Files (or directories of *.play.yaml) and test-name patterns, in any order."""
    files: list[Path] = []
    patterns: list[str] = []
    for item in targets:
        p = Path(item)
        if p.is_dir():
            found = sorted(f for s in PLAY_SUFFIXES for f in p.glob(f"*{s}"))
            if not found:
                fail(f"{p}: no *.play.yaml files in this directory")
            files += found
        elif p.is_file() or item.endswith((".yaml", ".yml")):
            files.append(p)
        else:
            patterns.append(item)
    if not files:
        fail("give a playthrough script, e.g. qualia run playthroughs/fogbound_archive.play.yaml")
    return files, patterns


def run(
    targets: list[str] = typer.Argument(
        ..., help="Script files (or directories) and, optionally, test names or 'glob*' patterns."
    ),
    verbose: bool = typer.Option(False, "-v", "--verbose", help="Print every transcript."),
    junit: Path | None = typer.Option(None, "--junit", help="Write JUnit XML to FILE."),
    junit_locations: bool = typer.Option(
        False,
        "--junit-locations",
        help="Add file/line to each JUnit <testcase> (lenient readers; not strict junit-10.xsd).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
    cassette: Path | None = typer.Option(
        None, "--cassette", help="Cassette FILE (default: the script's `cassette:`)."
    ),
    record: bool = typer.Option(False, "--record", help="Call the models, record everything."),
    record_missing: bool = typer.Option(
        False, "--record-missing", help="Replay what is recorded, record the rest."
    ),
    live: bool = typer.Option(False, "--live", help="Ignore cassettes: call the models."),
    model: str | None = typer.Option(None, "--model", help="Model for every agent."),
    judge_model: str | None = typer.Option(None, "--judge-model", help="Model for judge checks."),
    keep_sessions: bool = typer.Option(
        False, "--keep-sessions", help="Keep the test sessions in your database."
    ),
) -> None:
    """Run playthrough scripts; exit 0 all passed, 1 a check failed, 2 an error."""
    from qualia_cli.headless.runner import RunOptions

    mode = cassette_mode(record, record_missing, live)
    files, patterns = split_targets(targets)
    options = RunOptions(mode, cassette, model, judge_model, keep_sessions)
    code = run_async(_run(files, patterns, options, verbose, junit, as_json, junit_locations))
    raise typer.Exit(code)


async def _run(
    files: list[Path],
    patterns: list[str],
    options: RunOptions,
    verbose: bool,
    junit: Path | None,
    as_json: bool,
    junit_locations: bool = False,
) -> int:
    from qualia_cli.cli.common import make_engine
    from qualia_cli.headless.loader import load_playthrough
    from qualia_cli.headless.report import (
        print_summary,
        print_transcript,
        results_table,
        write_junit,
    )
    from qualia_cli.headless.results import FileResult, exit_code, results_dict
    from qualia_cli.headless.runner import PlaythroughRunner, RunError, select_tests
    from qualia_cli.scenario.file_errors import DocumentError

    await make_engine().aclose()  # settings and logging as for every command
    out = err_console if as_json else console
    plays = []
    results: list[FileResult] = []
    for path in files:
        try:
            plays.append(load_playthrough(path))
        except DocumentError as err:
            for line in err.lines():
                err_console.print(f"error: {line}", markup=False, highlight=False, soft_wrap=True)
            results.append(FileResult(path, "", error=str(err)))
    if patterns and plays and not any(select_tests(p, patterns) for p in plays):
        names = ", ".join(t.name for p in plays for t in p.tests)
        fail(f"no test matches {' '.join(patterns)} (tests: {names})")

    def progress(what: str, test: object, turn: object) -> None:
        from qualia_cli.headless.results import TestResult, TurnResult

        assert isinstance(test, TestResult)
        if what == "test":
            status.update(f"[bold]{test.name}[/] starting…")
        elif what == "turn" and isinstance(turn, TurnResult):
            status.update(f"[bold]{test.name}[/] turn {turn.number} played")
        elif what == "done":
            mark = {"passed": "[green]✓[/]", "failed": "[red]✗[/]"}.get(
                test.status.value, "[bold red]![/]"
            )
            out.print(f"{mark} {test.name} ({len(test.turns)} turns, {test.seconds:.1f}s)")

    runner = PlaythroughRunner(options, progress)
    try:
        with out.status("starting…") as status:
            for play in plays:
                results.append(await runner.run_file(play, patterns))
    except RunError as err:
        fail(str(err))
    finally:
        runner.save_cassettes()
    if junit is not None:
        write_junit(results, junit, locations=junit_locations)
    if as_json:
        print_json(results_dict(results))
    else:
        if verbose:
            for f in results:
                for t in f.tests:
                    print_transcript(console, t)
        console.print(results_table(results))
        print_summary(console, results)
        _print_locations(results)
    return exit_code(results)


def _print_locations(results: list[Any]) -> None:
    """Each failure and error once more as one whole line (the table folds long cells, and a
    CI log must keep `file:line` in one piece); errors also go to stderr as `error: …`."""
    import sys

    from qualia_cli.cli.common import error_line

    for f in results:
        if f.error and f.scenario:  # a file that loaded but could not run (load errors: above)
            sys.stderr.write(error_line(f.error) + "\n")
        for t in f.tests:
            if t.error:
                sys.stderr.write(error_line(t.error) + "\n")
            elif t.failures:
                console.print(
                    f"FAILED {f.path.name}:{t.name}: {t.failures[0]}",
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )
