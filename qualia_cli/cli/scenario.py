"""`qualia scenario new|validate|show|import|export`: write, check and move scenarios."""

from __future__ import annotations

from dataclasses import asdict
from enum import StrEnum
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from qualia_cli.cli.common import console as _console
from qualia_cli.cli.common import err_console, make_engine, print_json, run_async


def _print(*objects: object, **kwargs: object) -> None:
    """console.print that never wraps lines (paths and file:line:col stay whole)."""
    kwargs.setdefault("soft_wrap", True)
    _console.print(*objects, **kwargs)  # type: ignore[arg-type]


app = typer.Typer(help="Write, check, import and export scenarios.", no_args_is_help=True)


class PaceChoice(StrEnum):
    slow = "slow"
    medium = "medium"
    fast = "fast"


class RatingChoice(StrEnum):
    general = "general"
    teen = "teen"
    mature = "mature"


@app.command("new")
def new(
    genre: str | None = typer.Option(None, "--genre", help="Genre (default: rotates)."),
    pace: PaceChoice = typer.Option(PaceChoice.medium, "--pace", help="Narrative pace."),
    premise: str = typer.Option("", "--premise", help="What the story is about, in a sentence."),
    rating: RatingChoice = typer.Option(RatingChoice.general, "--rating", help="Content rating."),
    out: Path | None = typer.Option(None, "--out", help="Write here (default: your scenarios)."),
    model: str | None = typer.Option(None, "--model", help="Model, e.g. local/smollm2."),
    seed: int | None = typer.Option(None, "--seed", help="Seed for a repeatable generation."),
    attempts: int = typer.Option(4, "--attempts", min=1, max=10, help="Tries until it validates."),
    force: bool = typer.Option(False, "--force", help="Overwrite --out if it exists."),
    allow_small_model: bool = typer.Option(
        False, "--allow-small-model", help="Use the embedded model anyway (it rarely plays)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Generate a new scenario with the Scenario Generator and write it as YAML."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from qualia_cli.engine import GenerationRequest, check_generator_model

    request = GenerationRequest(
        genre=genre,
        pace=pace.value,
        rating=rating.value,
        premise=premise,
        seed=seed,
        attempts=attempts,
    )
    engine = make_engine()
    if not allow_small_model:  # before the progress display: one plain line
        check_generator_model(model or engine.settings.models.for_agent("generator"))
    stages = {"world": "writing the world and the partner", "plot": "writing endings and lore"}

    async def run() -> tuple[object, Path]:
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        ) as progress:
            task = progress.add_task("Scenario Generator: starting", total=None)

            def on_progress(stage: str, attempt: int, chars: int) -> None:
                note = f" (attempt {attempt})" if attempt > 1 else ""
                size = f" · {chars} characters" if chars else ""
                progress.update(
                    task, description=f"Scenario Generator: {stages[stage]}{note}{size}"
                )

            try:
                return await engine.authoring.generate(
                    request,
                    model=model,
                    out=out,
                    force=force,
                    on_progress=on_progress,
                    allow_small_model=allow_small_model,
                )
            finally:
                await engine.aclose()

    result, path = run_async(run())
    from qualia_cli.engine import Generated

    assert isinstance(result, Generated)
    sc = result.scenario
    if as_json:
        print_json(
            {
                "path": str(path),
                "id": sc.id,
                "title": sc.title,
                "genre": sc.genre,
                "keywords": {"setting": result.brief.setting, "hook": result.brief.hook},
                "attempts": result.attempts,
                "seed": result.seed,
                "rejected": result.rejected,
                "warnings": result.warnings,
                "calls": [asdict(c) for c in result.calls],
            }
        )
        return
    _print(f"[bold]{escape(sc.title)}[/] ({escape(sc.genre)}) — {escape(sc.summary)}")
    p = sc.partner
    _print(f"partner: {escape(p.name)}, {p.age}, {escape(p.occupation)}")
    _print(f"stats: {', '.join(s.name for s in sc.stats)} · endings: {len(sc.endings)}")
    if result.attempts > 1:
        _print(f"[dim]valid on attempt {result.attempts}[/]")
    for w in result.warnings:
        _print(f"[yellow]warning:[/] {escape(w)}")
    _print(str(path), markup=False, highlight=False)


@app.command("validate")
def validate(
    files: list[Path] = typer.Argument(..., help="Scenario files to check."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 on warnings too."),
    as_json: bool = typer.Option(False, "--json", help="Print the reports as JSON."),
) -> None:
    """Check scenario files: every error as file:line:col, plus warnings for weak content."""
    from qualia_cli.engine import validate_files

    reports = validate_files(files)
    errors = sum(len(r.errors) for r in reports)
    warnings = sum(len(r.warnings) for r in reports)
    if as_json:
        print_json([r.to_dict() for r in reports])
    else:
        for r in reports:
            for p in r.errors:
                _print(str(p), markup=False, highlight=False, style="red")
            for p in r.warnings:
                _print(str(p), markup=False, highlight=False, style="yellow")
            if r.ok and not r.warnings:
                _print(f"{r.path}: ok", markup=False, highlight=False, style="green")
        _print(
            f"{len(reports)} file{'s' if len(reports) != 1 else ''}: "
            f"{errors} error{'s' if errors != 1 else ''}, "
            f"{warnings} warning{'s' if warnings != 1 else ''}",
            style="dim",
            highlight=False,
        )
    if errors or (strict and warnings):
        raise typer.Exit(1)


@app.command("show")
def show(
    name: str = typer.Argument(..., help="A scenario file or id."),
    as_json: bool = typer.Option(False, "--json", help="Print the whole scenario as JSON."),
) -> None:
    """Show a scenario: who, where, stats, endings, lore and warnings."""
    engine = make_engine()
    path, sc, warnings = engine.authoring.show(name)
    if as_json:
        print_json(
            {"path": str(path), "scenario": sc.model_dump(mode="json"), "warnings": warnings}
        )
        return
    e = escape
    p = sc.partner
    _print(f"[bold]{e(sc.title)}[/]  [dim]{e(sc.id)} · {e(str(path))}[/]")
    _print(
        f"{e(sc.genre)} · {sc.narrative_pace.value} pace · {sc.content_rating.value}"
        + (f" — {e(sc.summary)}" if sc.summary else "")
    )
    _print(f"\n[bold]World[/] {e(sc.setting.world)}")
    _print(
        f"[bold]Starts[/] {e(sc.setting.start_location)}, {e(sc.setting.start_time)}"
        + (f" · places: {e(', '.join(sc.setting.locations))}" if sc.setting.locations else "")
    )
    _print(f"[bold]Player[/] {e(sc.player.role)}")
    _print(
        f"[bold]Partner[/] {e(p.name)}, {p.age}, {e(p.gender)}, {e(p.occupation)} — "
        f"{e(', '.join(p.personality))}"
    )
    _print(f"[bold]Appearance[/] {e(', '.join(p.appearance.tags))}")
    table = Table("stat", "range", "start", "description")
    for st in sc.stats:
        table.add_row(st.name, f"{st.min}..{st.max}", str(st.start), st.description)
    _print(table)
    if sc.endings:
        endings = Table("ending", "kind", "condition")
        for en in sc.endings:
            endings.add_row(f"{en.title} ({en.id})", en.kind, en.condition)
        _print(endings)
    if sc.lorebook.entries:
        _print(
            f"[bold]Lore[/] {len(sc.lorebook.entries)} entries: "
            + e("; ".join(", ".join(en.keys) for en in sc.lorebook.entries))
        )
    if sc.card is not None:
        _print(
            f"[bold]Card[/] {e(sc.card.spec or 'card')}: {len(sc.card.alternate_greetings)} "
            f"alternate greetings, tags: {e(', '.join(sc.card.tags) or 'none')}"
        )
        from qualia_cli.engine import greeting_text

        for i in range(1, len(sc.card.alternate_greetings) + 1):  # qualia new ID --greeting N
            lines = [ln.strip() for ln in greeting_text(sc, i).splitlines() if ln.strip()]
            first = lines[0] if lines else ""
            first = first if len(first) <= 100 else first[:99].rstrip() + "…"
            _print(f"  [bold]--greeting {i}[/] {e(first)}", highlight=False)
    for w in warnings:
        _print(w, style="yellow", markup=False, highlight=False)


@app.command("import")
def import_(
    card: Path = typer.Argument(..., help="A character card: .png, .json or .charx."),
    out: Path | None = typer.Option(None, "--out", help="Write here (default: your scenarios)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
    player_name: str | None = typer.Option(
        None, "--player-name", help="Who {{user}} is in the card (your persona; default: you)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Import a SillyTavern / community character card (V1, V2, V3, CHARX) as a scenario."""
    engine = make_engine()
    result = engine.authoring.import_card(card, out=out, force=force, player_name=player_name)
    sc = result.scenario
    if as_json:
        print_json(
            {
                "path": str(result.path),
                "id": sc.id,
                "title": sc.title,
                "partner": sc.partner.name,
                "lore_entries": len(sc.lorebook.entries),
                "portrait": str(result.portrait) if result.portrait else None,
                "exact": result.exact,
                "notes": result.notes,
                "warnings": result.warnings,
            }
        )
        return
    _print(
        f"imported [bold]{escape(sc.partner.name)}[/] as '{escape(sc.id)}' "
        f"({len(sc.lorebook.entries)} lore entries"
        + (", portrait saved" if result.portrait else "")
        + "); play it with: qualia new "
        + escape(sc.id),
        highlight=False,
    )
    for note in result.notes:
        _print(f"note: {note}", style="dim", markup=False, highlight=False)
    _print(str(result.path), markup=False, highlight=False)


@app.command("export")
def export(
    name: str = typer.Argument(..., help="A scenario file or id."),
    card: Path = typer.Option(..., "--card", help="Write a card here (.png, .json or .charx)."),
    portrait: Path | None = typer.Option(
        None, "--portrait", help="Portrait image (default: <scenario>.png next to the file)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Export a scenario as a character card (V3, with a V2 chunk for older tools)."""
    engine = make_engine()
    path, used = engine.authoring.export_card(name, card, portrait=portrait)
    if as_json:
        print_json({"path": str(path), "portrait": str(used) if used else None})
        return
    _print(str(path), markup=False, highlight=False)
