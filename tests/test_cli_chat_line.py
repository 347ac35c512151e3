"""`qualia chat` as a real child process: errors on stderr (the story alone on stdout), the opening
on one line over a pipe, and readline editing with ↑ history on a pseudo-terminal.

Each test starts `qualia chat` in a child process against the OpenAI stub server on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.openai_stub import StubServer


def env_for(stub: StubServer, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "QUALIA_MODELS__DEFAULT": "stub/m",
        "QUALIA_ENDPOINTS": json.dumps(
            {"stub": {"base_url": stub.base_url}, "dead": {"base_url": "http://127.0.0.1:9/v1"}}
        ),
        "QUALIA_MAX_RETRIES": "0",
        **extra,
    }


def test_agent_errors_go_to_stderr_and_the_opening_is_one_line(qualia_home: Path) -> None:
    with StubServer(delay_s=0.0) as stub:
        out = subprocess.run(
            [sys.executable, "-m", "qualia_cli", "chat", "fogbound_archive", "--no-images"],
            input="Hello there\n/quit\n",
            capture_output=True,
            text=True,
            timeout=180,
            env=env_for(stub, QUALIA_MODELS__STRATEGIST="dead/m"),
        )
    assert out.returncode == 0, out.stderr
    assert "strategist unavailable" in out.stderr and "Cannot reach" in out.stderr
    assert "unavailable" not in out.stdout, "stdout carries the story only"
    assert "Maren Voss: Hello there, stranger." in out.stdout
    opening = next(line for line in out.stdout.splitlines() if line.startswith("Rain drums"))
    assert opening.endswith("before she speaks."), "one line, not hard-wrapped at 80 columns"
    assert not [line for line in out.stdout.splitlines() if line.endswith(" ")]


def _read_until(fd: int, pattern: str, timeout: float = 90.0) -> str:
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
            if re.search(pattern, seen.decode("utf-8", "replace")):
                return seen.decode("utf-8", "replace")
    raise AssertionError(f"no {pattern!r} in {seen.decode('utf-8', 'replace')[-2000:]!r}")


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_up_arrow_recalls_the_last_line_on_a_terminal(qualia_home: Path) -> None:
    import pty

    with StubServer(delay_s=0.0) as stub:
        main, child = pty.openpty()
        proc = subprocess.Popen(
            [sys.executable, "-m", "qualia_cli", "chat", "fogbound_archive", "--no-images"],
            stdin=child,
            stdout=child,
            stderr=child,
            env=env_for(stub, COLUMNS="80", LINES="24", TERM="xterm"),
            close_fds=True,
        )
        os.close(child)
        try:
            _read_until(main, r"> ")
            os.write(main, b"Hello lamp room\r")
            _read_until(main, r"stranger\.[\s\S]*> ")
            os.write(main, b"\x1b[A")  # ↑: the line sent before, ready to edit
            echoed = _read_until(main, r"Hello lamp room")
            assert "^[[A" not in echoed
            os.write(main, b"\x7f\x7f\x7f\x7fhall\r")  # backspace ×4, then edit the end
            _read_until(main, r"stranger\.[\s\S]*> ")
            said = [json.dumps(r) for r in stub.requests]
            assert any("Hello lamp hall" in r for r in said), "the edited line was sent"
            os.write(main, b"/quit\r")
            _read_until(main, r"resume with")
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
            os.close(main)
    history = (qualia_home / "data" / "chat_history").read_text(encoding="utf-8")
    assert "Hello lamp room" in history and "Hello lamp hall" in history
