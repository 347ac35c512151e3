"""`qualia cassette lint FILE`: check a cassette for leaked secrets before you commit it."""

from __future__ import annotations

from pathlib import Path

import typer

from qualia_cli.cli.common import console, err_console, print_json

app = typer.Typer(help="Recorded model calls (cassettes).", no_args_is_help=True)


@app.command("lint")
def lint(
    files: list[Path] = typer.Argument(..., help="Cassette files (.yaml or .json)."),
    as_json: bool = typer.Option(False, "--json", help="Print the findings as JSON."),
) -> None:
    """Look for secrets (key-shaped strings, values of key variables, headers); exit 1 if any."""
    from qualia_cli.config import load_settings
    from qualia_cli.engine import lint_cassette, load_cassette
    from qualia_cli.logs import register_key_env

    for endpoint in load_settings().endpoints.values():  # custom endpoints' keys are secrets too
        if endpoint.api_key_env:
            register_key_env(endpoint.api_key_env)
    report = []
    for path in files:
        findings = lint_cassette(path)
        calls = len(load_cassette(path).interactions)
        report.append({"file": str(path), "calls": calls, "findings": [str(f) for f in findings]})
    if as_json:
        print_json({"version": 1, "files": report})
    else:
        for entry in report:
            for line in entry["findings"]:
                err_console.print(line, markup=False, highlight=False, soft_wrap=True)
            if not entry["findings"]:
                console.print(f"[green]ok[/] {entry['file']} ({entry['calls']} calls, no secrets)")
    raise typer.Exit(1 if any(e["findings"] for e in report) else 0)
