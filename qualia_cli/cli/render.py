"""Plain-terminal rendering of sessions and turns (used by `say` and `chat`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TextIO

from rich.console import Console
from rich.markup import escape

from qualia_cli.textsafe import one_line, printable

if TYPE_CHECKING:
    from qualia_cli.engine import Event


def render_message(console: Console, sender: str, content: dict[str, Any], partner: str) -> None:
    from qualia_cli.engine import PartnerLine, Sender, line_text, speaker_name

    if sender == Sender.PARTNER:
        line = PartnerLine.from_json(content)
        prefix = f"[dim]({escape(line.action)})[/] " if line.action else ""
        who = escape(speaker_name(sender, partner))
        console.print(f"[bold magenta]{who}:[/] {prefix}{escape(line.dialogue)}")
        return
    text = escape(line_text(sender, content))
    if sender == Sender.NARRATOR:
        console.print(f"[italic dim]{text}[/]")
    elif sender == Sender.PLAYER:
        console.print(f"[bold cyan]{speaker_name(sender, partner)}:[/] {text}")
    else:
        console.print(f"[yellow]{text}[/]")


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
        self.text = ""

    def delta(self, text: str) -> None:
        if not self.started:
            self.out.write(f"{one_line(self.name)}: ")
            self.started = True
        self.out.write(printable(text))
        self.text += text
        self.out.flush()

    def finish(self) -> None:
        if self.started:
            self.out.write("\n")
            self.out.flush()
        self.started = False
        self.text = ""


class TurnPrinter:
    """Renders a turn's events on a plain terminal: narration, streamed reply, state, moves."""

    def __init__(self, console: Console, out: TextIO, name: str) -> None:
        self.console = console
        self.stream = StreamPrinter(out, name)

    def show(self, event: Event) -> None:
        from qualia_cli.engine import events as ev

        c = self.console
        if isinstance(event, ev.DirectorPlanned) and event.plan.get("narration"):
            c.print(f"[italic dim]{escape(event.plan['narration'])}[/]")
        elif isinstance(event, ev.PartnerDelta):
            self.stream.delta(event.delta)
        elif isinstance(event, ev.PartnerMessage):
            if self.stream.started and self.stream.text.strip() != event.dialogue.strip():
                # the streamed draft was retried or trimmed: show what was actually kept
                self.stream.finish()
                c.print("(corrected)", style="dim", markup=False)
            if not self.stream.started:
                self.stream.delta(event.dialogue)
            self.stream.finish()
            if event.action:
                c.print(f"[dim]({escape(event.action)})[/]")
        elif isinstance(event, ev.StateChanged):
            c.print(f"[dim]{escape(state_line(event.after, event.deltas))}[/]")
        elif isinstance(event, ev.SuggestionsReady):
            for line in suggestions_block(event.suggestions):
                c.print(line, markup=False, highlight=False)
        elif isinstance(event, ev.AgentError):
            self.stream.finish()
            c.print(
                f"({event.agent} unavailable: {event.message})",
                markup=False,
                style="yellow",
                soft_wrap=True,  # one line: never wrapped at 80 columns
            )
        elif isinstance(event, ev.EndingReached):
            c.print(f"[bold green]Ending reached: {escape(event.title)}[/]")
        elif isinstance(event, ev.TurnFailed):
            c.print("the turn failed and was not saved; try again", markup=False, style="red")

    def abort(self) -> None:
        self.stream.finish()
