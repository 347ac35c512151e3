"""`qualia scenarios list`, `qualia models`, `qualia doctor`."""

from __future__ import annotations

import time
from typing import Any

import typer
from rich import box
from rich.table import Table

from qualia_cli.cli.common import console, err_console, fail, make_engine, print_json, run_async

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
    table = Table(
        box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True
    )  # ids are what you type: never cut
    table.add_column("id", no_wrap=True)
    for name in ("title", "genre", "rating", "partner"):
        table.add_column(name)
    for r in rows:
        if "error" in r:
            table.add_row(r["id"], f"[red]{r['error']}[/]", "", "", "")
        else:
            table.add_row(r["id"], r["title"], r["genre"], r["rating"], r["partner"])
    console.print(table)


def models(
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    available: bool = typer.Option(
        False, "--available", help="List the models a provider offers (from its cached list)."
    ),
    provider: str = typer.Option(
        "openrouter", "--provider", help="With --available: whose models to list."
    ),
    refresh: bool = typer.Option(
        False, "--refresh", help="With --available: fetch the model list again first."
    ),
) -> None:
    """Which model each agent uses: key (masked), context window, price per million tokens
    and structured-output modes. `--available` lists what a provider offers."""
    from qualia_cli.engine import LLMError

    engine = make_engine()
    if available:
        try:
            listing = engine.models.available(provider, refresh=refresh)
        except LLMError as err:
            fail(str(err))
            return
        if refresh and listing.get("refresh_error"):
            err_console.print(
                f"warning: {listing['refresh_error']}: showing the cached list",
                markup=False,
                highlight=False,
            )
        if as_json:
            print_json(listing)
            return
        _print_available(listing)
        return
    rows = engine.models.report()
    if as_json:
        print_json(rows)
        return
    table = Table(
        box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True
    )  # fits 80 columns (embedded model)
    for name in ("agent", "model"):
        table.add_column(name, no_wrap=True)
    for name in ("endpoint", "key"):
        table.add_column(name)
    for name in ("window", "$/M in·out", "modes"):
        table.add_column(name, no_wrap=True)
    for r in rows:
        if "error" in r:
            table.add_row(r["agent"], r["model"], f"[red]{r['error']}[/]", "", "", "", "")
            continue
        key = "—"  # no key needed
        if r.get("key_env"):
            key = f"{r['key_env']} {r.get('key_masked') or '[red]missing[/]'}"
        caps = r.get("capabilities") or {}
        table.add_row(
            r["agent"],
            r["model"],
            str(r.get("base_url") or "embedded"),
            key,
            *_caps_cells(caps),
        )
    console.print(table)


def _caps_cells(caps: dict[str, Any]) -> tuple[str, str, str]:
    if not caps.get("known") and caps.get("source") == "defaults":
        return ("unknown to the cache", "", f"try {(caps.get('modes') or ['prompt'])[0]}")
    window = f"{caps['context_length']:,}" if caps.get("context_length") else "?"
    prompt, completion = caps.get("prompt_usd_per_m"), caps.get("completion_usd_per_m")
    price = f"{prompt:g} · {completion:g}" if prompt is not None and completion is not None else ""
    if prompt == 0 and completion == 0:
        price = "free"
    if caps.get("source") == "embedded":
        price = "local"
    modes = (caps.get("modes") or ["prompt"])[0]  # the best; the rest are its fallbacks
    if caps.get("reasoning"):
        modes += " +reasoning"
    return window, price, modes


def _print_available(listing: dict[str, Any]) -> None:
    models = listing["models"]
    if not models:
        console.print(
            f"No cached model list for {listing['provider']}: "
            f"run qualia models --available --provider {listing['provider']} --refresh"
        )
        return
    table = Table("model", "window", "$/M in·out", "modes")
    for m in models:
        table.add_row(m["name"], *_caps_cells(m))
    console.print(table)
    age = ""
    if listing.get("fetched_at"):
        hours = (time.time() - float(listing["fetched_at"])) / 3600
        age = f", fetched {hours:.1f} h ago" + (" (stale: --refresh)" if listing["stale"] else "")
    console.print(f"{len(models)} models from {listing['provider']}{age}")


def doctor(as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """Check config, data dir, database, the local model and every configured endpoint."""
    checks = run_async(_doctor())
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
    from qualia_cli.engine import run_checks

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
