"""Dialogs that fit small terminals: the body scrolls, the title and buttons stay on screen."""

from __future__ import annotations

from typing import TypeVar

from textual import events
from textual.screen import ModalScreen

SHARE = 0.9  # a dialog's max-height (qualia.tcss: .dialog)

T = TypeVar("T")


class FitDialog(ModalScreen[T]):
    """A modal whose ``.dialog`` holds a ``.dialog-body`` scroll between a title and buttons.

    The body's height is capped to what the terminal leaves once the dialog's frame, title and
    buttons are counted, so the buttons are never pushed below the edge (80×24 and smaller).
    """

    def on_resize(self, event: events.Resize) -> None:
        self.call_after_refresh(self.fit_body)

    def on_mount(self) -> None:
        self.call_after_refresh(self.fit_body)

    def fit_body(self) -> None:
        bodies = self.query(".dialog-body")
        dialogs = self.query(".dialog")
        if not bodies or not dialogs:
            return
        body = bodies.first()
        dialog = dialogs.first()
        frame = dialog.styles.gutter.height  # border + padding
        others = sum(
            child.outer_size.height + child.styles.margin.height
            for child in dialog.children
            if child is not body and child.display
        )
        room = int(self.size.height * SHARE) - frame - others
        body.styles.max_height = max(3, room)
