"""The scene pane. For now it shows the Visual Director's prompt.

The slot ``#image-slot`` holds one body widget; the images feature replaces the prompt view with
its image widget through ``ImagePane.set_body`` (and may keep the prompt as a caption).
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Container, Vertical
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Static

EMPTY = "No scene yet. After a turn the Visual Director's prompt appears here."


def prompt_content(image: dict[str, Any] | None) -> Content:
    if not image or not image.get("prompt"):
        return Content.assemble((EMPTY, "dim italic"))
    parts: list[str | tuple[str, str]] = []
    if image.get("framing"):
        parts += [("framing ", "dim"), str(image["framing"]), "\n"]
    if "generate" in image:
        parts += [("new image ", "dim"), "yes" if image["generate"] else "no", "\n"]
    parts += ["\n", str(image["prompt"])]
    if image.get("negative_prompt"):
        parts += ["\n\n", ("negative ", "dim"), (str(image["negative_prompt"]), "dim")]
    return Content.assemble(*parts)


class PromptView(Static):
    """The text of the current image prompt."""


class ImagePane(Vertical):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.image: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield Static("Scene", classes="pane-title")
        with Container(id="image-slot"):
            yield PromptView(prompt_content(None), id="image-prompt")

    def show_prompt(self, image: dict[str, Any] | None) -> None:
        """Show the Visual Director's prompt (a dict with prompt, negative_prompt, framing…)."""
        self.image = image
        for view in self.query(PromptView):
            view.update(prompt_content(image))

    async def set_body(self, widget: Widget) -> None:
        """Put ``widget`` (e.g. the scene image) in the slot instead of what is there."""
        slot = self.query_one("#image-slot", Container)
        await slot.remove_children()
        await slot.mount(widget)
