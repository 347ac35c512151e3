"""The input box: enter sends, shift+enter (or alt+enter, ctrl+j) adds a line, up/down history."""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.message import Message
from textual.widgets import TextArea

NEWLINE_KEYS = frozenset({"shift+enter", "alt+enter", "ctrl+j"})
PLACEHOLDER = "Say or do something…  (enter sends · shift+enter new line · 1–4 a suggestion)"
PLAIN_PLACEHOLDER = "Say or do something…  (enter sends · shift+enter new line · F1 keys)"


class ChatInput(TextArea):
    @dataclass
    class Submitted(Message):
        text: str

    @dataclass
    class SuggestionKey(Message):
        index: int  # 0-based

    @dataclass
    class Flip(Message):
        """Left/right in an empty input: show the previous/next alternative of the last turn."""

        step: int

    @dataclass
    class Redo(Message):
        """ctrl+y in an empty input: go forward again after a rewind (not the text's redo)."""

    @dataclass
    class Jump(Message):
        """home/end (-1/+1) or pageup/pagedown (-2/+2) in an empty input: move through the
        story instead of the (empty) line."""

        where: int

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(
            soft_wrap=True,
            tab_behavior="focus",
            show_line_numbers=False,
            highlight_cursor_line=False,
            placeholder=PLAIN_PLACEHOLDER,
            compact=True,
            id=id,
        )
        self.sent: list[str] = []
        self._recall: int | None = None  # position in history while browsing it
        self._draft = ""
        self._suggestions = 0  # how many of 1–4 mean a suggestion right now

    @property
    def suggestion_count(self) -> int:
        return self._suggestions

    @suggestion_count.setter
    def suggestion_count(self, count: int) -> None:
        """The placeholder offers 1–4 only when there are suggestions to pick."""
        self._suggestions = count
        self.placeholder = PLACEHOLDER if count else PLAIN_PLACEHOLDER

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            if self.text.strip():
                self.post_message(self.Submitted(self.text.strip()))
            return
        if event.key in NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            self.insert("\n")
            return
        char = event.character or ""
        if not self.text and char.isdigit() and 1 <= int(char) <= self.suggestion_count:
            event.stop()
            event.prevent_default()
            self.post_message(self.SuggestionKey(int(char) - 1))
            return
        await super()._on_key(event)

    def action_cursor_left(self, select: bool = False) -> None:
        if not self.text and not select:
            self.post_message(self.Flip(-1))
            return
        super().action_cursor_left(select)

    def action_cursor_right(self, select: bool = False) -> None:
        if not self.text and not select:
            self.post_message(self.Flip(1))
            return
        super().action_cursor_right(select)

    def action_redo(self) -> None:
        if not self.text:
            self.post_message(self.Redo())
            return
        super().action_redo()

    def action_cursor_line_start(self, select: bool = False) -> None:
        if not self.text and not select:
            self.post_message(self.Jump(-1))
            return
        super().action_cursor_line_start(select)

    def action_cursor_line_end(self, select: bool = False) -> None:
        if not self.text and not select:
            self.post_message(self.Jump(1))
            return
        super().action_cursor_line_end(select)

    def action_cursor_page_up(self) -> None:
        if not self.text:
            self.post_message(self.Jump(-2))
            return
        super().action_cursor_page_up()

    def action_cursor_page_down(self) -> None:
        if not self.text:
            self.post_message(self.Jump(2))
            return
        super().action_cursor_page_down()

    # -- history ----------------------------------------------------------------------------

    def remember(self, text: str) -> None:
        if text and (not self.sent or self.sent[-1] != text):
            self.sent.append(text)
        self._recall = None

    def set_text(self, text: str) -> None:
        self.load_text(text)
        self.move_cursor(self.document.end)

    def action_cursor_up(self, select: bool = False) -> None:
        if select or not self.cursor_at_first_line or not self.sent:
            super().action_cursor_up(select)
            return
        if self._recall is None:
            self._draft = self.text
            self._recall = len(self.sent)
        if self._recall > 0:
            self._recall -= 1
            self.set_text(self.sent[self._recall])

    def action_cursor_down(self, select: bool = False) -> None:
        if select or not self.cursor_at_last_line or self._recall is None:
            super().action_cursor_down(select)
            return
        self._recall += 1
        if self._recall >= len(self.sent):
            self._recall = None
            self.set_text(self._draft)
        else:
            self.set_text(self.sent[self._recall])
