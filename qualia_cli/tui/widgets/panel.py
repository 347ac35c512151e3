"""The partner panel: who she is, her mood, a bar per stat with its last change, where, when."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import ProgressBar, Static

from qualia_cli.tui.view import PartnerView, StatView


def stat_label(stat: StatView) -> Content:
    parts: list[str | tuple[str, str]] = [(stat.name, "bold"), f"  {stat.value}"]
    if stat.delta:
        sign = "+" if stat.delta > 0 else "−"
        style = "bold $success" if stat.delta > 0 else "bold $error"
        parts.append((f"  {sign}{abs(stat.delta)}", style))
    return Content.assemble(*parts)


class StatBar(Vertical):
    def __init__(self, stat: StatView) -> None:
        super().__init__(classes="stat")
        self.stat = stat

    def compose(self) -> ComposeResult:
        yield Static(stat_label(self.stat), classes="stat-label")
        yield ProgressBar(
            total=max(1, self.stat.high - self.stat.low),
            show_eta=False,
            show_percentage=False,
        )

    def on_mount(self) -> None:
        self.show(self.stat)

    def show(self, stat: StatView) -> None:
        self.stat = stat
        self.tooltip = stat.description
        self.query_one(".stat-label", Static).update(stat_label(stat))
        bar = self.query_one(ProgressBar)
        bar.update(total=max(1, stat.high - stat.low), progress=stat.value - stat.low)


class PartnerPanel(Vertical):
    def compose(self) -> ComposeResult:
        yield Static(id="partner-name")
        yield Static(id="partner-role")
        yield Static(id="partner-mood")
        yield Vertical(id="stats")
        yield Static(id="partner-where")

    async def show(self, partner: PartnerView) -> None:
        self.query_one("#partner-name", Static).update(Content(partner.name))
        self.query_one("#partner-role", Static).update(Content(partner.occupation))
        self.query_one("#partner-mood", Static).update(
            Content.assemble(("mood ", "dim"), (partner.mood or "—", "bold $accent"))
        )
        where = [("where ", "dim"), partner.location or "—", "\n", ("when  ", "dim"), partner.time]
        self.query_one("#partner-where", Static).update(Content.assemble(*where))
        box = self.query_one("#stats", Vertical)
        bars = list(box.query_children(StatBar))
        if [b.stat.name for b in bars] == [s.name for s in partner.stats]:
            for bar, stat in zip(bars, partner.stats, strict=True):
                bar.show(stat)
        else:
            await box.remove_children()
            await box.mount_all([StatBar(s) for s in partner.stats])

    def bar(self, name: str) -> StatBar:
        return next(b for b in self.query(StatBar) if b.stat.name == name)
