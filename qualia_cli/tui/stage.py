"""What the running turn is doing, for the status line: "planning… 3 s", "Maren is answering… 5 s",
"the scene and your next moves… 7 s", "cancelling…", "drawing the scene 40 %".

Plain state fed with engine events (no Textual here); the chat screen renders ``text()`` into its
status line on a timer while a turn runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from qualia_cli.engine import events as ev


class TurnStage:
    def __init__(self, partner: str = "", clock: Callable[[], float] = time.monotonic) -> None:
        self.partner = partner
        self.clock = clock
        self.stage: str | None = None  # None: no turn running
        self.started = 0.0
        self.drawing: float | None = None  # % of the scene picture being drawn

    @property
    def first_name(self) -> str:
        return self.partner.split()[0] if self.partner.strip() else "She"

    def begin(self) -> None:
        self.stage, self.started = "planning", self.clock()

    def track(self, event: ev.Event) -> None:
        if isinstance(event, ev.TurnStarted):
            self.stage = "planning"
        elif isinstance(event, ev.DirectorPlanned | ev.PartnerDelta):
            self.stage = "answering" if self.stage != "cancelling" else self.stage
        elif isinstance(event, ev.PartnerMessage):
            self.stage = "extras" if self.stage != "cancelling" else self.stage
        elif isinstance(event, ev.TurnCommitted | ev.TurnFailed):
            self.stage = None

    def cancelling(self) -> None:
        if self.stage is not None:
            self.stage = "cancelling"

    def end(self) -> None:
        self.stage = None

    def text(self) -> str:
        """The status line ("" when nothing runs)."""
        parts = []
        if self.stage is not None:
            seconds = f" {self.clock() - self.started:.0f} s"
            parts.append(
                {
                    "planning": f"planning the scene…{seconds}",
                    "answering": f"{self.first_name} is answering…{seconds}",
                    "extras": f"the scene, her state and your next moves…{seconds}",
                    "cancelling": "cancelling… (what is not stored is dropped)",
                }[self.stage]
            )
        if self.drawing is not None:
            parts.append(f"drawing the scene {self.drawing:.0f} %")
        return " · ".join(parts)
