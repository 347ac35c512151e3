"""`qualia play --session ID` start-up: process start → first painted chat screen, and memory.

Measures an empty session, a 200-message one and a 10,000-message one: opening mounts one page
(60 messages) whatever the length, so 200 and 10,000 should cost the same. Each run is a fresh
process that does what `qualia play` does (settings, logging, engine, open the session, the
Textual app) but runs the app headless at 100×30 and exits once the chat screen has painted its
first page.

uv run python benchmarks/tui_startup.py [--runs 5] [--messages 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import ROOT, temp_home


def child(session_id: str) -> None:
    """One start-up, reported as JSON on stdout."""
    import resource

    from qualia_cli.cli.common import make_engine
    from qualia_cli.tui.app import QualiaApp
    from qualia_cli.tui.screens.chat import ChatScreen

    imported = time.time()

    class Bench(QualiaApp):
        painted: float = 0.0
        shown: int = 0

        def on_chat_screen_painted(self, message: ChatScreen.Painted) -> None:
            self.painted = time.time()
            self.shown = len(self.screen.query(".msg"))
            self.exit()

    engine = make_engine()
    session_id = engine.open_session(session_id).id
    app = Bench(engine, session_id=session_id, own_engine=True)
    app_started = time.time()
    app.run(headless=True, size=(100, 30))
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "imported": imported,
                "app_started": app_started,
                "painted": app.painted,
                "shown": app.shown,
                "rss_mb": rss_kb / 1024,
            }
        )
    )


def prepare(messages: int) -> dict[str, str]:
    """An empty session, one of a few pages, and a long one, in a throwaway QUALIA_HOME."""
    from support.tui import fill_long_session, make_engine

    engine = make_engine()
    out = {"empty session": engine.new_session("fogbound_archive").id}
    for size in (200, messages):
        session_id = engine.new_session("fogbound_archive", title=f"{size}").id
        fill_long_session(engine, session_id, size)
        out[f"{size:,} messages"] = session_id
    engine.store.close()
    return out


def measure(session_id: str, runs: int) -> dict[str, float]:
    starts, in_app, rss, shown = [], [], [], []
    for _ in range(runs):
        t0 = time.time()
        out = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child", session_id],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=dict(os.environ),
            timeout=300,
        )
        if out.returncode != 0:
            raise SystemExit(out.stderr)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        starts.append((r["painted"] - t0) * 1000)
        in_app.append((r["painted"] - r["app_started"]) * 1000)
        rss.append(r["rss_mb"])
        shown.append(r["shown"])
    return {
        "start_ms": statistics.median(starts),
        "start_min_ms": min(starts),
        "app_ms": statistics.median(in_app),
        "rss_mb": statistics.median(rss),
        "shown": statistics.median(shown),
    }


def main(runs: int, messages: int) -> None:
    from rich.console import Console
    from rich.table import Table

    temp_home()
    results = {name: measure(sid, runs) for name, sid in prepare(messages).items()}
    t = Table(
        "session",
        "process → paint",
        "best",
        "app → paint",
        "mounted",
        "peak RSS",
        title=f"qualia play start-up, headless 100×30, {runs} runs each",
    )
    for name, r in results.items():
        t.add_row(
            name,
            f"{r['start_ms']:.0f} ms",
            f"{r['start_min_ms']:.0f} ms",
            f"{r['app_ms']:.0f} ms",
            f"{r['shown']:.0f}",
            f"{r['rss_mb']:.1f} MB",
        )
    a, b = results["empty session"], results[f"{messages:,} messages"]
    Console().print(t)
    Console().print(
        f"ratio long/empty: start {b['start_ms'] / a['start_ms']:.2f}×, "
        f"in-app {b['app_ms'] / a['app_ms']:.2f}×, memory {b['rss_mb'] / a['rss_mb']:.2f}×"
    )


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--messages", type=int, default=10_000)
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args.child)
    else:
        main(args.runs, args.messages)
