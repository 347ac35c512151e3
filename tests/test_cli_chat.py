"""`qualia chat` shows each turn's picture: a real process over a pipe, the OpenAI stub server
answering every agent and the offline sketch renderer drawing (no ComfyUI configured)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from support.openai_stub import StubServer

REPLY = "Maren Voss: Hello there, stranger."  # the stub's partner line, once per turn


def chat(stdin: str, *args: str) -> tuple[subprocess.CompletedProcess[str], str]:
    with StubServer(delay_s=0.0) as stub:
        out = subprocess.run(
            [sys.executable, "-m", "qualia_cli", "chat", "fogbound_archive", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=180,
            env={
                **os.environ,
                "QUALIA_MODELS__DEFAULT": "stub/m",
                "QUALIA_ENDPOINTS": json.dumps({"stub": {"base_url": stub.base_url}}),
            },
        )
    assert out.returncode == 0, out.stderr
    found = re.search(r"qualia chat --session (\w+)", out.stdout)
    assert found is not None, out.stdout
    return out, found.group(1)


def images_of(session_id: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        [sys.executable, "-m", "qualia_cli", "images", "list", session_id, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_each_chat_turn_prints_its_picture_before_the_next_prompt(qualia_home: Path) -> None:
    out, session_id = chat("Hello there\n2\n/quit\n")
    text = out.stdout
    pictures = [(m.start(), Path(m.group(1))) for m in re.finditer(r"picture: (\S+)", text)]
    assert len(pictures) == 3, text  # the opening, then one per turn
    first_reply = text.index(REPLY)
    second_reply = text.index(REPLY, first_reply + 1)
    opening, turn1, turn2 = pictures
    assert opening[0] < first_reply < turn1[0] < second_reply < turn2[0]
    assert text.index("You: Offer to help.") > turn1[0]  # the next turn only after the picture
    for _, path in pictures:
        assert path.is_file() and path.is_relative_to(qualia_home)
    rows = images_of(session_id)
    by_turn = [r for r in rows if r["turn_id"] != "opening"]
    assert [r["status"] for r in rows] == ["ready"] * 3
    assert [Path(r["path"]) for r in by_turn] == [turn1[1], turn2[1]]
    assert turn1[1] != opening[1]  # the turn's own scene (the second turn's is the same moment)


def test_no_images_draws_nothing_and_shows_no_picture(qualia_home: Path) -> None:
    out, session_id = chat("Hello there\n/quit\n", "--no-images")
    assert REPLY in out.stdout
    assert "picture" not in out.stdout + out.stderr
    assert images_of(session_id) == []
