"""Search the session (ctrl+f): full-text over every branch; enter shows the message in the log.

The screen never searches itself: it calls ``run_search`` (the chat screen's service starts a
worker) and the chat screen hands the results back with ``show_hits``. Dismisses with the chosen
``SearchHit`` or None.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from qualia_cli.engine import SearchHit, speaker_name
from qualia_cli.tui.screens.fit import FitDialog


def hit_label(hit: SearchHit, partner: str) -> Content:
    who = speaker_name(hit.sender, partner) or hit.sender  # the narrator: "narrator"
    where = "" if hit.on_path else "  (another branch: enter switches to it)"
    parts: list[str | tuple[str, str]] = [(f"{who}: ", "bold")]
    text = hit.snippet
    while "[" in text and "]" in text.split("[", 1)[1]:  # the matched words, highlighted
        before, rest = text.split("[", 1)
        word, text = rest.split("]", 1)
        parts += [before, (word, "bold $accent")]
    parts += [text, (where, "dim italic")]
    return Content.assemble(*parts)


class SearchScreen(FitDialog[SearchHit | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(self, run_search: Callable[[str], None], partner: str) -> None:
        super().__init__()
        self.run_search = run_search
        self.partner = partner.split()[0] if partner.strip() else "She"
        self.hits: list[SearchHit] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -wide", id="search"):
            yield Static("Search this story", classes="dialog-title")
            yield Input(placeholder="words to find (every branch)", id="search-input")
            yield Static("", id="search-count", classes="hint")
            yield OptionList(id="search-hits", classes="dialog-body")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.hits and self.query_one(OptionList).has_focus:
            return
        if event.value.strip():
            self.query_one("#search-count", Static).update("searching…")
            self.run_search(event.value.strip())

    def show_hits(self, query: str, hits: list[SearchHit]) -> None:
        self.hits = hits
        count = f"{len(hits)} match{'' if len(hits) == 1 else 'es'} for “{query}”"
        if hits:
            count += " · ↓ then enter shows one"
        self.query_one("#search-count", Static).update(count)
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options(
            [Option(hit_label(h, self.partner), id=str(i)) for i, h in enumerate(hits)]
        )
        if hits:
            options.highlighted = 0
        self.call_after_refresh(self.fit_body)

    def on_key(self, event: object) -> None:
        key = getattr(event, "key", "")
        if key == "down" and self.query_one(Input).has_focus and self.hits:
            self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.dismiss(self.hits[int(event.option.id)])

    def action_close(self) -> None:
        self.dismiss(None)
