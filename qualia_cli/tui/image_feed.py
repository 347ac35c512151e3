"""The app's one long-lived image worker: engine image events in, `ImageEvent` messages out.

It subscribes to ``engine.pictures.subscribe()`` when the app mounts and posts every event to the
app, which hands it to the chat screens; it is cancelled (and unsubscribes) when the app quits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.worker import Worker

from qualia_cli.tui import messages as msg

if TYPE_CHECKING:
    from textual.app import App

    from qualia_cli.engine import Engine


class ImageFeed:
    def __init__(self, app: App[None], engine: Engine) -> None:
        self.app = app
        self.engine = engine
        self.worker: Worker[None] | None = None

    def start(self) -> None:
        if self.worker is None:
            self.worker = self.app.run_worker(
                self._follow(), name="image events", group="images", exit_on_error=False
            )

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.worker = None

    async def _follow(self) -> None:
        queue = self.engine.pictures.subscribe()
        try:
            while True:
                event = await queue.get()
                self.app.post_message(msg.ImageEvent(event))
        finally:
            self.engine.pictures.unsubscribe(queue)
