"""Shared CLI plumbing: global flags, the engine, JSON output."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from rich.console import Console
from rich.segment import Segment

from qualia_cli.textsafe import one_line, printable

if TYPE_CHECKING:
    from collections.abc import Coroutine, Iterable

    from qualia_cli.engine import Engine


class SafeConsole(Console):
    """A Rich console that never lets data drive the terminal: the text of every segment
    (not Rich's own control segments, not styles) goes through :func:`printable`, so a
    model answer, card field, title or file name cannot set the window title, clear the
    screen, write the clipboard or open a hyperlink."""

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        return super()._render_buffer(
            seg if seg.control else Segment(printable(seg.text), seg.style, seg.control)
            for seg in buffer
        )


@dataclass
class _State:
    debug: bool = False


state = _State()
console = SafeConsole()
err_console = SafeConsole(stderr=True, soft_wrap=True)  # one message = one line, never wrapped


def _print_wait(seconds: float, reason: str) -> None:
    from qualia_cli.deadline import wait_message

    err_console.print(wait_message(seconds, reason), style="dim", markup=False, highlight=False)


def make_engine(*, show_waits: bool = True, pictures: bool = True) -> Engine:
    """The engine for a command; ``show_waits`` prints rate-limit waits on stderr (a full-screen
    front end passes False and shows them its own way); ``pictures=False`` draws none."""
    from qualia_cli.config import load_settings
    from qualia_cli.deadline import add_wait_listener, remove_wait_listener
    from qualia_cli.engine import Engine
    from qualia_cli.logs import setup_logging
    from qualia_cli.paths import get_paths

    remove_wait_listener(_print_wait)
    if show_waits:
        add_wait_listener(_print_wait)

    settings = load_settings()
    setup_logging(get_paths().ensure().log_file, settings.log_level)
    return Engine(settings, pictures=pictures)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def error_line(message: object) -> str:
    """The one-line form of an error: ``error: …`` with no newline and no control character,
    never wrapped whatever the terminal width (CI logs keep ``file:line:col`` whole)."""
    return f"error: {one_line(str(message))}"


def fail(message: str, code: int = 2) -> None:
    sys.stderr.write(error_line(message) + "\n")
    sys.stderr.flush()
    raise SystemExit(code)


T = TypeVar("T")


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run`, with asyncio imported only when a command runs (`qualia --help` skips it)."""
    import asyncio

    return asyncio.run(coro)
