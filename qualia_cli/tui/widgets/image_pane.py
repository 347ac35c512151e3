"""The scene pane: the session's latest scene image (or, without one, the Visual Director's prompt).

The slot ``#image-slot`` holds one body widget: a ``PromptView`` until the branch has a picture,
then a ``SceneView`` (the image drawn with textual-image: Kitty / Sixel where the terminal
supports it, half-blocks otherwise). Above it, a progress bar while a picture is being drawn and
a one-line note when one failed. The chat screen feeds it; it never calls the engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.containers import Container, Vertical
from textual.content import Content
from textual.widget import Widget
from textual.widgets import ProgressBar, Static

EMPTY = "No scene yet. After a turn the Visual Director's prompt appears here."


def prepare_terminal_images() -> None:
    """Detect the terminal's graphics support (Sixel, Kitty) before Textual takes the terminal.

    textual-image asks the terminal once, when imported; after the app has started the answer
    would be lost to Textual's input thread. `qualia play` calls this just before ``app.run()``.
    """
    import textual_image.widget  # noqa: F401


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


class SceneView(Vertical):
    """One scene image file, drawn in the terminal, with its place and time under it (the file
    name when they are unknown; the file path is in the tooltip)."""

    def __init__(self, path: Path, *, message_id: int | None = None, caption: str = "") -> None:
        super().__init__(id="scene-view")
        self.path = path
        self.message_id = message_id
        self.caption = caption
        self.tooltip = str(path)

    def compose(self) -> ComposeResult:
        from textual_image.widget import Image  # heavy: only when a picture is shown

        yield Image(str(self.path), id="scene-picture")
        yield Static(self.caption or self.path.name, id="scene-caption", markup=False)


class ImagePane(Vertical):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.image: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield Static("Scene", classes="pane-title")
        yield ProgressBar(total=100, show_eta=False, id="image-progress")
        yield Static(id="image-note", markup=False)
        with Container(id="image-slot"):
            yield PromptView(prompt_content(None), id="image-prompt")

    # -- what is shown ----------------------------------------------------------------------

    @property
    def scene(self) -> SceneView | None:
        """The picture on show (None while the pane shows the prompt)."""
        found = self.query(SceneView)
        return found.first() if found else None

    def show_prompt(self, image: dict[str, Any] | None) -> None:
        """Show the Visual Director's prompt (a dict with prompt, negative_prompt, framing…)."""
        self.image = image
        for view in self.query(PromptView):
            view.update(prompt_content(image))

    async def show_image(
        self, path: Path | None, message_id: int | None = None, caption: str = ""
    ) -> None:
        """Show the picture at ``path``; None goes back to the prompt (the branch has none)."""
        scene = self.scene
        if path is None:
            if scene is not None:
                await self.set_body(PromptView(prompt_content(self.image), id="image-prompt"))
            return
        if scene is not None and scene.path == path:
            scene.message_id = message_id
            return
        await self.set_body(SceneView(path, message_id=message_id, caption=caption))
        self.tooltip = (self.image or {}).get("prompt") or None

    async def set_body(self, widget: Widget) -> None:
        """Put ``widget`` (e.g. the scene image) in the slot instead of what is there."""
        slot = self.query_one("#image-slot", Container)
        await slot.remove_children()
        await slot.mount(widget)

    # -- drawing ----------------------------------------------------------------------------

    def drawing(self, percent: float | None) -> None:
        """A picture is being drawn (``percent`` done); None: nothing is being drawn."""
        bar = self.query_one("#image-progress", ProgressBar)
        bar.set_class(percent is not None, "-active")
        if percent is not None:
            bar.update(progress=max(0.0, min(100.0, percent)))
            self.note("")

    def note(self, text: str, full: str = "") -> None:
        """A one-line note under the title (a failed picture); empty hides it. ``full`` (the
        whole reason, cut on screen) shows on hover."""
        note = self.query_one("#image-note", Static)
        note.update(text)
        note.set_class(bool(text), "-active")
        note.tooltip = (full or text) or None
