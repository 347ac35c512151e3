"""`qualia chat`'s turns: the prompt comes back as soon as her reply is saved; ctrl+c keeps it.

On a terminal the next prompt appears right after her reply; the turn's extras (suggestions,
then the `picture: PATH` line) are printed above the prompt when they are ready, and what you
were typing is drawn again under them. Over a pipe the whole turn (extras and picture) is
printed before the next line is read, so scripted input and its output stay in order.

ctrl+c while she is answering stops her: what she has said so far is kept as the turn (before
her first word the turn is cancelled and nothing is saved), and you are back at the prompt.
ctrl+c at the prompt (her reply is saved already) leaves, like /quit, without waiting for the
extras.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from rich.console import Console

from qualia_cli.cli.render import TurnPrinter

if TYPE_CHECKING:
    from qualia_cli.engine import Engine, Event, GameSession


class LineReader:
    """Reads lines in a daemon thread (ctrl+c or leaving never waits for a pending read)."""

    def __init__(self, interactive: bool) -> None:
        self.interactive = interactive
        if interactive:  # line editing (and the line typed so far can be drawn again)
            from qualia_cli.cli.line_mode import enable_line_editing

            enable_line_editing()
        self.prompt = ""
        self.waiting = False  # the prompt is on screen, waiting for a line
        self._future: asyncio.Future[str | None] | None = None

    async def read(self, prompt: str) -> str | None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str | None] = loop.create_future()
        self._future, self.prompt, self.waiting = future, prompt, True

        def done(line: str | None) -> None:
            if not future.done():
                future.set_result(line)

        def work() -> None:
            try:
                if self.interactive:
                    line: str | None = input(prompt)
                else:
                    raw = sys.stdin.readline()
                    line = None if raw == "" else raw.rstrip("\n")
            except (EOFError, OSError, ValueError):
                line = None
            with contextlib.suppress(RuntimeError):  # the loop is gone: chat has left
                loop.call_soon_threadsafe(done, line)

        threading.Thread(target=work, name="qualia-chat-input", daemon=True).start()
        try:
            return await future
        finally:
            self.waiting = False

    def interrupt(self) -> None:
        """End the pending read as if the input had ended."""
        if self._future is not None and not self._future.done():
            self._future.set_result(None)

    @contextlib.contextmanager
    def above_prompt(self, out: Any) -> Iterator[None]:
        """Print above a prompt that is on screen, then draw it again with what was typed."""
        redraw = self.interactive and self.waiting
        if redraw:
            out.write("\r\x1b[K")
            out.flush()
        try:
            yield
        finally:
            if redraw:
                out.write(self.prompt + _typed_so_far())
                out.flush()


def _typed_so_far() -> str:
    try:
        import readline
    except ImportError:  # no GNU readline (e.g. Windows): the prompt alone
        return ""
    return readline.get_line_buffer()


class ChatTurns:
    """Runs the turns of one chat session, with the extras and pictures in the background."""

    def __init__(
        self,
        engine: Engine,
        session: GameSession,
        console: Console,
        reader: LineReader,
        out: Any,
        *,
        report: Callable[[Event], None] | None = None,
    ) -> None:
        self.engine = engine
        self.session = session
        self.console = console
        self.reader = reader
        self.out = out  # where her reply streams (stdout)
        self.report = report  # agent errors and failed turns (to stderr), instead of stdout
        self.suggestions: list[dict[str, str]] = []
        self.quit = False  # ctrl+c at the prompt
        self._task: asyncio.Task[None] | None = None  # the running turn, extras included
        self._printer: TurnPrinter | None = None
        self._replied = asyncio.Event()  # the running turn's reply is over (saved or not)
        self._extras = asyncio.Event()  # ... and its suggestions are in (or will never come)
        self._background: set[asyncio.Task[Any]] = set()
        self._latest = ""  # the latest turn's id: an earlier turn's late suggestions are stale

    # -- ctrl+c ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def ctrl_c(self) -> Iterator[None]:
        """ctrl+c stops her reply (keeping what streamed) or, at the prompt, leaves."""
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGINT, self.interrupt)
        except (NotImplementedError, RuntimeError, ValueError):  # no signals here (Windows)
            yield
            return
        try:
            yield
        finally:
            loop.remove_signal_handler(signal.SIGINT)

    def interrupt(self) -> None:
        if self._task is not None and not self._task.done() and not self._replied.is_set():
            printer = self._printer
            if printer is not None and printer.stream.started and self.session.stop_turn():
                return  # she stops; what she said is kept
            self._task.cancel()  # before her first word: nothing is saved
            return
        self.quit = True
        self.reader.interrupt()

    # -- turns -------------------------------------------------------------------------------

    @property
    def extras_pending(self) -> bool:
        return self._task is not None and not self._task.done()

    async def play(self, text: str) -> None:
        """Play one turn; returns once her reply is over (on a terminal) or the whole turn
        with its picture is printed (over a pipe)."""
        if self._task is not None and not self._task.done():
            self._background.add(self._task)  # the last turn's picture goes on
            self._task.add_done_callback(self._background.discard)
        from qualia_cli.cli.line_mode import WrappedStreamPrinter

        name = self.session.scenario.partner.name
        self._printer = printer = TurnPrinter(self.console, self.out, name)
        printer.stream = WrappedStreamPrinter(self.out, name)  # type: ignore[assignment]
        self._replied, self._extras = asyncio.Event(), asyncio.Event()
        self._task = task = asyncio.ensure_future(self._run(text, printer, self._replied))
        waiter = asyncio.ensure_future(self._replied.wait())
        try:
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if task.cancelled():
            printer.abort()
            self.console.print("(cancelled: nothing was saved)", markup=False, style="yellow")
            return
        if task.done() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
        if not self.reader.interactive:
            await self.finish_turn()

    async def wait_suggestions(self) -> None:
        """Wait until the running turn's suggestions are in (picking one by number)."""
        if self._task is not None and not self._task.done():
            waiter = asyncio.ensure_future(self._extras.wait())
            try:
                await asyncio.wait({self._task, waiter}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()

    async def finish_turn(self) -> None:
        """Wait for the running turn's extras and picture."""
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def close(self, *, wait: bool) -> None:
        """Leaving: wait for the turns' extras and pictures, or (ctrl+c) cancel them."""
        tasks = [t for t in {*self._background, self._task} if t is not None and not t.done()]
        if not wait:
            for task in tasks:
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, text: str, printer: TurnPrinter, replied: asyncio.Event) -> None:
        from qualia_cli.engine import events as ev

        mine = ""
        committed = False
        extras = self._extras
        try:
            async for event in self.session.turn(text):
                if isinstance(event, ev.TurnStarted):
                    mine = self._latest = event.turn_id
                if mine != self._latest:
                    continue  # a newer turn began: this one's late extras stay off the screen
                if isinstance(event, ev.SuggestionsReady):
                    self.suggestions = event.suggestions
                if replied.is_set():
                    with self.reader.above_prompt(self.out):
                        self._show(printer, event)
                else:
                    self._show(printer, event)
                if isinstance(event, ev.TurnCommitted | ev.TurnFailed):
                    committed = isinstance(event, ev.TurnCommitted)
                    replied.set()
        finally:
            replied.set()
            extras.set()
        if committed and mine == self._latest:
            await self._picture(mine)

    def _show(self, printer: TurnPrinter, event: Event) -> None:
        from qualia_cli.engine import events as ev

        if self.report is not None and isinstance(event, ev.AgentError | ev.TurnFailed):
            printer.abort()  # problems go to stderr: stdout stays the story
            self.report(event)
        else:
            printer.show(event)

    async def _picture(self, turn_id: str) -> None:
        """The turn's picture: as before over a pipe; on a terminal one line above the prompt."""
        from qualia_cli.cli.images import wait_for_images
        from qualia_cli.engine import events as ev

        if not self.reader.interactive:
            await wait_for_images(self.engine, turn_id, self.session.id)
            return
        seen: list[Event] = []
        await wait_for_images(self.engine, turn_id, self.session.id, add=seen.append, quiet=True)
        last = seen[-1] if seen else None
        if turn_id != self._latest or last is None:
            return
        with self.reader.above_prompt(self.out):
            if isinstance(last, ev.ImageReady):
                note = " (already made)" if last.cached else ""
                self.console.print(
                    f"picture: {last.path}{note}", style="dim", markup=False, soft_wrap=True
                )
            elif isinstance(last, ev.ImageFailed):
                self.console.print(
                    f"(picture unavailable: {last.message})", style="yellow", markup=False
                )
