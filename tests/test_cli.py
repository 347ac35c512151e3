"""The `qualia` command as a user runs it: a real process, a temporary QUALIA_HOME."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.cli import qualia

BAD = Path(__file__).parent / "data" / "scenarios_bad"


def test_help_lists_every_command() -> None:
    out = qualia("--help")
    assert out.returncode == 0
    for command in ("new", "say", "chat", "sessions", "scenarios", "models", "doctor"):
        assert command in out.stdout


def test_new_then_say_json_on_the_embedded_model(qualia_home: Path) -> None:
    created = qualia("new", "scenarios/fogbound_archive.yaml", "--json")
    assert created.returncode == 0, created.stderr
    session_id = json.loads(created.stdout)["session"]["id"]
    events = qualia_home / "turn.jsonl"
    said = qualia("say", session_id[:6], "Hello, Maren.", "--json", "--events", str(events))
    assert said.returncode == 0, said.stderr
    turn = json.loads(said.stdout)
    assert turn["ok"] and turn["reply"]
    assert set(turn["state_after"]["stats"]) == {"trust", "affection", "clues"}
    assert {a["agent"] for a in turn["agents"]} == {"director", "partner", "visual", "strategist"}
    if turn["visual"]:
        assert "copper hair" in turn["visual"]["prompt"]  # her stable appearance tags
    lines = [json.loads(x) for x in events.read_text().splitlines()]
    turn_events = [x for x in lines if not x["type"].startswith("image_")]  # pictures come after
    kinds = [x["type"] for x in turn_events]
    assert kinds[0] == "turn_started" and kinds[-1] == "extras_committed"
    # her reply is saved first; the JSON still has the whole turn (the extras were awaited)
    assert kinds.index("turn_committed") < kinds.index("extras_committed")
    assert 0 < turn["reply_ms"] <= turn["wall_ms"]
    if "suggestions_ready" in kinds:
        assert kinds.index("turn_committed") < kinds.index("suggestions_ready")
        assert turn["suggestions"]
    shown = qualia("sessions", "show", session_id, "--json")
    data = json.loads(shown.stdout)
    assert data["messages"][-1]["content"]["dialogue"] == turn["reply"]
    assert len(data["agent_calls"]) == 4
    listed = json.loads(qualia("sessions", "list", "--json").stdout)
    assert listed[0]["id"] == session_id and listed[0]["turns"] == 1


def test_chat_over_a_pipe(qualia_home: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "qualia_cli", "chat", "second_shelf"],
        input="/state\n/quit\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "affection" in out.stdout and "resume with: qualia chat --session" in out.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["new", str(BAD / "unknown_key_top.yaml")], "unknown_key_top.yaml:"),
        (["new", "no_such_scenario"], "no_such_scenario"),
        (["say", "zzzz", "hi"], "zzzz"),
        (["new", "fogbound_archive", "--model", "nowhere/x"], "unknown model provider"),
    ],
)
def test_user_errors_are_one_line_exit_2(args: list[str], needle: str) -> None:
    out = qualia(*args)
    assert out.returncode == 2, (out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("error: ") and needle in lines[0]
    assert "Traceback" not in out.stderr


def test_debug_shows_the_traceback() -> None:
    out = qualia("--debug", "say", "zzzz", "hi")
    assert out.returncode != 0 and "Traceback" in out.stderr


def test_missing_key_is_reported_without_leaking(qualia_home: Path) -> None:
    out = qualia(
        "new",
        "fogbound_archive",
        "--model",
        "openrouter/openai/gpt-4o-mini",
        env={"OPENROUTER_API_KEY": ""},
    )
    assert out.returncode == 2 and "OPENROUTER_API_KEY" in out.stderr


def test_models_masks_keys(qualia_home: Path) -> None:
    secret = "sk-or-v1-canary0123456789abcdef"
    out = qualia(
        "models",
        "--json",
        env={"OPENROUTER_API_KEY": secret, "QUALIA_MODELS__PARTNER": "openrouter/x/y"},
    )
    assert out.returncode == 0, out.stderr
    assert secret not in out.stdout
    partner = next(r for r in json.loads(out.stdout) if r["agent"] == "partner")
    assert partner["key_present"] is True and partner["key_masked"]


def test_doctor_checks_the_embedded_model(qualia_home: Path) -> None:
    out = qualia("doctor", "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    checks = {c["check"]: c for c in json.loads(out.stdout)}
    assert checks["model local/smollm2"]["ok"]
    assert checks["database"]["ok"] and checks["scenarios"]["detail"].startswith("3 ok")


def test_doctor_fails_on_an_unreachable_endpoint(qualia_home: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = qualia(
        "doctor",
        "--json",
        env={
            "QUALIA_MODELS__DEFAULT": "gone/x",
            "QUALIA_ENDPOINTS": json.dumps({"gone": {"base_url": f"http://127.0.0.1:{port}/v1"}}),
            "QUALIA_MAX_RETRIES": "0",
        },
    )
    assert out.returncode == 1
    check = next(c for c in json.loads(out.stdout) if c["check"] == "model gone/x")
    assert not check["ok"] and "reach" in check["detail"]


def test_chat_plays_turns_and_picks_a_suggestion_over_a_pipe(qualia_home: Path) -> None:
    from support.openai_stub import StubServer

    with StubServer(delay_s=0.0) as stub:
        out = subprocess.run(
            [sys.executable, "-m", "qualia_cli", "chat", "fogbound_archive"],
            input="Hello there\n2\n/quit\n",
            capture_output=True,
            text=True,
            timeout=120,
            env={
                **os.environ,
                "QUALIA_MODELS__DEFAULT": "stub/m",
                "QUALIA_ENDPOINTS": json.dumps({"stub": {"base_url": stub.base_url}}),
            },
        )
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("Maren Voss: Hello there, stranger.") == 2
    assert "You: Offer to help." in out.stdout  # suggestion 2 of the first turn
    assert "1. Ask about the rain." in out.stdout
    listed = json.loads(qualia("sessions", "list", "--json").stdout)
    assert listed[0]["turns"] == 2
