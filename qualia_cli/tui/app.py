"""The `qualia play` application."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import App, SystemCommand
from textual.screen import Screen

from qualia_cli.tui import messages as msg
from qualia_cli.tui import prefs, safe_text
from qualia_cli.tui.commands import chat_commands
from qualia_cli.tui.image_feed import ImageFeed
from qualia_cli.tui.screens.chat import ChatScreen
from qualia_cli.tui.screens.start import StartScreen

if TYPE_CHECKING:
    from textual.theme import Theme

    from qualia_cli.engine import Engine


class QualiaApp(App[None]):
    """Start screen (no session given) or the chat screen of one session."""

    CSS_PATH = Path(__file__).parent / "qualia.tcss"
    TITLE = "qualia"
    ENABLE_COMMAND_PALETTE = True

    def __init__(
        self,
        engine: Engine,
        *,
        session_id: str | None = None,
        own_engine: bool = False,
    ) -> None:
        safe_text.install()  # data in widgets: control sequences shown, never obeyed
        super().__init__()
        self.engine = engine
        self.session_id = session_id
        self.own_engine = own_engine
        self.image_feed = ImageFeed(self, engine)
        saved = prefs.load().get("theme")
        if isinstance(saved, str) and saved in self.available_themes:
            self.theme = saved  # the theme picked last time (`--theme` overrides it)

    def on_mount(self) -> None:
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        self.image_feed.start()  # one worker per app, for every image event
        if self.session_id:
            self.push_screen(ChatScreen(self.engine, self.session_id))
        else:
            self.push_screen(StartScreen(self.engine))

    def _remember_theme(self, theme: Theme) -> None:
        self.run_worker(lambda: prefs.save(theme=theme.name), thread=True, exit_on_error=False)

    def open_session(self, session_id: str) -> None:
        self.session_id = session_id
        self.switch_screen(ChatScreen(self.engine, session_id))

    def action_show_start(self) -> None:
        chat = self.screen
        if isinstance(chat, ChatScreen) and chat.busy:
            self.notify("A turn is running: wait for it, or press esc to cancel it.")
            return
        self.switch_screen(StartScreen(self.engine))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        if isinstance(screen, ChatScreen):
            yield from chat_commands(screen)
        yield from super().get_system_commands(screen)

    def on_image_event(self, message: msg.ImageEvent) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, ChatScreen):
                screen.post_message(msg.ImageEvent(message.event))

    async def on_unmount(self) -> None:
        self.image_feed.stop()
        if self.own_engine:
            await self.engine.aclose()
