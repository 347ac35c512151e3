"""The message log: one page of the story, earlier pages on scroll-up, the live turn at the end."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.events import MouseScrollUp
from textual.message import Message
from textual.visual import VisualType
from textual.widget import Widget
from textual.widgets import Button, Static

from qualia_cli.engine import Sender, speaker_name
from qualia_cli.tui.view import MAX_MOUNTED, PAGE, Entry
from qualia_cli.tui.widgets.log_nav import LogNavigation


def render_entry(entry: Entry, partner: str, player: str) -> VisualType:
    """How one message looks (styles come from the theme; no user text is parsed as markup)."""
    ending = f"\n— Ending reached: {entry.ending} —" if entry.ending else ""
    if entry.sender == Sender.NARRATOR:  # plain Content: selectable with the mouse, like the rest
        return Content.assemble((entry.text, "italic"), ending)
    if entry.sender == Sender.PLAYER:
        who = speaker_name(entry.sender, partner, player)
        return Content.assemble((who, "bold $secondary"), "\n", entry.text, ending)
    if entry.sender == Sender.PARTNER:
        parts: list[str | tuple[str, str]] = [
            (speaker_name(entry.sender, partner), "bold $primary")
        ]
        if entry.mood:
            parts.append((f"  {entry.mood}", "dim"))
        parts.append("\n")
        if entry.action:
            parts.append((f"({entry.action}) ", "italic dim"))
        parts += [entry.text, ending]
        return Content.assemble(*parts)
    return Content.assemble((entry.text, "italic"), ending)


class MessageView(Static):
    """One stored (or, with ``-pending``, not yet stored) message."""

    def on_click(self) -> None:
        if self.parent is not None and isinstance(self.parent, ChatLog):
            self.parent.select(self)

    def __init__(self, entry: Entry, partner: str, player: str, pending: bool = False) -> None:
        classes = f"msg -{entry.sender}" + (" -pending" if pending else "")
        super().__init__(render_entry(entry, partner, player), classes=classes)
        self.entry = entry


class TypingView(Static):
    """The partner's reply while it streams; "Maren is typing…" until the first words."""

    def __init__(self, partner: str) -> None:
        self.partner = partner
        self.text = ""
        self.stage = ""  # what the turn is doing, until her first words stream in
        super().__init__(self._content(), classes="msg -partner -pending -typing")

    def _content(self) -> Content:
        if not self.text:
            first = self.partner.split()[0] if self.partner.strip() else "She"
            return Content.assemble((self.stage or f"{first} is typing…", "italic dim"))
        return Content.assemble((self.partner, "bold $primary"), "\n", self.text, ("▌", "dim"))

    def set_text(self, text: str) -> None:
        self.text = text
        self.update(self._content())

    def set_stage(self, stage: str) -> None:
        if stage != self.stage:
            self.stage = stage
            if not self.text:
                self.update(self._content())

    def finish(self, entry: Entry) -> None:
        """The reply is complete (it may differ from the streamed draft after a retry)."""
        self.text = entry.text
        self.remove_class("-typing")
        self.update(render_entry(entry, self.partner, ""))


class AltSwitch(Static):
    """ "‹ 2/3 ›" under the last reply: click an arrow (or alt+←/→) to flip alternatives."""

    def __init__(self, index: int, count: int) -> None:
        label = Content.from_markup(
            "[@click=screen.previous_alternative] ‹ [/]$label"
            "[@click=screen.next_alternative] › [/]",
            label=f"{index + 1}/{count}",
        )
        super().__init__(label, classes="alt-switch")
        self.label = f"{index + 1}/{count}"
        self.tooltip = "Alternatives of this turn: ←/→ in the empty input, or ctrl+r for another"


class RetryBox(Horizontal):
    """The inline notice of a failed turn, with a button to run it again."""

    @dataclass
    class Retry(Message):
        kind: str
        text: str

    def __init__(self, error: str, kind: str, text: str) -> None:
        super().__init__(classes="retry-box")
        self.error = error
        self.kind = kind
        self.text = text

    def compose(self):  # type: ignore[no-untyped-def]
        yield Static(
            Content.assemble(("The turn failed: ", "bold"), self.error, "\nNothing was saved."),
            classes="retry-error",
        )
        yield Button("Retry", id="retry", variant="warning", compact=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.Retry(self.kind, self.text))


