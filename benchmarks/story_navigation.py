"""Moving through a long story in `qualia play`: story tree open time, Home → first message,
End → last message and a ctrl+f search, on a session of N messages (default 10,000).

Each figure is the wall time from the key press to the result on screen (the tree with its
cursor on the current turn; the branch's first message mounted at the top of the log; the search
hits listed), measured in one headless app at 100×30, repeated --runs times (median and best).
Another session with a fork every 50 turns shows the tree with many alternatives.

uv run python benchmarks/story_navigation.py [--runs 5] [--messages 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from _common import table, temp_home


async def _until(pilot: Any, done: Callable[[], object], timeout: float = 60.0) -> float:
    """Seconds until ``done()`` holds, polling the app every millisecond."""
    start = time.perf_counter()
    while not done():
        if time.perf_counter() - start > timeout:
            raise SystemExit("timed out")
        await pilot.pause(0.001)
    return time.perf_counter() - start


def forked(engine: Any, session_id: str, every: int) -> None:
    """Give every ``every``-th turn of the session a second alternative (plain SQL, fast)."""
    import sqlite3

    con = sqlite3.connect(engine.store.path)
    with con:
        rows = con.execute(
            "SELECT id, parent_id, turn_id FROM messages WHERE session_id = ? AND sender = "
            "'player' ORDER BY id",
            [session_id],
        ).fetchall()
        for i, (_, parent, turn_id) in enumerate(rows):
            if i % every:
                continue
            con.execute(
                "INSERT INTO messages (session_id, parent_id, turn_id, sender, content, "
                "created_at) VALUES (?, ?, ?, 'player', '{\"text\": \"another way\"}', "
                "'2025-01-01T00:00:00.000000Z')",
                [session_id, parent, f"{turn_id}-alt"],
            )
    con.close()


async def measure(engine: Any, session_id: str, runs: int) -> dict[str, list[float]]:
    from textual.widgets import OptionList, Tree

    from qualia_cli.tui.app import QualiaApp
    from qualia_cli.tui.screens.chat import ChatScreen
    from qualia_cli.tui.screens.help import HelpScreen
    from qualia_cli.tui.screens.search import SearchScreen
    from qualia_cli.tui.screens.tree import StoryTreeScreen
    from qualia_cli.tui.widgets.log import ChatLog

    out: dict[str, list[float]] = {"help": [], "tree": [], "home": [], "end": [], "search": []}
    app = QualiaApp(engine, session_id=session_id)
    async with app.run_test(size=(100, 30)) as pilot:
        await _until(pilot, lambda: isinstance(app.screen, ChatScreen))
        chat: Any = app.screen
        await _until(pilot, lambda: chat.session_view is not None)
        log = chat.query_one(ChatLog)
        for _ in range(runs):
            start = time.perf_counter()  # a modal with one Static: what any dialog costs here
            await pilot.press("f1")
            await _until(pilot, lambda: isinstance(app.screen, HelpScreen))
            await pilot.pause(0)
            out["help"].append(time.perf_counter() - start)
            await pilot.press("escape")
            await _until(pilot, lambda: app.screen is chat)

            start = time.perf_counter()
            await pilot.press("ctrl+n")

            def tree_ready() -> bool:
                screen = app.screen
                if not isinstance(screen, StoryTreeScreen) or screen.head_node is None:
                    return False
                return screen.query_one(Tree).cursor_node is screen.head_node

            await _until(pilot, tree_ready)
            out["tree"].append(time.perf_counter() - start)
            await pilot.press("escape")
            await _until(pilot, lambda: app.screen is chat)

            start = time.perf_counter()
            await pilot.press("home")
            await _until(pilot, lambda: not log.has_more and log.more_below and log.views())
            await _until(pilot, lambda: log.scroll_y == 0)
            out["home"].append(time.perf_counter() - start)

            start = time.perf_counter()
            await pilot.press("end")
            await _until(pilot, lambda: not log.more_below and log.has_more)
            out["end"].append(time.perf_counter() - start)

            await pilot.press("ctrl+f")
            await _until(pilot, lambda: isinstance(app.screen, SearchScreen))
            await pilot.press(*"line 4321")
            start = time.perf_counter()
            await pilot.press("enter")
            listed = app.screen.query_one(OptionList)
            await _until(pilot, lambda list_=listed: list_.option_count > 0)
            out["search"].append(time.perf_counter() - start)
            await pilot.press("escape")
            await _until(pilot, lambda: app.screen is chat)
    return out


def main(runs: int, messages: int) -> None:
    from support.tui import fill_long_session, make_engine

    temp_home()
    engine = make_engine(enabled=False)
    sessions = {}
    linear = engine.new_session("fogbound_archive", title="linear")
    fill_long_session(engine, linear.id, messages)
    sessions[f"{messages:,} messages, one branch"] = linear.id
    branchy = engine.new_session("fogbound_archive", title="forked")
    fill_long_session(engine, branchy.id, messages)
    forked(engine, branchy.id, 50)
    count = engine.store.count_messages(branchy.id)
    sessions[f"{count:,} messages, a fork every 50 turns"] = branchy.id
    rows: list[tuple[str, str]] = []
    for name, session_id in sessions.items():
        found = asyncio.run(measure(engine, session_id, runs))
        for key, label in (
            ("help", "F1 → help (baseline: the cost of any modal)"),
            ("tree", "ctrl+n → story tree, cursor on the current turn"),
            ("home", "Home → first message at the top"),
            ("end", "End → last message again"),
            ("search", "ctrl+f 'line 4321' → hits listed"),
        ):
            values = [v * 1000 for v in found[key]]
            rows.append(
                (
                    f"{name}: {label}",
                    f"median {statistics.median(values):.0f} ms, best {min(values):.0f} ms",
                )
            )
    asyncio.run(engine.aclose())
    load = os.getloadavg()
    table(
        f"story navigation, headless 100×30, {runs} runs (load {load[0]:.2f} {load[1]:.2f})",
        rows,
    )


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--messages", type=int, default=10_000)
    args = p.parse_args()
    main(args.runs, args.messages)
