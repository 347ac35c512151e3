"""The turn trace: the Director's plan and, per agent, model, timing, tokens and raw output."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Collapsible, DataTable, Static

from qualia_cli.engine import TurnTrace, context_lines


def plan_content(plan: dict[str, object]) -> Content:
    if not plan:
        return Content.assemble(("(no plan recorded)", "dim"))
    parts: list[str | tuple[str, str]] = []
    for key, value in plan.items():
        if isinstance(value, list):
            value = "; ".join(
                f"{v.get('key')}: {v.get('value')}" if isinstance(v, dict) else str(v)
                for v in value
            )
        parts += [(f"{key:<17}", "bold"), str(value) if value not in (None, "") else "—", "\n"]
    return Content.assemble(*parts[:-1])


def duration(ms: float) -> str:
    return f"{ms:.0f} ms" if ms < 10_000 else f"{ms / 1000:.1f} s"


class TraceScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "close", "Close")]

    def __init__(self, trace: TurnTrace) -> None:
        super().__init__()
        self.trace = trace

    def compose(self) -> ComposeResult:
        t = self.trace
        with VerticalScroll(classes="dialog -wide -tall"):
            yield Static(
                Content.assemble(("Turn trace  ", "bold"), (f"“{t.player_text}”", "italic")),
                classes="dialog-title",
            )
            wall = duration(t.wall_ms) if t.wall_ms else "—"
            yield Static(
                f"turn {t.turn_id} · {wall} · {t.prompt_tokens:,} prompt + "
                f"{t.completion_tokens:,} completion tokens",
                classes="hint",
            )
            yield Static("Director's plan", classes="section-title")
            yield Static(plan_content(t.plan), id="trace-plan")
            yield Static("Agent calls", classes="section-title")
            yield DataTable(id="trace-calls", cursor_type="row", zebra_stripes=True)
            for call in t.calls:
                title = f"{call.agent} · {call.model} · raw output"
                with Collapsible(title=title, collapsed=call.ok, classes="raw"):
                    if call.context:
                        text = "\n".join(context_lines(call.context))
                        yield Static(Content.assemble(("context  ", "bold"), text))
                    if call.error:
                        yield Static(Content.assemble(("error: ", "bold $error"), call.error))
                    if call.reasoning:  # a reasoning model's thinking, never part of the output
                        yield Static(Content.assemble(("reasoning  ", "bold"), call.reasoning))
                    yield Static(Content(call.pretty_output or "(no output)"), classes="raw-text")

    def on_mount(self) -> None:
        table = self.query_one("#trace-calls", DataTable)
        table.add_columns(
            "agent", "model", "ok", "start", "latency", "tokens in/out", "context", "fixes"
        )
        for c in self.trace.calls:
            table.add_row(
                c.agent,
                c.model,
                _status(c.ok, c.error),
                duration(c.started_ms),
                duration(c.latency_ms),
                f"{c.prompt_tokens}/{c.completion_tokens}",
                f"{c.context.get('total')}/{c.context.get('budget')}" if c.context else "—",
                f"{c.repairs} repair, {c.retries} retry",
            )

    def action_close(self) -> None:
        self.dismiss(None)


def _status(ok: bool, error: str | None) -> str:
    """yes / FAILED, or what the player did to the call (stopped her, or a dropped extra)."""
    if error and error.startswith(("stopped by the player", "dropped:")):
        return "stopped" if error.startswith("stopped") else "dropped"
    return "yes" if ok else "FAILED"
