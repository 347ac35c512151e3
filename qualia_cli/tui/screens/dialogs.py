"""Modal dialogs of the chat screen: session options (models, pace, rating)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, Select, Static

from qualia_cli.tui.screens.fit import FitDialog
from qualia_cli.tui.view import SessionView

PACES = ("slow", "medium", "fast")


class OptionsScreen(FitDialog[dict[str, Any] | None]):
    """Model per agent, narrative pace and content rating of this session."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(
        self, view: SessionView, check: Callable[[dict[str, str | None]], None] | None = None
    ) -> None:
        super().__init__()
        self.view = view
        self.check = check  # checks the model names in a worker, then calls `checked`
        self.pending: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("Session options", classes="dialog-title")
            body = VerticalScroll(classes="dialog-body")
            body.can_focus = False
            with body:
                yield from self._fields()
            with Horizontal(classes="buttons"):
                yield Button("Save", variant="primary", id="save")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        first = self.query(Input)
        if first:
            first.first().focus()  # typing goes to the first field straight away

    def _fields(self) -> ComposeResult:
        v = self.view
        known = ", ".join(v.configured_models) or "none"
        yield Static(
            f"Model per agent (empty: the configured default). Configured: {known}. "
            "→ completes a configured name.",
            classes="hint",
        )
        suggester = SuggestFromList(v.configured_models, case_sensitive=False)
        for agent, model in v.models.items():
            override = v.model_overrides.get(agent, "")
            with Horizontal(classes="field"):
                yield Label(agent, classes="field-label")
                yield Input(
                    value=override,
                    placeholder="configured default" if override else model,
                    id=f"model-{agent}",
                    suggester=suggester,
                    compact=True,
                )
                yield Button("default", id=f"reset-{agent}", compact=True, classes="reset")
            yield Static("", id=f"error-{agent}", classes="field-error")
        with Horizontal(classes="field"):
            yield Label("pace", classes="field-label")
            yield Select(
                [(p, p) for p in PACES],
                value=v.pace,
                allow_blank=False,
                id="pace",
                compact=True,
            )
        ratings = v.allowed_ratings if v.rating in v.allowed_ratings else [v.rating]
        with Horizontal(classes="field"):
            yield Label("rating", classes="field-label")
            yield Select(
                [(r, r) for r in ratings],
                value=v.rating,
                allow_blank=False,
                id="rating",
                compact=True,
            )

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        button = event.button.id or ""
        if button.startswith("reset-"):
            field = self.query_one(f"#model-{button.removeprefix('reset-')}", Input)
            field.value = ""  # back to the configured default
            field.remove_class("-invalid")
            self.query_one(f"#error-{button.removeprefix('reset-')}").remove_class("-shown")
            field.focus()
            return
        if button != "save":
            self.dismiss(None)
            return
        models = {
            agent: self.query_one(f"#model-{agent}", Input).value.strip() or None
            for agent in self.view.models
        }
        self.pending = {
            "models": models,
            "pace": str(self.query_one("#pace", Select).value),
            "rating": str(self.query_one("#rating", Select).value),
        }
        if self.check is None:
            self.dismiss(self.pending)
            return
        self.query_one("#save", Button).disabled = True
        self.check(models)  # the answer comes back as `checked`

    def checked(self, errors: dict[str, str]) -> None:
        """The model names were checked: save, or say what is wrong under each bad field (the
        dialog stays open and keeps every value)."""
        self.query_one("#save", Button).disabled = False
        if not errors and self.pending is not None:
            self.dismiss(self.pending)
            return
        for agent in self.view.models:
            error = errors.get(agent, "")
            note = self.query_one(f"#error-{agent}", Static)
            note.update(error)
            note.set_class(bool(error), "-shown")
            self.query_one(f"#model-{agent}", Input).set_class(bool(error), "-invalid")
        bad = [a for a in self.view.models if a in errors]
        if bad:
            self.query_one(f"#model-{bad[0]}", Input).focus()
        self.call_after_refresh(self.fit_body)

    def action_close(self) -> None:
        self.dismiss(None)
