"""The async services behind the screens: they drive the engine in workers and post messages.

Widgets and screens never call the engine themselves: they call a service method, which starts a
worker (a thread for database work, an asyncio task for a turn) that posts its results back to
the screen as the messages of ``qualia_cli.tui.messages``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.worker import Worker, WorkerState

from qualia_cli.errors import QualiaError
from qualia_cli.tui import messages as msg
from qualia_cli.tui.view import PAGE, build_view, earlier_page, later_page

if TYPE_CHECKING:
    from textual.dom import DOMNode

    from qualia_cli.engine import Engine, Event, GameSession

log = logging.getLogger("qualia.tui")

CONTEXT = 6  # messages shown above a search hit


class _Service:
    def __init__(self, host: DOMNode, engine: Engine) -> None:
        self.host = host
        self.engine = engine
        self._lock = threading.Lock()  # one database action at a time, in order

    def post(self, message: Any) -> None:
        self.host.post_message(message)

    def _thread(self, what: str, fn: Callable[[], None]) -> Worker[None]:
        def work() -> None:
            with self._lock:
                try:
                    fn()
                except QualiaError as err:
                    self.post(msg.ActionFailed(what, str(err)))
                except Exception as err:  # never let a bug take the app down
                    log.exception("%s failed", what)
                    self.post(msg.ActionFailed(what, f"unexpected {type(err).__name__}: {err}"))

        return self.host.run_worker(work, name=what, group="db", thread=True, exit_on_error=False)


class StartService(_Service):
    """Lists sessions and scenarios; creates and archives sessions."""

    def load(self) -> None:
        def work() -> None:
            sessions = [
                {
                    "id": r.id,
                    "title": r.title,
                    "scenario": r.scenario_id,
                    "turns": self.engine.library.branch_turns(r),  # on the branch shown, not all
                    "updated_at": r.updated_at,
                }
                for r in self.engine.library.list_sessions()
            ]
            scenarios = []
            for path, sc in self.engine.list_scenarios():
                if isinstance(sc, Exception):
                    scenarios.append({"path": str(path), "error": str(sc)})
                else:
                    scenarios.append(
                        {
                            "path": str(path),
                            "id": sc.id,
                            "title": sc.title,
                            "genre": sc.genre,
                            "summary": sc.summary,
                            "partner": sc.partner.name,
                        }
                    )
            self.post(msg.StartData(sessions, scenarios))

        self._thread("list sessions", work)

    def new_session(self, scenario: str) -> None:
        self._thread(
            "start a session",
            lambda: self.post(msg.SessionReady(self.engine.new_session(scenario).id)),
        )

    def archive(self, session_id: str, archived: bool = True) -> None:
        def work() -> None:
            self.engine.library.archive(session_id, archived)
            self.load()

        self._thread("archive", work)


class SessionService(_Service):
    """One open session: loading pages, running turns, and the tree and options actions."""

    def __init__(self, host: DOMNode, engine: Engine, session_id: str) -> None:
        super().__init__(host, engine)
        self.session_id = session_id
        self._session: GameSession | None = None
        self._turn: Worker[None] | None = None
        self._replied = False  # the running turn has committed her reply (its extras go on)
        self._streamed = False  # ... or has shown some of it

    @property
    def session(self) -> GameSession:
        if self._session is None:
            self._session = self.engine.open_session(self.session_id)
        return self._session

    @property
    def running(self) -> bool:
        """The last turn's worker still runs: her reply, or its extras after it."""
        return self._turn is not None and self._turn.state in (
            WorkerState.PENDING,
            WorkerState.RUNNING,
        )

    @property
    def busy(self) -> bool:
        """A turn runs and her reply is not saved yet: the input waits (the extras don't)."""
        return self.running and not self._replied

    @property
    def extras_pending(self) -> bool:
        """Her reply is saved; the picture prompt, suggestions or memories are still coming."""
        return self.running and self._replied

    # -- reading ----------------------------------------------------------------------------

    def open(self, reset_log: bool = True) -> None:
        self._thread(
            "open the session",
            lambda: self.post(msg.SessionLoaded(build_view(self.session, PAGE), reset_log)),
        )

    def images_in_flight(self) -> list[Any]:
        """Events so far of this session's unfinished pictures (in memory: no I/O)."""
        return self.engine.pictures.in_flight(self.session_id)

    def load_earlier(self, before_id: int) -> None:
        def work() -> None:
            entries, more = earlier_page(self.session, before_id, PAGE)
            self.post(msg.EarlierLoaded(entries, more))

        self._thread("load earlier messages", work)

    def load_later(self, after_id: int, *, first: bool = False, target: int | None = None) -> None:
        """The page after ``after_id`` on this branch (0 and ``first``: the branch's start)."""

        def work() -> None:
            entries, more = later_page(self.session, after_id, PAGE)
            if target is not None:  # a few messages above it too, so it is not at the very top
                above, _ = earlier_page(self.session, target, CONTEXT + 1)
                entries = above[:-1] + entries
            self.post(msg.LaterLoaded(entries, more, first, target))

        self._thread("load later messages", work)

    def trace(self, message_id: int | None = None) -> None:
        """The trace of the turn holding ``message_id`` (default: the last turn)."""
        self._thread(
            "show the trace",
            lambda: self.post(msg.TraceReady(self.session.turn_trace(message_id))),
        )

    def story_tree(self) -> None:
        """Read the session's whole tree of turns; posts ``StoryTreeReady``."""
        from qualia_cli.engine import read_story_tree

        self._thread(
            "show the story tree",
            lambda: self.post(msg.StoryTreeReady(read_story_tree(self.session))),
        )

    def search(self, query: str) -> None:
        """Full-text search over every branch of the session; posts ``SearchResults``."""
        from qualia_cli.engine import search

        self._thread(
            "search", lambda: self.post(msg.SearchResults(query, search(self.session, query)))
        )

    def export_path(self, title: str, fmt: str) -> Path:
        """Where ctrl+s writes by default: ``<exports dir>/<title>-<id>.<fmt>`` (no disk)."""
        return self.engine.library.default_export_path(title, self.session_id, fmt)

    def export(
        self, path: Path | None = None, fmt: str = "md", *, branch_only: bool = False
    ) -> None:
        """Write the story as ``fmt`` (the renderer of `sessions export`); posts ``Exported``."""
        library = self.engine.library

        def work() -> None:
            title = self.session.record.title
            target = path or library.default_export_path(title, self.session_id, fmt)
            done = library.export_to_file(self.session_id, fmt, target, branch_only=branch_only)
            self.post(msg.Exported(done))

        self._thread("export", work)

    # -- scene images -----------------------------------------------------------------------

    def scene_image(self, head_id: int | None) -> None:
        """Look up the picture of the branch ending at ``head_id``; posts ``SceneImage``."""

        def work() -> None:
            row = self.engine.pictures.branch_image(self.session_id, head_id)
            path = Path(row.path) if row and row.path else None
            self.post(msg.SceneImage(head_id, path, row.message_id if row else None))

        self.host.run_worker(
            lambda: self._guarded("find the scene image", work),
            name="scene image",
            group="scene-image",
            thread=True,
            exclusive=True,
            exit_on_error=False,
        )

    def _guarded(self, what: str, fn: Callable[[], None]) -> None:
        try:
            fn()
        except QualiaError as err:
            self.post(msg.ActionFailed(what, str(err)))
        except Exception as err:
            log.exception("%s failed", what)
            self.post(msg.ActionFailed(what, f"unexpected {type(err).__name__}: {err}"))

    def reroll_image(self, message_id: int | None) -> None:
        """Draw the moment of ``message_id`` again with a new seed (the feed brings its events)."""

        async def work() -> None:
            from qualia_cli.engine import events as ev

            def queue() -> None:
                event = self.engine.pictures.reroll(self.session_id, message_id)
                if event is None:
                    self.post(msg.ActionFailed("reroll the image", "images are switched off"))
                elif isinstance(event, ev.ImageFailed):
                    self.post(msg.ActionFailed("reroll the image", event.message))

            # on the event loop: the job starts here and its events reach the feed
            self._guarded("reroll the image", queue)

        self.host.run_worker(work(), name="reroll image", group="images", exit_on_error=False)

    # -- changing ---------------------------------------------------------------------------

    def _change(self, what: str, change: Callable[[GameSession], object]) -> None:
        """Run ``change`` on the session, then post the new view (the log is re-rendered)."""
        if self.busy:
            self.post(msg.ActionFailed(what, "a turn is running: wait for it or press esc"))
            return

        def work() -> None:
            change(self.session)
            self.post(msg.SessionLoaded(build_view(self.session, PAGE), True))

        self._thread(what, work)

    def rewind(self) -> None:
        self._change("rewind", lambda s: s.rewind())

    def flip(self, step: int) -> None:
        self._change("switch alternatives", lambda s: s.switch_alternative(step))

    def branch_at(self, message_id: int) -> None:
        self._change("branch", lambda s: s.branch_at(message_id))

    def redo(self, prefer: int | None = None) -> None:
        from qualia_cli.engine import redo

        self._change("redo", lambda s: redo(s, prefer))

    def check_models(self, models: dict[str, str | None]) -> None:
        """Check the model names of the options dialog; posts ``ModelsChecked``."""
        from qualia_cli.engine import check_models

        self._thread(
            "check the models",
            lambda: self.post(msg.ModelsChecked(check_models(self.session, models))),
        )

    def apply_options(self, models: dict[str, str | None], pace: str, rating: str) -> None:
        def work(s: GameSession) -> None:
            current = s.agent_models()
            for agent, model in models.items():
                if (model or None) != current.get(agent):
                    s.set_agent_model(agent, model)
            s.set_story(pace=pace, rating=rating)

        self._change("change options", work)

    # -- turns ------------------------------------------------------------------------------

    def start_turn(self, kind: str, text: str = "") -> bool:
        """Start a turn (say | regenerate | edit) in the background; False if one is running.

        The previous turn's worker may still be finishing its extras: it goes on (the engine
        drops its stale suggestions and waits for its Summarizer before the new turn starts).
        """
        if self.busy:
            return False
        self._replied = self._streamed = False
        self._turn = self.host.run_worker(
            self._run_turn(kind, text),
            name=f"turn:{kind}",
            group="turn",
            exit_on_error=False,
        )
        return True

    def cancel_turn(self) -> bool:
        """esc: once she has started speaking, stop her and keep what she said as the turn;
        before that, cancel the turn (nothing is saved). False if no reply is under way."""
        if not self.busy or self._turn is None:
            return False
        session = self._session
        if self._streamed and session is not None and session.stop_turn():
            return True
        self._turn.cancel()
        return True

    def _stream(self, session: GameSession, kind: str, text: str) -> AsyncIterator[Event]:
        if kind == "regenerate":
            return session.regenerate()
        if kind == "edit":
            return session.edit_last(text)
        return session.turn(text)

    async def _run_turn(self, kind: str, text: str) -> None:
        from qualia_cli.engine import events as ev

        done = msg.TurnFinished(kind, text)
        head: int | None = None
        me = self._turn
        try:
            session = await asyncio.to_thread(lambda: self.session)
            head = session.record.head_message_id
            async for event in self._stream(session, kind, text):
                if isinstance(event, ev.PartnerDelta):
                    self._streamed = True
                elif isinstance(event, ev.PartnerMessage):
                    done.stopped = event.stopped
                self.post(msg.TurnEvent(event))
                if isinstance(event, ev.TurnCommitted):
                    # her reply is saved: the input is free now, the extras go on below
                    done.ok = True
                    done.view = await asyncio.to_thread(build_view, self.session, PAGE)
                    if self._turn is me:
                        self._replied = True
                    self.post(done)
                elif isinstance(event, ev.TurnFailed):
                    done.error = event.reason
                elif isinstance(event, ev.ExtrasCommitted) and self._turn is me:
                    # the suggestions and picture prompt are stored: refresh the view's copy
                    view = await asyncio.to_thread(build_view, self.session, PAGE)
                    self.post(msg.SessionLoaded(view, False))
        except asyncio.CancelledError:
            if not done.ok:
                done.cancelled = True
                self.post(done)
                self._check_after_cancel(head)
            raise
        except QualiaError as err:
            done.error = str(err)
        except Exception as err:  # a bug: report it on the turn, keep the app alive
            log.exception("turn crashed")
            done.error = f"unexpected {type(err).__name__}: {err}"
        if not done.ok:
            self.post(done)
        elif done.error:  # failed after her reply was saved: only the extras are missing
            self.post(msg.ActionFailed("finish the turn", done.error))

    def _check_after_cancel(self, head: int | None) -> None:
        """A turn cancelled while committing may still have landed: then show what is stored."""

        def work() -> None:
            session = self.session
            session.refresh()
            if session.record.head_message_id != head:
                self.post(msg.SessionLoaded(build_view(session, PAGE), True))

        self._thread("check the session", work)
