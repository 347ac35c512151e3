"""Shared CLI plumbing: global flags, the engine, JSON output."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.console import Console

if TYPE_CHECKING:
    from qualia_cli.engine import Engine


@dataclass
class _State:
    debug: bool = False


state = _State()
console = Console()
err_console = Console(stderr=True)


def make_engine() -> Engine:
    from qualia_cli.config import load_settings
    from qualia_cli.engine import Engine
    from qualia_cli.logs import setup_logging
    from qualia_cli.paths import get_paths

    settings = load_settings()
    setup_logging(get_paths().ensure().log_file, settings.log_level)
    return Engine(settings)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def fail(message: str, code: int = 2) -> None:
    err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise SystemExit(code)
