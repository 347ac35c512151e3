"""`qualia eval EVAL.yaml` (compare model sets) and `qualia eval rescore RUN` (re-judge)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import typer
from typer.core import TyperGroup

from qualia_cli.cli.common import console, err_console, fail, print_json, run_async
from qualia_cli.cli.run import cassette_mode

if TYPE_CHECKING:
    from qualia_cli.headless.eval.rundir import RunDir
    from qualia_cli.headless.eval.runner import EvalRunner


class _RunByDefault(TyperGroup):
    """`qualia eval FILE` means `qualia eval run FILE`."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["run", *args]
        return super().resolve_command(ctx, args)


app = typer.Typer(
    cls=_RunByDefault,
    help="Compare model sets on scenarios with players and judges (qualia eval EVAL.yaml).",
    no_args_is_help=True,
)

JSON_OPT = typer.Option(False, "--json", help="Print the report as JSON.")
HTML_OPT = typer.Option(None, "--html", help="Write a self-contained HTML report to FILE.")
MD_OPT = typer.Option(None, "--md", help="Write a Markdown report to FILE.")
CASSETTE_OPT = typer.Option(None, "--cassette", help="Cassette FILE (default: the file's).")
RECORD_OPT = typer.Option(False, "--record", help="Call the models, record everything.")
MISSING_OPT = typer.Option(False, "--record-missing", help="Replay, record what is missing.")
LIVE_OPT = typer.Option(False, "--live", help="Ignore cassettes: call the models.")


@app.command("run")
def run(
    eval_file: Path = typer.Argument(..., help="An eval file (*.eval.yaml)."),
    as_json: bool = JSON_OPT,
    html_file: Path | None = HTML_OPT,
    md_file: Path | None = MD_OPT,
    resume: str | None = typer.Option(None, "--resume", help="Continue the run RUN."),
    cassette: Path | None = CASSETTE_OPT,
    record: bool = RECORD_OPT,
    record_missing: bool = MISSING_OPT,
    live: bool = LIVE_OPT,
) -> None:
    """Play the matrix, save transcripts, judge them, report; exit 1 if a threshold fails."""
    mode = cassette_mode(record, record_missing, live)
    code = run_async(_run(eval_file, mode, cassette, resume, as_json, html_file, md_file))
    raise typer.Exit(code)


@app.command("rescore")
def rescore(
    run_ref: str = typer.Argument(..., help="A run id (or prefix) or its directory."),
    judge: list[str] = typer.Option([], "--judge", help="Judge model (repeat for several)."),
    as_json: bool = JSON_OPT,
    html_file: Path | None = HTML_OPT,
    md_file: Path | None = MD_OPT,
    cassette: Path | None = CASSETTE_OPT,
    record: bool = RECORD_OPT,
    record_missing: bool = MISSING_OPT,
    live: bool = LIVE_OPT,
) -> None:
    """Judge a run's saved transcripts again (new judges or rubrics), without replaying."""
    mode = cassette_mode(record, record_missing, live)
    code = run_async(_rescore(run_ref, judge, mode, cassette, as_json, html_file, md_file))
    raise typer.Exit(code)


def _progress(as_json: bool) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console if as_json else console,
    )


async def _finish(
    runner: EvalRunner, run: RunDir, as_json: bool, html_file: Path | None, md_file: Path | None
) -> int:
    from qualia_cli.headless.eval.report import html_report, markdown, print_report
    from qualia_cli.headless.eval.runner import transcript_text

    report = runner.report(run)
    if as_json:
        print_json(report)
    else:
        print_report(console, report)
        console.print(f"[dim]saved in {run.path}; re-judge with: qualia eval rescore {run.id}[/]")
    if html_file is not None:
        texts = {c["cell"]["id"]: transcript_text(c, images=True) for c in run.cells()}
        html_file.write_text(html_report(report, texts), encoding="utf-8")
    if md_file is not None:
        md_file.write_text(markdown(report), encoding="utf-8")
    return int(report["exit_code"])


async def _run(
    eval_file: Path,
    mode: str,
    cassette: Path | None,
    resume: str | None,
    as_json: bool,
    html_file: Path | None,
    md_file: Path | None,
) -> int:
    from qualia_cli.cli.common import make_engine
    from qualia_cli.headless.eval.rundir import RunDir, RunNotFoundError
    from qualia_cli.headless.eval.runner import EvalOptions, EvalRunner
    from qualia_cli.headless.eval.spec import load_eval
    from qualia_cli.headless.runner import RunError

    await make_engine().aclose()  # settings and logging as for every command
    spec = load_eval(eval_file)
    runner = EvalRunner(spec, eval_file, EvalOptions(mode, cassette))
    try:
        cells = runner.plan()
        runner.open_cassette()
    except RunError as err:
        fail(str(err))
    text = eval_file.read_text(encoding="utf-8")
    if resume:
        try:
            run = RunDir.find(resume)
        except RunNotFoundError as err:
            fail(str(err))
        if run.spec_file().read_text(encoding="utf-8") != text:
            fail(f"{eval_file} changed since run {run.id} started: start a new run instead")
    else:
        run = RunDir.create(spec.name, eval_file, text, cells)
    try:
        with _progress(as_json) as bar:
            turns = bar.add_task("turns", total=runner.planned_turns(cells))
            judged = bar.add_task("judgements", total=None)

            def tell(what: str, n: int) -> None:
                bar.advance(turns if what == "turns" else judged, n)

            runner.progress = tell
            await runner.play(run, cells, resume=bool(resume))
            done = {(v["cell"], v["judge"], v["rubric"]) for v in run.load_verdicts()}
            bar.update(judged, total=len(runner.judgements_needed(run.cells(), done)))
            await runner.judge(run)
        return await _finish(runner, run, as_json, html_file, md_file)
    finally:
        await runner.aclose()


async def _rescore(
    run_ref: str,
    judges: list[str],
    mode: str,
    cassette: Path | None,
    as_json: bool,
    html_file: Path | None,
    md_file: Path | None,
) -> int:
    from qualia_cli.cli.common import make_engine
    from qualia_cli.headless.eval.rundir import RunDir, RunNotFoundError
    from qualia_cli.headless.eval.runner import EvalOptions, EvalRunner
    from qualia_cli.headless.eval.spec import load_eval
    from qualia_cli.headless.runner import RunError

    await make_engine().aclose()
    try:
        run = RunDir.find(run_ref)
    except RunNotFoundError as err:
        fail(str(err))
    spec = load_eval(run.spec_file())
    if judges:
        spec = spec.model_copy(update={"judges": judges})
    source = Path(run.info()["source"])
    runner = EvalRunner(spec, source, EvalOptions(mode, cassette))
    try:
        runner.open_cassette()
    except RunError as err:
        fail(str(err))
    try:
        with _progress(as_json) as bar:
            task = bar.add_task(
                "judgements", total=len(runner.judgements_needed(run.cells(), set()))
            )
            runner.progress = lambda _what, n: bar.advance(task, n)
            await runner.judge(run, fresh=True)
        return await _finish(runner, run, as_json, html_file, md_file)
    finally:
        await runner.aclose()
