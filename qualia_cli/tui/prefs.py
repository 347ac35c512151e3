"""What the chat interface remembers between runs: the theme picked last (ui_state.json)."""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from qualia_cli.paths import get_paths

log = logging.getLogger("qualia.tui")


def load() -> dict[str, Any]:
    path = get_paths().ui_state_file
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:  # a damaged file only costs the preference
        log.warning("ignoring %s: %s", path, err)
        return {}
    return data if isinstance(data, dict) else {}


def save(**values: Any) -> None:
    """Merge ``values`` into the state file (written whole, then renamed into place)."""
    path = get_paths().ui_state_file
    state = load() | values
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as err:
        log.warning("could not save %s: %s", path, err)
