"""`qualia images preview|list|batch|reroll`; the image wait shared by `say`, `new`, `chat`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import typer
from rich.markup import escape
from rich.table import Table

from qualia_cli.cli.common import console, err_console, fail, make_engine, print_json, run_async

if TYPE_CHECKING:
    from qualia_cli.engine import BatchItem, BatchStats, Engine

app = typer.Typer(help="Scene images: preview, list, batch-generate.", no_args_is_help=True)


# ------------------------------------------------------------------ shown after a turn


def show_image(path: Path, *, width: int | None = None, force: bool = False) -> bool:
    """Draw the image in the terminal (Kitty / Sixel where supported, half-blocks otherwise)."""
    if not (force or sys.stdout.isatty()):
        return False
    from textual_image.renderable import HalfcellImage, Image

    renderable = Image if sys.stdout.isatty() else HalfcellImage
    # height "auto" keeps the aspect ratio (given only a width, a small image stays a few rows)
    shown = renderable(str(path), width=width or min(60, console.width - 2), height="auto")
    console.print(shown)
    return True


def open_in_viewer(path: Path) -> str | None:
    """Open `path` in the system viewer; why not, or None when it opened."""
    import shutil
    import subprocess

    if sys.platform.startswith(("linux", "freebsd", "openbsd")):
        opener = shutil.which("xdg-open")
        if opener is None:
            return "xdg-open is not installed"
        child = subprocess.Popen([opener, str(path)], stdin=subprocess.DEVNULL)
        try:  # xdg-open fails fast (no viewer, no display) and returns once a viewer runs
            code = child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return None  # a viewer that blocks: it is showing the picture
        return f"xdg-open exited with status {code}" if code else None
    code = typer.launch(str(path))
    return f"the viewer exited with status {code}" if code else None


async def wait_for_images(
    engine: Engine,
    turn_id: str,
    session_id: str,
    *,
    sink: TextIO | None = None,
    add: Any = None,
    quiet: bool = False,
) -> None:
    """Wait for a turn's (or the opening's) images: a progress bar, then the picture."""
    from rich.progress import BarColumn, Progress, TextColumn

    from qualia_cli.engine import events as ev

    progress = Progress(
        TextColumn("[dim]picture[/]"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        console=err_console,
        transient=True,
        disable=quiet or not err_console.is_terminal,
    )
    with progress:
        task = progress.add_task("image", total=100)
        async for event in engine.pictures.follow(turn_id, session_id):
            if add is not None:
                add(event)
            if sink is not None:
                sink.write(json.dumps(event.to_dict(), ensure_ascii=False) + "\n")
                sink.flush()
            if isinstance(event, ev.ImageProgress):
                progress.update(task, completed=event.percent)
            elif isinstance(event, ev.ImageReady) and not quiet:
                progress.update(task, completed=100)
                progress.stop()
                note = " (already made)" if event.cached else ""
                console.print(
                    f"picture: {event.path}{note}", style="dim", markup=False, soft_wrap=True
                )
                show_image(Path(event.path), width=48)
            elif isinstance(event, ev.ImageFailed) and not quiet:
                progress.stop()
                err_console.print(
                    f"(picture unavailable: {event.message})",
                    markup=False,
                    style="yellow",
                    soft_wrap=True,
                )


# ------------------------------------------------------------------ commands


@app.command("preview")
def preview(
    target: str = typer.Argument(..., help="An image file, or a session id (its latest image)."),
    open_viewer: bool = typer.Option(False, "--open", help="Open it in the system viewer instead."),
    width: int | None = typer.Option(None, "--width", help="Width in terminal cells."),
) -> None:
    """Show an image in the terminal."""
    path = Path(target).expanduser()
    if not path.is_file():
        engine = make_engine()
        try:
            found = engine.pictures.latest_image(target)
        finally:
            run_async(engine.aclose())
        if found is None:
            fail(
                f"session {target} has no finished image yet "
                "(play a turn, or run qualia images batch)"
            )
        assert found is not None
        path = found
    if open_viewer:
        problem = open_in_viewer(path)
        if problem is not None:
            fail(f"the system viewer could not open {path}: {problem}", 1)
        return
    console.print(str(path), style="dim", markup=False, highlight=False, soft_wrap=True)
    show_image(path, width=width, force=True)


@app.command("list")
def list_images(
    session_id: str = typer.Argument(..., help="Session id (a unique prefix is enough)."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON (with full provenance)."),
) -> None:
    """A session's images with their status, seed and file."""
    engine = make_engine()
    try:
        rows = engine.pictures.list_images(session_id)
        if as_json:
            print_json([r.to_dict() for r in rows])
            return
        if not rows:
            console.print("no images yet")
            return
        table = Table("id", "message", "status", "backend", "seed", "size", "file")
        for r in rows:
            size = f"{r.width}x{r.height}" if r.width else ""
            shown = Path(r.path).name if r.path else (r.error or "")[:60]
            table.add_row(
                str(r.id),
                str(r.message_id or ""),
                r.status,
                r.backend or "",
                str(r.seed),
                size,
                shown,
            )
        console.print(table)
    finally:
        run_async(engine.aclose())


