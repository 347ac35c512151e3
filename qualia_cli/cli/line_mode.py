"""Terminal details of `qualia chat`: line editing and history, word-wrapped streaming, messages
printed without hard wraps or trailing spaces.

- On a terminal, the stdlib ``readline`` gives the prompt arrow keys, editing keys and a history
  (↑/↓), kept between runs in ``<data dir>/chat_history``. Over a pipe nothing changes.
- The partner's streamed reply breaks lines at word boundaries (at the terminal's width); over a
  pipe it is written as it comes, one line per reply.
- Stored messages are printed as rich wraps them on a terminal, minus the trailing spaces rich
  pads wrapped lines with; over a pipe, one line per message (no hard wraps at 80 columns).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import sys
from collections.abc import Callable
from typing import TextIO

from rich.console import Console

HISTORY_LINES = 1000
_TRAILING = re.compile(r"[ \t]+((?:\x1b\[[0-9;]*m)*)$")

_history_ready = False


def enable_line_editing() -> None:
    """Arrow keys, editing keys and a history for ``input()`` (stdin a terminal; once)."""
    global _history_ready
    if _history_ready or not sys.stdin.isatty():
        return
    _history_ready = True
    try:
        import readline
    except ImportError:  # Windows without pyreadline: plain input() still works
        return
    import atexit

    from qualia_cli.paths import get_paths

    readline.set_history_length(HISTORY_LINES)
    path = get_paths().data_dir / "chat_history"
    with contextlib.suppress(OSError):  # none yet
        readline.read_history_file(path)

    def save() -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            readline.write_history_file(path)
        except OSError:
            pass  # a read-only home: the history is only lost, never the story

    atexit.register(save)


def terminal_width(out: TextIO) -> int | None:
    """Columns to wrap at, or None when ``out`` is not a terminal (pipes get no wrapping)."""
    try:
        if not out.isatty():
            return None
    except (AttributeError, ValueError):
        return None
    return max(20, shutil.get_terminal_size().columns)


class WrappedStream:
    """Writes streamed text, breaking lines between words before ``width`` columns.

    A word is held until the character after it arrives (so it is never split at the edge);
    ``finish`` writes the last one. ``width`` None writes everything as it comes.
    """

    def __init__(self, out: TextIO, width: int | None, column: int = 0) -> None:
        self.out = out
        self.width = width
        self.column = column
        self.word = ""
        self.space = ""

    def write(self, text: str) -> None:
        if self.width is None:
            self.out.write(text)
            return
        for ch in text:
            if ch == "\n":
                self._flush_word()
                self.out.write("\n")
                self.column, self.space = 0, ""
            elif ch.isspace():
                self._flush_word()
                self.space += ch
            else:
                self.word += ch

    def _flush_word(self) -> None:
        if not self.word:
            return
        assert self.width is not None
        if self.column and self.column + len(self.space) + len(self.word) > self.width:
            self.out.write("\n")
            self.column = 0
        elif self.space and self.column:
            self.out.write(self.space)
            self.column += len(self.space)
        self.out.write(self.word)
        self.column += len(self.word)
        self.word, self.space = "", ""

    def finish(self) -> None:
        self._flush_word()
        self.space = ""


class WrappedStreamPrinter:
    """The partner's streamed reply, "Name: " then the words, wrapped (``StreamPrinter``'s
    interface: ``delta``, ``finish``, ``started``, ``text``)."""

    def __init__(self, out: TextIO, name: str, width: int | None = None) -> None:
        self.out = out
        self.name = name
        self.width = width if width is not None else terminal_width(out)
        self.started = False
        self.text = ""
        self._wrap: WrappedStream | None = None

    def delta(self, text: str) -> None:
        if not self.started:
            head = f"{self.name}: "
            self.out.write(head)
            self._wrap = WrappedStream(self.out, self.width, len(head))
            self.started = True
        assert self._wrap is not None
        self._wrap.write(text)
        self.text += text
        self.out.flush()

    def finish(self) -> None:
        if self.started and self._wrap is not None:
            self._wrap.finish()
            self.out.write("\n")
            self.out.flush()
        self.started = False
        self.text = ""
        self._wrap = None


def print_clean(console: Console, render: Callable[[Console], None]) -> None:
    """Run ``render`` (console prints) and write its output without trailing spaces; over a
    pipe, without hard wraps either."""
    soft = not console.is_terminal
    with console.capture() as captured:
        if soft:
            previous, console.soft_wrap = console.soft_wrap, True
            try:
                render(console)
            finally:
                console.soft_wrap = previous
        else:
            render(console)
    text = captured.get()
    lines = [_TRAILING.sub(r"\1", line) for line in text.split("\n")]
    console.file.write("\n".join(lines))
    console.file.flush()
