"""`qualia chat` on a terminal and over a pipe: word-wrapped streaming, no trailing spaces, no
hard wraps in pipes, errors on stderr, line editing with history."""

from __future__ import annotations

import io

from rich.console import Console

from qualia_cli.cli.line_mode import WrappedStream, WrappedStreamPrinter, print_clean
from qualia_cli.cli.render import render_message

OPENING = (
    "Rain drums on the tall windows of the Greyhaven archive. The reading room smells of dust, "
    "wet wool and lamp oil."
)


def test_streamed_words_never_break_at_the_edge() -> None:
    out = io.StringIO()
    stream = WrappedStream(out, width=20, column=7)
    for piece in ["Hello th", "ere, stran", "ger. Come in out of the r", "ain."]:
        stream.write(piece)
    stream.finish()
    lines = out.getvalue().split("\n")
    assert lines == ["Hello there,", "stranger. Come in", "out of the rain."]
    assert all(len(line) + (7 if i == 0 else 0) <= 20 for i, line in enumerate(lines))


def test_a_word_longer_than_the_line_still_prints_whole() -> None:
    out = io.StringIO()
    stream = WrappedStream(out, width=10)
    stream.write("a supercalifragilistic b")
    stream.finish()
    assert out.getvalue() == "a\nsupercalifragilistic\nb"


def test_the_printer_streams_as_is_over_a_pipe() -> None:
    out = io.StringIO()  # not a terminal: no wrapping at all
    printer = WrappedStreamPrinter(out, "Maren")
    printer.delta("Hello there, ")
    printer.delta("stranger.")
    assert printer.text == "Hello there, stranger."
    printer.finish()
    assert out.getvalue() == "Maren: Hello there, stranger.\n"


def test_messages_keep_one_line_over_a_pipe() -> None:
    out = io.StringIO()
    console = Console(file=out, width=40)  # a file: not a terminal
    print_clean(console, lambda c: render_message(c, "narrator", {"text": OPENING}, "Maren"))
    assert out.getvalue() == OPENING + "\n"


def test_wrapped_messages_lose_their_trailing_spaces_on_a_terminal() -> None:
    out = io.StringIO()
    console = Console(file=out, width=40, force_terminal=True, color_system="standard")
    print_clean(console, lambda c: render_message(c, "narrator", {"text": OPENING}, "Maren"))
    text = out.getvalue()
    lines = text.rstrip("\n").split("\n")
    assert len(lines) > 2, "wrapped to the terminal"
    for line in lines:
        plain = line.replace("\x1b[0m", "").replace("\x1b[2;3m", "")
        assert not plain.endswith(" "), repr(line)