@app.command("reroll")
def reroll(
    session_id: str = typer.Argument(..., help="Session id (a unique prefix is enough)."),
    message: int | None = typer.Option(
        None, "--message", help="Message id (default: the latest with an image)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Draw a moment again with a new seed."""
    run_async(_reroll(session_id, message, as_json))


async def _reroll(session_id: str, message: int | None, as_json: bool) -> None:
    from qualia_cli.engine import events as ev

    engine = make_engine()
    try:
        queued = engine.pictures.reroll(session_id, message)
        events: list[ev.Event] = [queued] if isinstance(queued, ev.ImageFailed) else []
        if isinstance(queued, ev.ImageQueued):
            async for event in engine.pictures.follow("reroll", queued.session_id):
                events.append(event)
        last = events[-1] if events else None
        if as_json:
            print_json(last.to_dict() if last else None)
        elif isinstance(last, ev.ImageReady):
            console.print(f"picture: {last.path} (seed {last.seed})", markup=False, soft_wrap=True)
            show_image(Path(last.path), width=48)
        if isinstance(last, ev.ImageFailed):
            if not as_json:
                err_console.print(f"error: {last.message}", markup=False, soft_wrap=True)
            raise typer.Exit(1)
    finally:
        await engine.aclose()


@app.command("batch")
def batch(
    target: str = typer.Argument(..., help="A session id, or a scenario file (SCENARIO.yaml)."),
    workflow: str | None = typer.Option(None, "--workflow", help="Workflow name or file."),
    server: list[str] = typer.Option([], "--server", help="A ComfyUI URL (repeat for several)."),
    concurrency: int = typer.Option(3, "--concurrency", min=1, help="Jobs in flight per server."),
    variants: int = typer.Option(1, "--variants", min=1, help="Pictures per moment (new seeds)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the resolved requests only."),
    as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON."),
) -> None:
    """Render every scene moment of a session (or a scenario's opening and locations)."""
    code = run_async(_batch(target, workflow, server, concurrency, variants, dry_run, as_json))
    raise typer.Exit(code)


async def _batch(
    target: str,
    workflow: str | None,
    servers: list[str],
    concurrency: int,
    variants: int,
    dry_run: bool,
    as_json: bool,
) -> int:
    engine = make_engine()
    try:
        servers = servers or (
            [engine.settings.images.comfyui_url] if engine.settings.images.comfyui_url else []
        )
        items = engine.pictures.plan_batch(
            target, workflow_name=workflow, variants=variants, comfy=bool(servers)
        )
        if dry_run:
            plan = [_item_dict(i, resolved=True) for i in items]
            print_json(plan) if as_json else _print_plan(plan)
            return 0
        import asyncio

        try:
            stats = await _run_with_progress(engine, items, servers, concurrency, quiet=as_json)
        except (asyncio.CancelledError, KeyboardInterrupt):  # ctrl+c
            finished = sum(i.status in ("done", "skipped") for i in items)
            err_console.print(
                f"interrupted: {finished} of {len(items)} images are saved; run the same "
                "command again to finish (saved images are skipped)",
                markup=False,
            )
            raise
        if as_json:
            print_json(
                {
                    "wall_s": round(stats.wall_s, 3),
                    "counts": stats.counts,
                    "items": [_item_dict(i) for i in items],
                    "servers": [
                        {
                            "url": s.url or "sketch",
                            "done": s.done,
                            "failed": s.failed,
                            "down": s.down,
                        }
                        for s in stats.servers
                    ],
                }
            )
        else:
            _print_summary(stats)
        return 1 if stats.counts.get("failed") else 0
    finally:
        await engine.aclose()


async def _run_with_progress(
    engine: Engine, items: list[BatchItem], servers: list[str], concurrency: int, quiet: bool
) -> BatchStats:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("[bold]images[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=err_console,
        disable=quiet,
    )
    with progress:
        task = progress.add_task("", total=len(items))

        def update(item: BatchItem) -> None:
            if item.status in ("done", "skipped", "failed"):
                progress.advance(task)
            progress.update(task, description=f"{item.status}: {item.label}")

        return await engine.pictures.run_batch(
            items, servers, concurrency=concurrency, on_update=update
        )


def _item_dict(item: BatchItem, resolved: bool = False) -> dict[str, Any]:
    req = item.request
    out: dict[str, Any] = {
        "label": item.label,
        "backend": req.backend,
        "workflow": req.workflow,
        "seed": req.seed,
        "request_hash": req.request_hash,
        "prompt": req.prompt,
        "negative_prompt": req.negative_prompt,
    }
    if resolved:
        out["resolved"] = req.graph if req.backend == "comfyui" else req.sketch
    else:
        out |= {"status": item.status, "path": str(item.path or ""), "server": item.server}
        out |= {"error": item.error, "elapsed_ms": round(item.elapsed_ms, 1)}
    return out


def _print_plan(plan: list[dict[str, Any]]) -> None:
    for entry in plan:
        console.print(
            f"[bold]{escape(entry['label'])}[/]  seed {entry['seed']}  {entry['request_hash'][:16]}"
        )
        console.print(
            json.dumps(entry["resolved"], indent=2, ensure_ascii=False),
            markup=False,
            highlight=False,
        )


def _print_summary(stats: BatchStats) -> None:
    table = Table("moment", "status", "server", "seconds", "file", title="batch")
    for item in stats.items:
        shown = item.path.name if item.path else ""
        seconds = f"{item.elapsed_ms / 1000:.2f}" if item.status == "done" else ""
        table.add_row(item.label, item.status, item.server or "", seconds, shown)
    console.print(table)
    for item in stats.items:  # below the table, whole: a narrow table would cut them to nothing
        if item.status == "failed":
            console.print(f"failed: {item.label}: {item.error}", markup=False, soft_wrap=True)
    servers = Table("server", "made", "failed", "busy s", title="servers")
    for s in stats.servers:
        servers.add_row(s.url or "sketch", str(s.done), str(s.failed), f"{s.busy_ms / 1000:.1f}")
    console.print(servers)
    for s in stats.servers:
        if s.down:
            console.print(f"dropped {s.url}: {s.down}", markup=False, soft_wrap=True)
    c = stats.counts
    console.print(
        f"{c.get('done', 0)} made, {c.get('skipped', 0)} skipped, {c.get('failed', 0)} failed "
        f"of {len(stats.items)} in {stats.wall_s:.1f} s",
        markup=False,
    )
