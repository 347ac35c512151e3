"""Plain-terminal rendering of sessions and turns (used by `say` and `chat`)."""

from __future__ import annotations

from typing import Any, TextIO

from rich.console import Console
from rich.markup import escape


def render_message(console: Console, sender: str, content: dict[str, Any], partner: str) -> None:
    if sender == "narrator":
        console.print(f"[italic dim]{escape(str(content.get('text', '')))}[/]")
    elif sender == "player":
        console.print(f"[bold cyan]You:[/] {escape(str(content.get('text', '')))}")
    elif sender == "partner":
        action = str(content.get("action") or "")
        prefix = f"[dim]({escape(action)})[/] " if action else ""
        dialogue = escape(str(content.get("dialogue", "")))
        console.print(f"[bold magenta]{escape(partner)}:[/] {prefix}{dialogue}")
    else:
        console.print(f"[yellow]{escape(str(content.get('text', '')))}[/]")


def state_line(state: dict[str, Any], deltas: dict[str, int] | None = None) -> str:
    deltas = deltas or {}
    stats = []
    for name, value in state.get("stats", {}).items():
        d = deltas.get(name)
        stats.append(f"{name} {value}" + (f" ({d:+d})" if d else ""))
    where = ", ".join(x for x in (state.get("location"), state.get("time")) if x)
    return f"[{state.get('mood', '')}] " + " · ".join(stats) + (f" — {where}" if where else "")


def suggestions_block(suggestions: list[dict[str, str]]) -> list[str]:
    return [
        f"  {i}. {s.get('text', '')}" + (f"  [{s['intent']}]" if s.get("intent") else "")
        for i, s in enumerate(suggestions, start=1)
    ]


class StreamPrinter:
    """Prints the partner's streamed dialogue as it arrives, then closes the line."""

    def __init__(self, out: TextIO, name: str) -> None:
        self.out = out
        self.name = name
        self.started = False

    def delta(self, text: str) -> None:
        if not self.started:
            self.out.write(f"{self.name}: ")
            self.started = True
        self.out.write(text)
        self.out.flush()

    def finish(self) -> None:
        if self.started:
            self.out.write("\n")
            self.out.flush()
        self.started = False
