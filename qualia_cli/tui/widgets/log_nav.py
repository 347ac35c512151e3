"""The log's ways around a long story, mixed into ``ChatLog`` (widgets/log.py): pages read
forward from the database (after home or a search hit), whether the newest message is in view
("↓ latest"), and picking / copying a message with the keyboard."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import events

from qualia_cli.tui.view import MAX_MOUNTED

if TYPE_CHECKING:
    from collections.abc import Callable

    from textual.containers import VerticalScroll
    from textual.widget import Widget

    from qualia_cli.tui.view import Entry
    from qualia_cli.tui.widgets.log import MessageView

    _Base = VerticalScroll
else:
    _Base = object


# keys the log or the chat screen act on themselves (copy, help, send suggestion 1–4)
SCREEN_KEYS = frozenset({"c", "question_mark", "1", "2", "3", "4"})


class LogNavigation(_Base):
    if TYPE_CHECKING:
        has_more: bool
        below: list[Entry]
        more_below: bool
        selected: MessageView | None
        _waiting: bool
        _away: bool

        def views(self) -> list[MessageView]: ...

        def _view(self, entry: Entry, pending: bool = False) -> MessageView: ...

        def _keep_place(self, anchor: Widget | None) -> Callable[[], None]: ...

    # -- picking and copying ----------------------------------------------------------------

    def select(self, view: MessageView | None) -> None:
        if self.selected is not None and self.selected.is_mounted:
            self.selected.remove_class("-selected")
        self.selected = view
        if view is not None:
            view.add_class("-selected")
            self.scroll_to_widget(view, animate=False)
            self.focus()

    def action_pick(self, step: int) -> None:
        views = [v for v in self.views() if v.display]
        if not views:
            return
        current = self.selected if self.selected in views else None
        if current is None:
            self.select(views[-1] if step < 0 else views[0])
            return
        index = max(0, min(len(views) - 1, views.index(current) + step))
        self.select(views[index])

    def action_copy_message(self) -> None:
        view = self.selected if self.selected is not None and self.selected.is_mounted else None
        views = self.views()
        view = view or (views[-1] if views else None)
        if view is None:
            return
        entry = view.entry
        text = f"({entry.action}) {entry.text}" if entry.action else entry.text
        self.app.copy_to_clipboard(text)
        self.post_message(self.Copied(text))

    def on_key(self, event: events.Key) -> None:
        if event.character and event.is_printable and event.key not in SCREEN_KEYS:
            event.stop()
            event.prevent_default()
            self.post_message(self.Typed(event.character))

    def on_blur(self) -> None:
        if self.selected is not None and self.selected.is_mounted:
            self.selected.remove_class("-selected")
        self.selected = None

    async def show_from(
        self, entries: list[Entry], has_more: bool, more_below: bool, target: int | None = None
    ) -> None:
        """Replace everything with ``entries`` read from the database (home: the branch's first
        page; a search hit: the page starting at it) and show ``target`` (default: the top)."""
        await self.remove_children()
        self.has_more = has_more
        self.below = []
        self.more_below = more_below
        self._waiting = False
        self.anchor(False)
        await self.mount_all([self._view(e) for e in entries])
        views = self.views()
        if not more_below:
            self.post_message(self.BackAtEnd())
        found = [v for v in views if v.entry.id == target] if target is not None else []

        def place() -> None:
            if found:
                self.scroll_to_widget(found[0], animate=False, top=True, immediate=True)
            else:
                self.scroll_home(animate=False, immediate=True)
            self._check_away()

        self.call_after_refresh(place)

    async def append_later(self, entries: list[Entry], more_below: bool) -> None:
        """The page after the mounted ones (scrolled down after home): mount it below, drop the
        oldest beyond MAX_MOUNTED, keep the place."""
        self._waiting = False
        self.more_below = more_below
        if entries:
            await self.mount_all([self._view(e) for e in entries])
            views = self.views()
            extra = len(views) - MAX_MOUNTED
            if extra > 0:
                keep = self._keep_place(views[extra])
                await self.remove_children(views[:extra])
                self.has_more = True
                self.call_after_refresh(keep)
        if not more_below:
            self.anchor()
            self.release_anchor()
            self.post_message(self.BackAtEnd())
        self._check_away()

    @property
    def at_latest(self) -> bool:
        """Is the newest message mounted and (nearly) in view?"""
        return not self.below and not self.more_below and self.scroll_y >= self.max_scroll_y - 2

    def _check_away(self) -> None:
        away = not self.at_latest
        if away != self._away:
            self._away = away
            self.post_message(self.AwayFromEnd(away))