class ChatLog(LogNavigation, VerticalScroll):
    """Shows one page of messages and asks for the page above when scrolled to the top.

    Focused (tab, or a click on a message): ↑/↓ pick a message, c copies it; other typing goes
    to the input, so nothing typed is lost.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "pick(-1)", "Previous message", show=False),
        Binding("down", "pick(1)", "Next message", show=False),
        Binding("c", "copy_message", "Copy message"),
    ]

    @dataclass
    class Typed(Message):
        """A key typed while the log had the focus: it belongs in the input."""

        character: str

    @dataclass
    class Copied(Message):
        text: str

    @dataclass
    class EarlierWanted(Message):
        before_id: int

    @dataclass
    class BackAtEnd(Message):
        """The newest messages are mounted again after reading far back."""

    @dataclass
    class LaterWanted(Message):
        """Scrolled to the bottom of pages read from the start: the page after ``after_id``."""

        after_id: int

    @dataclass
    class AwayFromEnd(Message):
        """The newest message is (or is no longer) out of view: show or hide "↓ latest"."""

        away: bool

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.partner = ""
        self.player = "you"
        self.has_more = False
        self._waiting = False
        # newer messages unmounted while the player reads far back (oldest first): plain data,
        # so at most MAX_MOUNTED message widgets exist however far one scrolls
        self.below: list[Entry] = []
        self.selected: MessageView | None = None  # the message c copies
        # after home or a search hit: newer pages still in the database, not in `below`
        self.more_below = False
        self._away = False

    # -- stored messages --------------------------------------------------------------------

    def views(self) -> list[MessageView]:
        return [w for w in self.children if isinstance(w, MessageView)]

    def _view(self, entry: Entry, pending: bool = False) -> MessageView:
        return MessageView(entry, self.partner, self.player, pending)

    async def show(self, entries: list[Entry], has_more: bool) -> None:
        """Replace everything with ``entries`` (the last page) and scroll to the end."""
        await self.remove_children()
        self.has_more = has_more
        self._waiting = False
        self.below = []
        self.more_below = False
        await self.mount_all([self._view(e) for e in entries])
        self.call_after_refresh(self._settle)

    def _settle(self) -> None:
        self.anchor()  # stay at the end as replies stream in, until the player scrolls up
        self._want_more()
        self._check_away()

    async def prepend(self, entries: list[Entry], has_more: bool) -> None:
        """Add an earlier page above, keeping what the player looks at in place."""
        self.has_more = has_more
        self._waiting = False
        if not entries:
            return
        views = self.views()
        keep = self._keep_place(views[0] if views else None)
        await self.mount_all([self._view(e) for e in entries], before=0)
        views = self.views()
        extra = len(views) - MAX_MOUNTED
        if extra > 0 and not self.live():
            gone = views[-extra:]
            self.below[:0] = [v.entry for v in gone]
            await self.remove_children([*gone, *self.query(AltSwitch)])
            self.anchor(False)  # the end is not mounted: nothing to stick to
        self.call_after_refresh(keep)

    def _keep_place(self, anchor: Widget | None) -> Callable[[], None]:
        """A callback that scrolls so ``anchor`` is where it is now on screen (after a refresh)."""
        offset = anchor.virtual_region.y - self.scroll_y if anchor else 0

        def restore() -> None:
            if anchor is not None and anchor.is_mounted:
                y = max(0, anchor.virtual_region.y - offset)
                self.scroll_to(y=y, animate=False, immediate=True)
            self._want_more()

        return restore

    async def restore_below(self) -> None:
        """Mount the next newer page again (scrolled to the bottom after reading far back)."""
        if not self.below:
            return
        take, self.below = self.below[:PAGE], self.below[PAGE:]
        await self.mount_all([self._view(e) for e in take])
        views = self.views()
        extra = len(views) - MAX_MOUNTED
        if extra > 0:
            keep = self._keep_place(views[extra])
            await self.remove_children(views[:extra])
            self.has_more = True
            self.call_after_refresh(keep)
        if not self.below:
            self.anchor()  # stick to the end again once the player gets there…
            self.release_anchor()  # …but stay where they are for now
            self.post_message(self.BackAtEnd())

    async def to_end(self) -> None:
        """Show the newest page again if the player had scrolled far back."""
        if self.below:
            entries = [v.entry for v in self.views()] + self.below
            newest = entries[-PAGE:]
            await self.show(newest, newest[0].parent_id is not None)
            self.post_message(self.BackAtEnd())

    def _want_more(self) -> None:
        views = self.views()
        if not (self.has_more and not self._waiting and views and self.scroll_y <= 1):
            return
        before = views[0].entry.parent_id
        if before is not None:
            self._waiting = True
            self.post_message(self.EarlierWanted(before))

    def earlier_failed(self) -> None:
        self._waiting = False

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if new_value <= 1 < old_value:
            self._want_more()
        elif self.below and new_value >= self.max_scroll_y - 1 > old_value:
            self.run_worker(self.restore_below(), group="below", exclusive=True)
        elif self.more_below and new_value >= self.max_scroll_y - 1 and not self._waiting:
            views = self.views()
            if views and views[-1].entry.id is not None:
                self._waiting = True
                self.post_message(self.LaterWanted(views[-1].entry.id))
        self._check_away()

    def _on_mouse_scroll_up(self, event: MouseScrollUp) -> None:
        self._want_more()

    # -- the running turn -------------------------------------------------------------------

    async def add_pending(self, entry: Entry) -> MessageView:
        view = self._view(entry, pending=True)
        typing = self.typing
        await self.mount(view, before=typing) if typing else await self.mount(view)
        self.scroll_end(animate=False)
        return view

    async def begin_typing(self) -> TypingView:
        view = TypingView(self.partner)
        await self.mount(view)
        self.scroll_end(animate=False)
        return view

    @property
    def typing(self) -> TypingView | None:
        found = [w for w in self.children if isinstance(w, TypingView)]
        return found[0] if found else None

    def last_turn_views(self) -> list[MessageView]:
        """The stored messages of the last turn (empty at the opening)."""
        views = [v for v in self.views() if "-pending" not in v.classes]
        if not views or views[-1].entry.turn_id is None:
            return []
        turn_id = views[-1].entry.turn_id
        out: list[MessageView] = []
        for v in reversed(views):
            if v.entry.turn_id != turn_id:
                break
            out.insert(0, v)
        return out

    def supersede_last_turn(self, hidden: bool = True) -> None:
        """Hide the last turn while it is regenerated or edited (or show it again)."""
        for v in self.last_turn_views():
            v.set_class(hidden, "-superseded")
        for w in self.query(AltSwitch):
            w.display = not hidden

    def live(self) -> bool:
        """Is a turn (or its failure notice) shown at the end?"""
        return any(
            isinstance(w, TypingView | RetryBox)
            or (isinstance(w, MessageView) and "-pending" in w.classes)
            for w in self.children
        )

    async def drop_live(self) -> None:
        """Remove what the running (or failed) turn added; show a superseded turn again."""
        live = [
            w
            for w in self.children
            if isinstance(w, TypingView | RetryBox)
            or (isinstance(w, MessageView) and "-pending" in w.classes)
        ]
        if live:
            await self.remove_children(live)
        self.supersede_last_turn(False)

    async def commit(self, entries: list[Entry], has_more: bool) -> None:
        """The turn was stored: replace the live messages by ``entries`` (the new last page)."""
        gone = [
            w
            for w in self.children
            if isinstance(w, TypingView | RetryBox | AltSwitch)
            or (isinstance(w, MessageView) and bool({"-pending", "-superseded"} & w.classes))
        ]
        if gone:
            await self.remove_children(gone)
        kept = self.views()
        ids = [e.id for e in entries]
        if not kept or kept[-1].entry.id not in ids:
            await self.show(entries, has_more)
            return
        start = ids.index(kept[-1].entry.id) + 1
        await self.mount_all([self._view(e) for e in entries[start:]])
        self.scroll_end(animate=False)

    async def show_retry(self, error: str, kind: str, text: str) -> None:
        await self.mount(RetryBox(error, kind, text))
        self.scroll_end(animate=False)

    async def set_alternatives(self, index: int, count: int) -> None:
        await self.query(AltSwitch).remove()
        if count > 1 and self.views():
            await self.mount(AltSwitch(index, count), after=self.views()[-1])
