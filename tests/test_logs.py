"""Every module's logger reaches the session log file (redacted), never the terminal."""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import qualia_cli
from qualia_cli.logs import register_key_env, setup_logging

CANARY = "sk-canary-logs-0123456789abcdef"


@pytest.fixture(autouse=True)
def _logging_as_before() -> Iterator[None]:
    """setup_logging takes the `qualia` logger off the root (and caplog) for the process:
    give it back after each test here."""
    yield
    for name in ("qualia", "httpx", "openai"):
        logger = logging.getLogger(name)
        for handler in [h for h in logger.handlers if getattr(h, "_qualia", False)]:
            logger.removeHandler(handler)
            handler.close()
    logging.getLogger("qualia").propagate = True


def _module_loggers() -> dict[str, logging.Logger]:
    found = {}
    for info in pkgutil.walk_packages(qualia_cli.__path__, "qualia_cli."):
        if info.name.startswith(("qualia_cli.tui", "qualia_cli.cli", "qualia_cli.__main__")):
            continue  # front ends: Textual/Typer at import; their loggers are named by hand
        module = importlib.import_module(info.name)
        log = getattr(module, "log", None)
        if isinstance(log, logging.Logger):
            found[info.name] = log
    return found


def test_every_module_logger_sits_under_qualia() -> None:
    loggers = _module_loggers()
    assert len(loggers) >= 8, "the walk found too few loggers to mean anything"
    stray = {m: log.name for m, log in loggers.items() if log.name.split(".")[0] != "qualia"}
    assert stray == {}, "use logging.getLogger('qualia.<area>') so setup_logging catches it"


@pytest.mark.parametrize("module", ["qualia_cli.llm.openai_compat", "qualia_cli.deadline"])
def test_a_warning_goes_to_the_file_redacted_and_not_to_stderr(
    module: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("QUALIA_TEST_LOG_KEY", CANARY)
    register_key_env("QUALIA_TEST_LOG_KEY")
    log_file = tmp_path / "qualia.log"
    setup_logging(log_file, "INFO")
    importlib.import_module(module).log.warning("server said no to key %s", CANARY)
    for handler in logging.getLogger("qualia").handlers:
        handler.flush()
    text = log_file.read_text(encoding="utf-8")
    assert "server said no to key" in text
    assert CANARY not in text
    out, err = capfd.readouterr()
    assert "server said no" not in out + err
