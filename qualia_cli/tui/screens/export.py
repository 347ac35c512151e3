"""The export dialog (ctrl+s): format, the whole tree or this branch, and where to write it.

The file is written by the engine with the renderer of `qualia sessions export` (pictures
embedded in HTML and JSON). Dismisses with (format, branch only, path) or None.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Select, Static

from qualia_cli.tui.screens.fit import FitDialog

FORMATS = (
    ("Markdown (.md)", "md"),
    ("HTML, pictures included (.html)", "html"),
    ("JSON, re-importable (.json)", "json"),
)

ExportChoice = tuple[str, bool, Path]


class ExportScreen(FitDialog[ExportChoice | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(self, default_path: Callable[[str], Path]) -> None:
        super().__init__()
        self.default_path = default_path  # format -> the usual file (exports dir)
        self._typed = False  # a path the player typed is never replaced

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="export"):
            yield Static("Export the story", classes="dialog-title")
            with VerticalScroll(classes="dialog-body") as body:
                body.can_focus = False
                with Horizontal(classes="field"):
                    yield Label("format", classes="field-label")
                    yield Select(FORMATS, value="md", allow_blank=False, id="format", compact=True)
                with Horizontal(classes="field"):
                    yield Label("what", classes="field-label")
                    with RadioSet(id="scope", compact=True):
                        yield RadioButton("the whole tree (every branch)", value=True, id="tree")
                        yield RadioButton("this branch only", id="branch")
                with Horizontal(classes="field"):
                    yield Label("file", classes="field-label")
                    yield Input(str(self.default_path("md")), id="path", compact=True)
                yield Static("", id="export-error", classes="field-error")
            with Horizontal(classes="buttons"):
                yield Button("Export", variant="primary", id="export-save")
                yield Button("Cancel", id="export-cancel")

    def on_mount(self) -> None:
        self.query_one("#format", Select).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.has_focus:
            self._typed = True

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "format" and not self._typed:
            self.query_one("#path", Input).value = str(self.default_path(str(event.value)))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "export-save":
            self._save()
        else:
            self.dismiss(None)

    def _save(self) -> None:
        text = self.query_one("#path", Input).value.strip()
        if not text:
            self.query_one("#export-error", Static).update("Give a file to write.")
            self.query_one("#export-error").add_class("-shown")
            self.query_one("#path", Input).focus()
            return
        fmt = str(self.query_one("#format", Select).value)
        branch_only = self.query_one("#branch", RadioButton).value
        self.dismiss((fmt, branch_only, Path(text).expanduser()))

    def action_close(self) -> None:
        self.dismiss(None)
