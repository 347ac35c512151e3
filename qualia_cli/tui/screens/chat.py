"""The chat screen: the story log, the partner panel, suggestions, input and the scene pane."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from qualia_cli.engine import explain
from qualia_cli.tui import messages as msg
from qualia_cli.tui.screens.chat_nav import NARROW, StoryNavigation
from qualia_cli.tui.screens.chat_status import TurnStatus
from qualia_cli.tui.service import SessionService
from qualia_cli.tui.view import Entry, SessionView, with_state
from qualia_cli.tui.widgets.brief import PartnerBrief
from qualia_cli.tui.widgets.chat_input import ChatInput
from qualia_cli.tui.widgets.image_pane import ImagePane
from qualia_cli.tui.widgets.log import ChatLog, RetryBox
from qualia_cli.tui.widgets.panel import PartnerPanel
from qualia_cli.tui.widgets.suggestions import SuggestionsBar

if TYPE_CHECKING:
    from qualia_cli.engine import Engine


# actions that change the story: not while a turn runs
STORY_ACTIONS = frozenset(
    {"regenerate", "flip", "rewind", "redo", "edit_last", "branch", "story_tree", "options"}
    | {"suggest"}
)


class ChatScreen(StoryNavigation, TurnStatus, Screen[None]):
    # the footer shows them in this order: the essential keys first, quit always visible
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "Help", key_display="F1"),
        Binding("question_mark", "help", "Help", show=False),
        Binding("ctrl+q", "app.quit", "Quit", key_display="^q", priority=True),
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+r", "regenerate", "Regen"),
        Binding("ctrl+b", "rewind", "Rewind"),
        Binding("ctrl+y", "redo", "Redo", show=False),
        Binding("ctrl+f", "search", "Search", show=False),
        Binding("home", "story_start", "First message", show=False),
        Binding("end", "story_end", "Latest message", show=False),
        Binding("ctrl+n", "story_tree", "Tree"),
        Binding("ctrl+g", "toggle_panel", "Panel"),
        Binding("ctrl+o", "options", "Options"),
        Binding("ctrl+t", "trace", "Trace"),
        Binding("ctrl+s", "export", "Export"),
        Binding("f2", "edit_last", "Edit"),
        Binding("f3", "reroll_image", "Reroll image"),
        *(Binding(str(i), f"suggest({i - 1})", show=False) for i in range(1, 5)),
    ]

    @dataclass
    class Painted(Message):
        """The first page of the session is on screen (for benchmarks and tests)."""

        session_id: str

    def __init__(self, engine: Engine, session_id: str) -> None:
        super().__init__()
        self.service = SessionService(self, engine, session_id)
        self.session_view: SessionView | None = None
        self.editing = False
        self._painted = False
        self._image_jobs: dict[str, float] = {}  # this session's pictures being drawn: job -> %
        self.panel_wanted: bool | None = None  # ctrl+g's choice; None: by the terminal's width
        self.redo_stack: list[int] = []  # ends of the turns undone by ctrl+b, newest last
        self._turn_id = ""  # the latest turn: an earlier turn's late extras are not shown
        self._reply_s = 0.0  # how long the latest turn took to save her reply

    def compose(self) -> ComposeResult:
        yield Header(icon="❖")
        with Horizontal(id="main"):
            with Vertical(id="story"):
                yield PartnerBrief(id="brief")
                yield ChatLog(id="log")
                yield Static(
                    Content.from_markup("[@click=screen.story_end]↓ latest[/]  (end)"),
                    id="latest",
                )
                yield SuggestionsBar(id="suggestions")
                yield Static(id="status")
                yield ChatInput(id="input")
            with Vertical(id="side"):
                yield PartnerPanel(id="partner")
                yield ImagePane(id="image")
        yield Footer()

    def on_mount(self) -> None:
        self._layout_panel()
        self.service.open()
        # a picture already on its way (the opening, when started from the start screen):
        # catch up with its events so far; the app's image feed brings the rest
        for event in self.service.images_in_flight():
            self.post_message(msg.ImageEvent(event))
        self.chat_input.focus()

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width < NARROW, "-narrow")
        self._layout_panel()

    # -- parts ------------------------------------------------------------------------------

    @property
    def chat_log(self) -> ChatLog:
        return self.query_one(ChatLog)

    @property
    def chat_input(self) -> ChatInput:
        return self.query_one(ChatInput)

    @property
    def busy(self) -> bool:
        """Her reply is under way (the input is free again as soon as it is saved)."""
        return self.service.busy

    @property
    def extras_pending(self) -> bool:
        """Her reply is saved; suggestions and the picture prompt are still coming."""
        return self.service.extras_pending

    def set_status(self, text: str = "") -> None:
        self.query_one("#status", Static).update(text)

    # -- results from the service -----------------------------------------------------------

    async def on_session_loaded(self, message: msg.SessionLoaded) -> None:
        view = message.view
        log = self.chat_log
        log.partner, log.player = view.partner.name, view.player_name
        if message.reset_log:
            await log.show(view.entries, view.has_more)
        await self._show_state(view)
        if not self._painted:
            self._painted = True
            self.call_after_refresh(self.post_message, self.Painted(view.session_id))

    async def _show_state(self, view: SessionView) -> None:
        self.session_view = view
        self.title = view.title
        where = "" if view.scenario_title == view.title else f"{view.scenario_title} · "
        self.sub_title = f"{where}session {view.session_id}"
        await self.query_one(PartnerPanel).show(view.partner)
        self.query_one(PartnerBrief).show(view.partner)
        await self.query_one(SuggestionsBar).show(view.suggestions)
        self.chat_input.suggestion_count = len(view.suggestions)
        if not self.chat_input.sent:
            self.chat_input.sent = list(view.history)
        self.query_one(ImagePane).show_prompt(view.image)
        self.service.scene_image(view.head_id)
        await self.chat_log.set_alternatives(*view.alternatives)
        if view.ending:
            self.set_status(f"The story reached an ending: {view.ending}")
        self.refresh_bindings()

    async def on_chat_log_earlier_wanted(self, message: ChatLog.EarlierWanted) -> None:
        self.service.load_earlier(message.before_id)

    async def on_earlier_loaded(self, message: msg.EarlierLoaded) -> None:
        await self.chat_log.prepend(message.entries, message.has_more)

    async def on_chat_log_back_at_end(self, message: ChatLog.BackAtEnd) -> None:
        if self.session_view and not self.busy:
            await self.chat_log.set_alternatives(*self.session_view.alternatives)

    def on_action_failed(self, message: msg.ActionFailed) -> None:
        self.chat_log.earlier_failed()  # scrolling up may ask again
        self.notify(message.error, title=f"Could not {message.what}", severity="error")

    # -- the turn ---------------------------------------------------------------------------

    async def send(self, text: str, kind: str = "say") -> None:
        if self.busy:
            self.notify("A turn is running: wait for it, or press esc to cancel it.")
            return
        if kind == "say" and self.editing:
            kind = "edit"
        log = self.chat_log
        await self.action_story_end()
        await log.drop_live()
        if kind == "regenerate":
            last = log.last_turn_views()
            text = last[0].entry.text if last and last[0].entry.sender == "player" else ""
        if kind in ("regenerate", "edit"):
            log.supersede_last_turn(True)
        if text:
            await log.add_pending(Entry(None, None, "player", text))
        if kind != "regenerate":
            self.chat_input.remember(text)
            self.chat_input.clear()
        await log.begin_typing()
        self.query_one(SuggestionsBar).add_class("-busy")
        self.set_status("")
        self.service.start_turn(kind, text)
        self._stage_begin()
        self.refresh_bindings()

    async def on_chat_input_submitted(self, message: ChatInput.Submitted) -> None:
        await self.send(message.text)

    async def on_turn_event(self, message: msg.TurnEvent) -> None:
        from qualia_cli.engine import events as ev

        e, log = message.event, self.chat_log
        if isinstance(e, ev.TurnStarted):
            self._turn_id = e.turn_id
        late = e.turn_id != self._turn_id  # an earlier turn's extras, after a newer turn began
        if late and isinstance(e, ev.VisualPromptReady | ev.SuggestionsReady):
            return
        self._stage_track(e)
        if isinstance(e, ev.DirectorPlanned) and e.plan.get("narration"):
            await log.add_pending(Entry(None, None, "narrator", str(e.plan["narration"])))
        elif isinstance(e, ev.PartnerDelta) and log.typing:
            log.typing.set_text(e.text)
        elif isinstance(e, ev.PartnerMessage) and log.typing:
            log.typing.finish(Entry(None, None, "partner", e.dialogue, e.action, e.mood))
        elif isinstance(e, ev.StateChanged) and self.session_view:
            partner = with_state(self.session_view.partner, e.after, e.deltas)
            await self.query_one(PartnerPanel).show(partner)
            self.query_one(PartnerBrief).show(partner)
        elif isinstance(e, ev.VisualPromptReady):
            self.query_one(ImagePane).show_prompt(
                {
                    "prompt": e.prompt,
                    "negative_prompt": e.negative_prompt,
                    "framing": e.framing,
                    "generate": e.generate,
                }
            )
        elif isinstance(e, ev.SuggestionsReady):
            await self.query_one(SuggestionsBar).show(e.suggestions)
            self.chat_input.suggestion_count = len(e.suggestions[:4])  # 1-4 pick them now
        elif isinstance(e, ev.AgentError) and not e.fatal:
            text = explain(e.message, e.agent)
            self.notify(text, title=f"{e.agent} unavailable", severity="warning")
        elif isinstance(e, ev.EndingReached):
            self.notify(e.description, title=f"Ending reached: {e.title}", timeout=10)
        elif isinstance(e, ev.TurnCommitted):
            self._reply_s = e.wall_ms / 1000
            tokens = e.prompt_tokens + e.completion_tokens
            self.set_status(f"last turn: {self._reply_s:.1f} s · {tokens:,} tokens")
        elif isinstance(e, ev.ExtrasCommitted) and not late:
            tokens = e.prompt_tokens + e.completion_tokens
            self.set_status(
                f"last turn: reply {self._reply_s:.1f} s, all {e.wall_ms / 1000:.1f} s"
                f" · {tokens:,} tokens"
            )

    async def on_turn_finished(self, message: msg.TurnFinished) -> None:
        log = self.chat_log
        self._stage_end()
        self.query_one(SuggestionsBar).remove_class("-busy")
        if message.ok and message.view is not None:
            self.editing = False
            self.chat_input.remove_class("-editing")
            await log.commit(message.view.entries, message.view.has_more)
            await self._show_state(message.view)
            if message.stopped:
                self.notify("Stopped: what she had said is kept as her reply.")
        else:
            await log.drop_live()
            if message.kind != "regenerate" and not self.chat_input.text:
                self.chat_input.set_text(message.text)  # nothing typed is lost
            if message.cancelled:
                self.notify("Cancelled: nothing was saved.")
            else:
                # one place for it: the inline notice with its Retry (no toast over it)
                error = explain(message.error or "unknown error")
                await log.show_retry(error, message.kind, message.text)
            if self.session_view:
                await self.query_one(SuggestionsBar).show(self.session_view.suggestions)
                self.query_one(ImagePane).show_prompt(self.session_view.image)
                await self.query_one(PartnerPanel).show(self.session_view.partner)
        self.chat_input.focus()
        self.refresh_bindings()

    async def on_retry_box_retry(self, message: RetryBox.Retry) -> None:
        if self.chat_input.text.strip() == message.text.strip():
            self.chat_input.clear()
        await self.send(message.text, message.kind)

    # -- scene images -----------------------------------------------------------------------

    async def on_image_event(self, message: msg.ImageEvent) -> None:
        from qualia_cli.engine import events as ev

        e, pane = message.event, self.query_one(ImagePane)
        sid = self.service.session_id
        if isinstance(e, ev.ImageProgress):
            if e.job_id not in self._image_jobs:
                return
            self._image_jobs[e.job_id] = e.percent
        elif getattr(e, "session_id", None) != sid:
            return  # another session's picture
        elif isinstance(e, ev.ImageQueued):
            self._image_jobs[e.job_id] = 0.0
        elif isinstance(e, ev.ImageReady | ev.ImageFailed):
            self._image_jobs.pop(e.job_id, None)
        pane.drawing(max(self._image_jobs.values()) if self._image_jobs else None)
        self._stage_drawing(max(self._image_jobs.values()) if self._image_jobs else None)
        if isinstance(e, ev.ImageReady) and self.session_view is not None:
            self.service.scene_image(self.session_view.head_id)
        elif isinstance(e, ev.ImageFailed):
            first = e.message.splitlines()[0] if e.message else e.code
            pane.note(f"No picture ({e.code}): {first}", full=e.message or e.code)

    async def on_scene_image(self, message: msg.SceneImage) -> None:
        if self.session_view is None or message.head_id != self.session_view.head_id:
            return  # an answer for a branch no longer shown
        partner = self.session_view.partner
        caption = " · ".join(p for p in (partner.location, partner.time) if p)
        await self.query_one(ImagePane).show_image(message.path, message.message_id, caption)

    def action_reroll_image(self) -> None:
        pane = self.query_one(ImagePane)
        scene = pane.scene
        head = self.session_view.head_id if self.session_view else None
        message_id = scene.message_id if scene and scene.message_id is not None else head
        self.service.reroll_image(message_id)

    # -- suggestions ------------------------------------------------------------------------

    async def action_suggest(self, index: int) -> None:
        suggestions = self.session_view.suggestions if self.session_view else []
        bar = self.query_one(SuggestionsBar)
        suggestions = bar.suggestions or suggestions
        if self.busy or not 0 <= index < len(suggestions):
            return
        await self.send(str(suggestions[index].get("text", "")))

    async def on_suggestions_bar_chosen(self, message: SuggestionsBar.Chosen) -> None:
        await self.action_suggest(message.index)

    async def on_chat_input_suggestion_key(self, message: ChatInput.SuggestionKey) -> None:
        await self.action_suggest(message.index)

    def on_chat_input_flip(self, message: ChatInput.Flip) -> None:
        self.action_flip(message.step)

    # -- actions ----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel":
            return self.busy or self.editing
        if action in STORY_ACTIONS and self.busy:
            return None  # shown, but disabled
        return True

    def _has_turn(self, what: str) -> bool:
        if self.chat_log.last_turn_views():
            return True
        self.notify(f"Nothing to {what} yet: play a turn first.")
        return False

    async def action_regenerate(self) -> None:
        if self._has_turn("regenerate"):
            await self.send("", "regenerate")

    def action_flip(self, step: int) -> None:
        if self.session_view and self.session_view.alternatives[1] > 1 and not self.busy:
            self.service.flip(int(step))

    def action_previous_alternative(self) -> None:
        self.action_flip(-1)

    def action_next_alternative(self) -> None:
        self.action_flip(1)

    def action_rewind(self) -> None:
        if self._has_turn("rewind"):
            if self.session_view and self.session_view.head_id is not None:
                self.redo_stack.append(self.session_view.head_id)
            self.service.rewind()

    def action_redo(self) -> None:
        if not self.busy:
            self.service.redo(self.redo_stack.pop() if self.redo_stack else None)

    def action_edit_last(self) -> None:
        views = self.chat_log.last_turn_views()
        if not self._has_turn("edit") or views[0].entry.sender != "player":
            return
        self.editing = True
        self.chat_input.add_class("-editing")
        self.chat_input.set_text(views[0].entry.text)
        self.chat_input.focus()
        self.set_status("Editing your last message: enter runs the turn again, esc stops.")
        self.refresh_bindings()

    def action_cancel(self) -> None:
        if self.service.cancel_turn():
            self._stage_cancelling()  # at once: the worker may take a moment to stop
            return
        if self.editing:
            self.editing = False
            self.chat_input.remove_class("-editing")
            self.chat_input.clear()
            self.set_status("")
            self.refresh_bindings()

    def action_trace(self) -> None:
        self.service.trace()

    def on_trace_ready(self, message: msg.TraceReady) -> None:
        from qualia_cli.tui.screens.trace import TraceScreen

        self.app.push_screen(TraceScreen(message.trace))

    def action_options(self) -> None:
        from qualia_cli.tui.screens.dialogs import OptionsScreen

        if self.session_view is None:
            return

        def chosen(result: dict[str, Any] | None) -> None:
            if result is not None:
                self.service.apply_options(result["models"], result["pace"], result["rating"])

        self.app.push_screen(OptionsScreen(self.session_view, self.service.check_models), chosen)

    def on_models_checked(self, message: msg.ModelsChecked) -> None:
        from qualia_cli.tui.screens.dialogs import OptionsScreen

        for screen in self.app.screen_stack:
            if isinstance(screen, OptionsScreen):
                screen.checked(message.errors)

    def action_export(self) -> None:
        from qualia_cli.tui.screens.export import ExportChoice, ExportScreen

        view = self.session_view
        if view is None:
            return

        def chosen(choice: ExportChoice | None) -> None:
            if choice is not None:
                fmt, branch_only, path = choice
                self.service.export(path, fmt, branch_only=branch_only)

        def default(fmt: str) -> Path:
            return self.service.export_path(view.title, fmt)

        self.app.push_screen(ExportScreen(default), chosen)

    def on_exported(self, message: msg.Exported) -> None:
        self.notify(str(message.path), title="Transcript saved")

    def action_toggle_image(self) -> None:
        self.action_toggle_panel()
