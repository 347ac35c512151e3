"""Plain-terminal rendering of turn events."""

from __future__ import annotations

import io

from rich.console import Console

from qualia_cli.cli.render import TurnPrinter
from qualia_cli.engine import events as ev


def render(events: list[ev.Event]) -> str:
    out = io.StringIO()
    printer = TurnPrinter(Console(file=out, width=200, no_color=True), out, "Mira")
    for e in events:
        printer.show(e)
    return out.getvalue()


def message(dialogue: str) -> ev.PartnerMessage:
    return ev.PartnerMessage(
        "t", name="Mira", dialogue=dialogue, action="", mood="happy", narration=""
    )


def test_streamed_reply_is_printed_once() -> None:
    text = render(
        [
            ev.PartnerDelta("t", delta="Hel", text="Hel"),
            ev.PartnerDelta("t", delta="lo.", text="Hello."),
            message("Hello."),
        ]
    )
    assert text.count("Hello.") == 1 and text.startswith("Mira: Hello.")


def test_a_retried_reply_replaces_the_streamed_draft() -> None:
    text = render([ev.PartnerDelta("t", delta="garb", text="garb"), message("Clean answer.")])
    assert "(corrected)" in text and text.rstrip().endswith("Mira: Clean answer.")


def test_agent_errors_and_model_text_are_not_markup() -> None:
    text = render([ev.AgentError("t", agent="visual", code="x", message="[bold]oops[/]")])
    assert "[bold]oops[/]" in text
