"""`qualia play` as a command: argument errors are one line and exit 2; it needs a terminal."""

from __future__ import annotations

from pathlib import Path

from support.cli import qualia


def test_play_is_listed_first_in_help() -> None:
    out = qualia("--help")
    assert out.returncode == 0
    assert "play" in out.stdout
    assert out.stdout.index(" play ") < out.stdout.index(" chat ")


def test_unknown_session_is_one_line_exit_2(qualia_home: Path) -> None:
    out = qualia("play", "--session", "nope")
    assert out.returncode == 2
    assert out.stderr.strip() == "error: no session id starts with 'nope'"


def test_unknown_scenario_is_one_line_exit_2(qualia_home: Path) -> None:
    out = qualia("play", "no_such_scenario")
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1 and "no_such_scenario" in out.stderr


def test_without_a_terminal_it_points_to_chat_and_creates_nothing(qualia_home: Path) -> None:
    out = qualia("play", "fogbound_archive")
    assert out.returncode == 2
    assert "qualia chat" in out.stderr
    listed = qualia("sessions", "list", "--json")
    assert listed.stdout.strip() == "[]"


def test_scenario_and_session_together_is_an_error(qualia_home: Path) -> None:
    out = qualia("play", "fogbound_archive", "--session", "abc")
    assert out.returncode == 2 and "not both" in out.stderr
