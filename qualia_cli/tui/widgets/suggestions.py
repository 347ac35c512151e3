"""The Strategist's suggested moves: press 1–4 or click one to send it."""

from __future__ import annotations

from dataclasses import dataclass

from textual.containers import Horizontal
from textual.content import Content
from textual.events import Click
from textual.message import Message
from textual.widgets import Static


class SuggestionChip(Static):
    def __init__(self, index: int, text: str, intent: str) -> None:
        label = Content.assemble((f"{index + 1} ", "bold $accent"), text)
        super().__init__(label, classes="chip")
        self.index = index
        self.text = text
        # the whole move on hover: narrow terminals cut chips to one line
        self.tooltip = f"{text}\n({intent})" if intent else text

    def on_click(self, event: Click) -> None:
        event.stop()
        self.post_message(SuggestionsBar.Chosen(self.index))


class SuggestionsBar(Horizontal):
    @dataclass
    class Chosen(Message):
        index: int  # 0-based

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.suggestions: list[dict[str, str]] = []

    async def show(self, suggestions: list[dict[str, str]]) -> None:
        self.suggestions = list(suggestions[:4])
        await self.remove_children()
        await self.mount_all(
            [
                SuggestionChip(i, str(s.get("text", "")), str(s.get("intent", "")))
                for i, s in enumerate(self.suggestions)
            ]
        )
        self.display = bool(self.suggestions)
