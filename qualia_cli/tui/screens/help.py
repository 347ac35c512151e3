"""The help screen (F1 or ?): every key of the game, the screens and the dialogs, in one list."""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Button, Static

from qualia_cli.tui.screens.fit import FitDialog

# (section, [(keys, what they do)]): the keys the footer has no room for are here too
KEYS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Playing",
        (
            ("enter", "send what you typed (runs a turn)"),
            ("shift+enter · alt+enter · ctrl+j", "a new line in the input"),
            ("1 2 3 4", "send that suggestion (input empty)"),
            ("← →", "previous / next alternative of the last turn (input empty)"),
            ("↑ ↓", "your earlier lines (first / last line of the input)"),
            ("esc", "cancel the running turn, or stop editing"),
        ),
    ),
    (
        "The story",
        (
            ("ctrl+r", "regenerate the last turn (a new alternative)"),
            ("ctrl+b", "rewind: undo the last turn (it stays in the story tree)"),
            ("ctrl+y", "redo: go forward again after a rewind"),
            ("f2", "edit what you said last and run the turn again"),
            ("ctrl+n", "story tree: every branch and alternative, continue from any turn"),
            ("ctrl+t", "trace of the last turn (plan, models, tokens, raw output)"),
        ),
    ),
    (
        "Reading a long story",
        (
            ("home / end", "first / last message of this branch (input empty)"),
            ("pageup / pagedown", "scroll the story a page"),
            ("ctrl+f", "search this session's messages"),
            ("↓ latest", "click it to jump back to the newest message"),
        ),
    ),
    (
        "Screen and session",
        (
            ("ctrl+g", "show or hide the side panel (partner, stats, scene)"),
            ("f3", "draw the current scene again"),
            ("ctrl+o", "options: models per agent, pace, rating"),
            ("ctrl+s", "export the story"),
            ("ctrl+p", "command palette: every action by name, themes"),
            ("tab · shift+tab", "move the focus"),
            ("f1 · ?", "this help"),
            ("ctrl+q", "quit (everything is saved after each turn)"),
        ),
    ),
    (
        "Start screen",
        (
            ("enter", "open the highlighted story, or start the highlighted scenario"),
            ("n", "new story: go to the scenario list"),
            ("d", "archive the highlighted story (u undoes it)"),
        ),
    ),
    (
        "Story tree",
        (
            ("enter", "continue the story from that moment"),
            ("space · → / ←", "open / close a branch"),
            ("t", "trace of that turn"),
            ("esc", "close"),
        ),
    ),
)


def keys_content(columns: int = 100) -> Content:
    """The key list for ``columns`` of room: keys and what they do side by side, or (narrow)
    each description under its keys."""
    width = max(len(k) for _, rows in KEYS for k, _ in rows) + 2
    side_by_side = columns >= width + 40
    parts: list[str | tuple[str, str]] = []
    for section, rows in KEYS:
        if parts:
            parts.append("\n")
        parts += [(section, "bold $accent"), "\n"]
        for keys, what in rows:
            if side_by_side:
                parts += [(f"  {keys:<{width}}", "bold"), what, "\n"]
            else:
                parts += [(f"  {keys}", "bold"), "\n", f"      {what}", "\n"]
    return Content.assemble(*parts[:-1])


class HelpScreen(FitDialog[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,f1,question_mark", "close", "Close")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -wide -framed", id="help"):
            yield Static("Keys", classes="dialog-title")
            with VerticalScroll(classes="dialog-body"):
                yield Static(keys_content(), id="help-keys")
            with Horizontal(classes="buttons"):
                yield Button("Close", id="close", variant="primary")

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()

    def on_resize(self, event: events.Resize) -> None:
        keys = self.query_one("#help-keys", Static)
        keys.update(keys_content(self.query_one(VerticalScroll).size.width or event.size.width))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)
