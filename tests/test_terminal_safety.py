"""Issue 13.2 and 13.10: text from data never drives the terminal; errors are one line.

Model text, card fields, session titles and file names reach `say`, `chat`, `sessions show`
and `scenario import` through one sanitiser (qualia_cli.textsafe) applied by the CLI's
console and the stream printer; an error is one `error: …` line at any terminal width."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.table import Table

from qualia_cli.cli.common import SafeConsole, error_line
from qualia_cli.cli.render import TurnPrinter
from qualia_cli.engine import events as ev
from qualia_cli.textsafe import one_line, printable
from tests.support.cli import qualia

EVIL = "Ada\x1b]0;PWNED\x07\x1b[2J\x1b]52;c;ZXZpbA==\x07\x1b]8;;http://x\x1b\\link\u202e"


def _no_raw_controls(text: str) -> None:
    assert "\x1b]" not in text and "\x1b[2J" not in text and "\x07" not in text
    assert "\u202e" not in text


def test_printable_keeps_text_and_shows_controls() -> None:
    assert printable("plain\ttext\nnext") == "plain\ttext\nnext"
    assert printable("a\x1b[31mb\rc\x9bd") == "a\\x1b[31mb\\x0dc\\x9bd"
    assert one_line("two\nlines\t\u202eend") == "two lines \\u202eend"


def test_the_cli_console_shows_escapes_in_data_but_keeps_its_own_styles() -> None:
    out = io.StringIO()
    console = SafeConsole(file=out, force_terminal=True, width=80, color_system="standard")
    table = Table("title")
    table.add_row(EVIL)
    console.print(table)
    console.print(f"[bold]{EVIL}[/]", markup=True)
    text = out.getvalue()
    _no_raw_controls(text)
    assert "\\x1b]0;PWNED" in text
    assert "\x1b[1m" in text  # Rich's own bold still reaches the terminal


def test_streamed_model_text_and_events_are_sanitised() -> None:
    out = io.StringIO()
    console = SafeConsole(file=out, force_terminal=False, width=80)
    printer = TurnPrinter(console, out, EVIL)
    printer.show(ev.PartnerDelta("t", delta=EVIL, text=EVIL))
    printer.show(
        ev.PartnerMessage(
            "t", name=EVIL, dialogue=EVIL + "!", action=EVIL, mood="calm", narration=""
        )
    )
    _no_raw_controls(out.getvalue())


def test_error_line_is_one_line_with_no_controls() -> None:
    line = error_line(f"{EVIL}\nsecond line")
    assert line.startswith("error: Ada\\x1b]0;PWNED") and "\n" not in line
    _no_raw_controls(line)


def test_titles_and_card_names_from_strangers_reach_the_terminal_inert(tmp_path: Path) -> None:
    made = qualia("new", "fogbound_archive", "--no-images", "--title", EVIL, "--json")
    assert made.returncode == 0, made.stderr
    session_id = json.loads(made.stdout)["session"]["id"]
    for args in (["sessions", "show", session_id], ["sessions", "list"]):
        out = qualia(*args)
        assert out.returncode == 0, out.stderr
        _no_raw_controls(out.stdout)
        assert "PWNED" in out.stdout

    card = tmp_path / "card.json"
    card.write_text(json.dumps({"name": EVIL, "description": f"{EVIL} is a clerk."}))
    imported = qualia("scenario", "import", str(card), "--out", str(tmp_path / "s.yaml"))
    assert imported.returncode == 0, imported.stderr
    _no_raw_controls(imported.stdout + imported.stderr)
    bad = qualia("scenario", "validate", str(tmp_path / f"{EVIL}.yaml"))
    _no_raw_controls(bad.stdout + bad.stderr)


def test_a_long_error_is_not_wrapped_at_80_columns(tmp_path: Path) -> None:
    missing = tmp_path / ("a-rather-long-directory-name-" * 4) / "scenario.yaml"
    out = qualia("new", str(missing), env={"COLUMNS": "80"})
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and len(out.stderr) > 80, out.stderr


def test_stderr_messages_are_never_wrapped(capsys) -> None:  # type: ignore[no-untyped-def]
    from qualia_cli.cli.common import err_console

    long = "error: turn failed: " + "x" * 150 + " /a/long/path/script.play.yaml:12"
    err_console.print(long, markup=False)  # not a terminal: Rich would wrap at 80 columns
    assert capsys.readouterr().err == long + "\n"


def test_run_repeats_each_failure_location_on_one_line(capsys) -> None:  # type: ignore[no-untyped-def]
    from types import SimpleNamespace

    from qualia_cli.cli.run import _print_locations

    where = "/ci/checkout/" + "deep/" * 12 + "smoke.play.yaml:27"
    failed = SimpleNamespace(name="greets", error=None, failures=[f"{where} contains → 'x'"])
    crashed = SimpleNamespace(name="other", error=f"{where}: model for partner: bad", failures=[])
    result = SimpleNamespace(
        path=Path("smoke.play.yaml"), scenario="s", error=None, tests=[failed, crashed]
    )
    _print_locations([result])
    out = capsys.readouterr()
    assert f"FAILED smoke.play.yaml:greets: {where} contains → 'x'\n" in out.out
    assert out.err == f"error: {where}: model for partner: bad\n"
