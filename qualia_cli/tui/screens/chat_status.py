"""The chat screen's status line while a turn runs: its stage and elapsed time, "cancelling…" at
once on esc, and the scene picture's progress. Mixed into ``ChatScreen`` (screens/chat.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.timer import Timer

from qualia_cli.engine import events as ev
from qualia_cli.tui.stage import TurnStage
from qualia_cli.tui.widgets.log import ChatLog

if TYPE_CHECKING:
    from textual.screen import Screen

    from qualia_cli.tui.view import SessionView

    _Base = Screen[None]
else:
    _Base = object


class TurnStatus(_Base):
    if TYPE_CHECKING:
        session_view: SessionView | None

        @property
        def chat_log(self) -> ChatLog: ...

        def set_status(self, text: str = "") -> None: ...

    _stage: TurnStage | None = None
    _stage_timer: Timer | None = None
    _stage_shown = False  # the status line holds a stage text (cleared when it ends)

    @property
    def stage(self) -> TurnStage:
        if self._stage is None:
            self._stage = TurnStage()
        return self._stage

    def _stage_begin(self) -> None:
        self.stage.partner = self.session_view.partner.name if self.session_view else ""
        self.stage.begin()
        if self._stage_timer is None:
            self._stage_timer = self.set_interval(0.5, self._render_stage)
        self._stage_timer.resume()
        self._render_stage()

    def _stage_track(self, event: ev.Event) -> None:
        self.stage.track(event)
        if self.stage.stage is None:
            self._stage_stop()
        self._render_stage()

    def _stage_cancelling(self) -> None:
        self.stage.cancelling()
        self._render_stage()

    def _stage_end(self) -> None:
        self.stage.end()
        self._stage_stop()
        self._render_stage()

    def _stage_drawing(self, percent: float | None) -> None:
        self.stage.drawing = percent
        self._render_stage()

    def _stage_stop(self) -> None:
        if self._stage_timer is not None:
            self._stage_timer.pause()

    def _render_stage(self) -> None:
        """One place for it: in the reply's slot until her first words stream in, then (and for
        the picture) in the status line."""
        text = self.stage.text()
        typing = self.chat_log.typing
        in_slot = typing is not None and not typing.text and self.stage.stage is not None
        if in_slot and typing is not None:
            typing.set_stage(text)
        line = "" if in_slot else text
        if line or self._stage_shown:
            self.set_status(line)
        self._stage_shown = bool(line)
