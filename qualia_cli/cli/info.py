"""`qualia scenarios list`, `qualia models`, `qualia doctor`."""

from __future__ import annotations

import asyncio
import time

import typer
from rich.table import Table

from qualia_cli.cli.common import console, make_engine, print_json

scenarios_app = typer.Typer(help="Scenarios you can play.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(scenarios_app, name="scenarios")
    app.command("models")(models)
    app.command("doctor")(doctor)


@scenarios_app.command("list")
def list_scenarios(as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """List bundled scenarios and your own (in the data dir's scenarios/)."""
    engine = make_engine()
    rows = []
    for path, sc in engine.list_scenarios():
        if isinstance(sc, Exception):
            rows.append({"id": path.stem, "path": str(path), "error": str(sc)})
        else:
            rows.append(
                {
                    "id": sc.id,
                    "title": sc.title,
                    "genre": sc.genre,
                    "rating": sc.content_rating.value,
                    "partner": sc.partner.name,
                    "path": str(path),
                }
            )
    if as_json:
        print_json(rows)
        return
    table = Table("id", "title", "genre", "rating", "partner")
    for r in rows:
        if "error" in r:
            table.add_row(r["id"], f"[red]{r['error']}[/]", "", "", "")
        else:
            table.add_row(r["id"], r["title"], r["genre"], r["rating"], r["partner"])
    console.print(table)


def models(as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """Which model each agent uses, and whether its API key is present (masked)."""
    engine = make_engine()
    rows = engine.models_report()
    if as_json:
        print_json(rows)
        return
    table = Table("agent", "model", "endpoint", "key")
    for r in rows:
        if "error" in r:
            table.add_row(r["agent"], r["model"], f"[red]{r['error']}[/]", "")
            continue
        key = "not needed"
        if r.get("key_env"):
            key = f"{r['key_env']} {r.get('key_masked') or '[red]missing[/]'}"
        table.add_row(r["agent"], r["model"], str(r.get("base_url") or "embedded"), key)
    console.print(table)


def doctor(as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """Check config, data dir, database, the local model and every configured endpoint."""
    checks = asyncio.run(_doctor())
    if as_json:
        print_json(checks)
    else:
        table = Table("check", "status", "detail")
        for c in checks:
            mark = "[green]ok[/]" if c["ok"] else "[red]FAIL[/]"
            table.add_row(c["check"], mark, c["detail"])
        console.print(table)
    if not all(c["ok"] for c in checks):
        raise typer.Exit(1)


async def _doctor() -> list[dict[str, object]]:
    from qualia_cli.engine.diagnostics import run_checks

    engine = make_engine()
    try:
        started = time.monotonic()
        checks = await run_checks(engine)
        checks.append(
            {"check": "total", "ok": True, "detail": f"{time.monotonic() - started:.1f}s"}
        )
        return checks
    finally:
        await engine.aclose()
