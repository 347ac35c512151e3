"""The chat screen's ways around a story: the side panel, help, the story tree, redo, home/end
through the database, "↓ latest" and search. Mixed into ``ChatScreen`` (screens/chat.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qualia_cli.tui import messages as msg
from qualia_cli.tui.widgets.brief import PartnerBrief
from qualia_cli.tui.widgets.chat_input import ChatInput
from qualia_cli.tui.widgets.log import ChatLog

if TYPE_CHECKING:
    from textual.screen import Screen

    from qualia_cli.engine import SearchHit
    from qualia_cli.tui.service import SessionService
    from qualia_cli.tui.view import SessionView

    _Base = Screen[None]
else:
    _Base = object

NARROW = 100  # below this width the side panel folds into a one-line status


class StoryNavigation(_Base):
    """Needs the chat screen's ``service``, ``session_view``, ``chat_log``, ``busy``."""

    if TYPE_CHECKING:
        service: SessionService
        session_view: SessionView | None
        panel_wanted: bool | None
        redo_stack: list[int]

        @property
        def chat_log(self) -> ChatLog: ...

        @property
        def busy(self) -> bool: ...

    @property
    def panel_shown(self) -> bool:
        if self.panel_wanted is not None:
            return self.panel_wanted
        return self.size.width >= NARROW

    def _layout_panel(self) -> None:
        """The side panel, or (narrow terminal, or hidden with ctrl+g) the one-line status."""
        shown = self.panel_shown
        self.query_one("#side").display = shown
        self.query_one(PartnerBrief).display = not shown

    def action_toggle_panel(self) -> None:
        self.panel_wanted = not self.panel_shown
        self._layout_panel()

    def action_help(self) -> None:
        from qualia_cli.tui.screens.help import HelpScreen

        if not isinstance(self.app.screen, HelpScreen):
            self.app.push_screen(HelpScreen())

    # -- moving through a long story ---------------------------------------------------------

    def action_story_start(self) -> None:
        """Home: the branch's first messages, read from the database in one step."""
        self.service.load_later(0, first=True)

    async def action_story_end(self) -> None:
        """End (or "↓ latest"): the newest messages, wherever the log was."""
        log = self.chat_log
        if (log.below or log.more_below) and self.session_view is not None:
            await log.show(self.session_view.entries, self.session_view.has_more)
            self.post_message(ChatLog.BackAtEnd())
        else:
            log.scroll_end(animate=False)

    async def on_later_loaded(self, message: msg.LaterLoaded) -> None:
        log = self.chat_log
        if message.first:
            first = message.entries[0] if message.entries else None
            more_above = first is not None and first.parent_id is not None
            await log.show_from(message.entries, more_above, message.more_below, message.target)
            await log.set_alternatives(0, 0)
        else:
            await log.append_later(message.entries, message.more_below)

    def action_search(self) -> None:
        from qualia_cli.tui.screens.search import SearchScreen

        if isinstance(self.app.screen, SearchScreen):
            return

        def chosen(hit: SearchHit | None) -> None:
            if hit is None:
                return
            if hit.on_path:  # the page starting at it, read from the database
                self.service.load_later(hit.message_id - 1, first=True, target=hit.message_id)
            elif not self.busy:
                self.notify("Switched to the branch holding that message (ctrl+n shows them all).")
                self.service.branch_at(hit.message_id)

        partner = self.session_view.partner.name if self.session_view else ""
        self.app.push_screen(SearchScreen(self.service.search, partner), chosen)

    def on_search_results(self, message: msg.SearchResults) -> None:
        from qualia_cli.tui.screens.search import SearchScreen

        for screen in self.app.screen_stack:
            if isinstance(screen, SearchScreen):
                screen.show_hits(message.query, message.hits)

    def on_chat_log_later_wanted(self, message: ChatLog.LaterWanted) -> None:
        self.service.load_later(message.after_id)

    def on_chat_log_away_from_end(self, message: ChatLog.AwayFromEnd) -> None:
        self.query_one("#latest").display = message.away

    def on_chat_input_redo(self, message: ChatInput.Redo) -> None:
        self.action_redo()

    async def on_chat_input_jump(self, message: ChatInput.Jump) -> None:
        if message.where == -1:
            self.action_story_start()
        elif message.where == 1:
            await self.action_story_end()
        else:
            log = self.chat_log
            (log.scroll_page_up if message.where < 0 else log.scroll_page_down)(animate=False)

    def action_story_tree(self) -> None:
        self.service.story_tree()

    def action_branch(self) -> None:  # the palette's "Branch": the same tree
        self.action_story_tree()

    def on_story_tree_ready(self, message: msg.StoryTreeReady) -> None:
        from qualia_cli.tui.screens.tree import StoryTreeScreen

        def chosen(choice: tuple[str, int] | None) -> None:
            if choice is None:
                return
            action, message_id = choice
            if action == "trace":
                self.service.trace(message_id)
            elif not self.busy:
                self.service.branch_at(message_id)

        partner = self.session_view.partner.name if self.session_view else ""
        if not isinstance(self.app.screen, StoryTreeScreen):
            self.app.push_screen(StoryTreeScreen(message.tree, partner), chosen)

    # -- the log's keys -----------------------------------------------------------------------

    def on_chat_log_typed(self, message: ChatLog.Typed) -> None:
        """Typing while the log has the focus goes to the input (nothing is dropped)."""
        field = self.query_one(ChatInput)
        field.focus()
        field.insert(message.character)

    def on_chat_log_copied(self, message: ChatLog.Copied) -> None:
        words = " ".join(message.text.split())
        self.notify(words if len(words) <= 60 else words[:59] + "…", title="Copied")
