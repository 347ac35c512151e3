"""`qualia chat` at a terminal (scripted model): the prompt comes back as soon as her reply is
saved, the suggestions follow above it; ctrl+c (a real SIGINT) mid-reply keeps what streamed,
ctrl+c at the prompt leaves with the turn saved."""

from __future__ import annotations

import io
import os
import signal
import sys
import threading
import time
from collections.abc import Callable

import pytest
from fakes import ScriptedProvider
from support.engine import Engines, make_engine

from qualia_cli.cli import chat as chat_cli
from qualia_cli.engine import Engine

REPLY = "Hello there, stranger. Come in out of the rain."


class Terminal:
    """stdout and a fake `input()`: each answer is a function of the screen so far."""

    def __init__(self, answers: list[Callable[[Terminal], str | None]]) -> None:
        self.screen = io.StringIO()
        self.lock = threading.Lock()
        self.answers = answers
        self.seen_at_prompt: list[str] = []  # the screen each time a prompt appeared

    def write(self, text: str) -> int:
        with self.lock:
            return self.screen.write(text)

    def flush(self) -> None:
        return None

    def isatty(self) -> bool:
        return True

    @property
    def text(self) -> str:
        with self.lock:
            return self.screen.getvalue()

    def wait_for(self, needle: str, timeout: float = 15.0) -> bool:
        deadline = time.monotonic() + timeout
        while needle not in self.text:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def input(self, prompt: str = "") -> str:
        self.seen_at_prompt.append(self.text)
        self.write(prompt)
        if not self.answers:
            raise EOFError
        answer = self.answers.pop(0)(self)
        if answer is None:
            raise EOFError
        self.write(answer + "\n")
        return answer


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Terminal]:
    def make(answers: list[Callable[[Terminal], str | None]]) -> Terminal:
        term = Terminal(answers)
        monkeypatch.setattr(sys, "stdout", term)
        monkeypatch.setattr(sys, "stdin", term)
        monkeypatch.setattr("builtins.input", term.input)
        return term

    return make


def say(text: str) -> Callable[[Terminal], str]:
    return lambda term: text


async def run_chat(monkeypatch: pytest.MonkeyPatch, provider: ScriptedProvider) -> Engine:
    engine = make_engine(provider)
    monkeypatch.setattr(chat_cli, "make_engine", lambda **_: engine)
    await chat_cli._chat("fogbound_archive", None, None, True, 0)
    return engine


def session_of(text: str) -> str:
    return text.rsplit("qualia chat --session ", 1)[1].split()[0]


@pytest.mark.slow  # waits out a 1.5 s Strategist (over a second)
async def test_the_prompt_comes_back_before_the_suggestions(
    monkeypatch: pytest.MonkeyPatch, terminal: Callable[..., Terminal]
) -> None:
    def after_suggestions(term: Terminal) -> str:
        assert term.wait_for("Ask about the rain."), term.text
        return "/quit"

    term = terminal([say("Hello"), after_suggestions])
    provider = ScriptedProvider(delays={"strategist": 1.5})
    await run_chat(monkeypatch, provider)
    second_prompt = term.seen_at_prompt[1]
    assert REPLY in second_prompt, "the prompt comes after her reply"
    assert "Ask about the rain." not in second_prompt, "... and before the suggestions"
    screen = term.text
    tail = screen[len(second_prompt) :]
    # the suggestions were printed over the prompt, which was drawn again under them
    assert tail.startswith("> \r\x1b[K") and "1. Ask about the rain." in tail
    assert tail.index("Ask about the rain.") < tail.rindex("> ")
    assert "saved. resume with" in screen


async def test_ctrl_c_mid_reply_keeps_what_streamed_and_ctrl_c_at_the_prompt_leaves(
    engines: Engines, monkeypatch: pytest.MonkeyPatch, terminal: Callable[..., Terminal]
) -> None:
    def hello_then_ctrl_c(term: Terminal) -> str:
        def interrupt() -> None:
            if term.wait_for("Maren Voss: Hello the"):
                os.kill(os.getpid(), signal.SIGINT)

        threading.Thread(target=interrupt, daemon=True).start()
        return "Hello"

    def ctrl_c_at_the_prompt(term: Terminal) -> str | None:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(2)  # a person who does not type: the read is abandoned, chat leaves
        return None

    term = terminal([hello_then_ctrl_c, ctrl_c_at_the_prompt])
    provider = ScriptedProvider(delays={"partner": 3.0}, chunk=4)
    started = time.monotonic()
    engine = await run_chat(monkeypatch, provider)
    assert time.monotonic() - started < 8, "ctrl+c at the prompt did not wait for the read"
    screen = term.text
    assert "saved. resume with" in screen
    engine = engines(ScriptedProvider())  # chat closed its own
    session = engine.open_session(session_of(screen))
    kept = session.history()[-1]
    assert kept.sender == "partner" and kept.content.get("stopped") is True
    assert kept.text and REPLY.startswith(kept.text) and kept.text != REPLY
    assert f"Maren Voss: {kept.text}" in screen, "what was kept is what she had said"


async def test_ctrl_c_before_her_first_word_saves_nothing(
    engines: Engines, monkeypatch: pytest.MonkeyPatch, terminal: Callable[..., Terminal]
) -> None:
    def hello_then_ctrl_c(term: Terminal) -> str:
        def interrupt() -> None:
            time.sleep(0.5)  # the Director is still planning
            os.kill(os.getpid(), signal.SIGINT)

        threading.Thread(target=interrupt, daemon=True).start()
        return "Hello"

    term = terminal([hello_then_ctrl_c, say("/quit")])
    provider = ScriptedProvider(delays={"director": 2.0})
    engine = await run_chat(monkeypatch, provider)
    screen = term.text
    assert "(cancelled: nothing was saved)" in screen
    engine = engines(ScriptedProvider())
    session = engine.open_session(session_of(screen))
    assert [m.sender for m in session.history()] == ["narrator", "partner"], "the opening only"
    assert len(term.seen_at_prompt) == 2, "back at the prompt after the cancel"
