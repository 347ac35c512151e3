"""The one-line partner status shown instead of the side panel on narrow terminals."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from qualia_cli.tui.view import PartnerView


def brief_content(partner: PartnerView) -> Content:
    """'Maren · calm · affection 42 +3 · trust 30 · lamp room, evening' (cut at the edge)."""
    parts: list[str | tuple[str, str]] = [(partner.first_name, "bold $primary")]
    if partner.mood:
        parts += [(" · ", "dim"), (partner.mood, "$accent")]
    for stat in partner.stats:
        parts += [(" · ", "dim"), f"{stat.name} {stat.value}"]
        if stat.delta:
            sign, style = ("+", "bold $success") if stat.delta > 0 else ("−", "bold $error")
            parts.append((f" {sign}{abs(stat.delta)}", style))
    where = ", ".join(p for p in (partner.location, partner.time) if p)
    if where:
        parts += [(" · ", "dim"), (where, "dim")]
    return Content.assemble(*parts)


class PartnerBrief(Static):
    """Stats, mood and place in one line; ctrl+g opens the whole panel."""

    def show(self, partner: PartnerView) -> None:
        self.update(brief_content(partner))
        self.tooltip = "ctrl+g shows the whole panel"
