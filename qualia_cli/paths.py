"""Every path qualia uses comes from here (platformdirs, relocatable with QUALIA_HOME).

Nothing here touches the disk at import time; directories are created on demand.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "qualia"


@dataclass(frozen=True)
class Paths:
    config_dir: Path
    data_dir: Path
    cache_dir: Path

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.yaml"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "qualia.db"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "logs" / "qualia.log"

    @property
    def images_dir(self) -> Path:
        return self.data_dir / "images"

    @property
    def exports_dir(self) -> Path:
        """Exported transcripts."""
        return self.data_dir / "exports"

    @property
    def scenarios_dir(self) -> Path:
        """The user's own scenarios (bundled ones live in the repository's scenarios/)."""
        return self.data_dir / "scenarios"

    @property
    def workflows_dir(self) -> Path:
        """The user's own ComfyUI workflows (bundled ones live in the repository's workflows/)."""
        return self.data_dir / "workflows"

    @property
    def generator_state_file(self) -> Path:
        """Which genre/setting keywords the Scenario Generator has used (round-robin)."""
        return self.data_dir / "generator_keywords.json"

    @property
    def ui_state_file(self) -> Path:
        """What the chat interface remembers between runs (the theme)."""
        return self.data_dir / "ui_state.json"

    def ensure(self) -> Paths:
        for d in (self.config_dir, self.data_dir, self.cache_dir, self.log_file.parent):
            d.mkdir(parents=True, exist_ok=True)
        return self


def get_paths() -> Paths:
    """Resolve the paths now (reads QUALIA_HOME each call so tests can relocate them)."""
    home = os.environ.get("QUALIA_HOME")
    if home:
        root = Path(home).expanduser()
        return Paths(root / "config", root / "data", root / "cache")
    return Paths(
        Path(platformdirs.user_config_dir(APP_NAME)),
        Path(platformdirs.user_data_dir(APP_NAME)),
        Path(platformdirs.user_cache_dir(APP_NAME)),
    )


def bundled_scenarios_dir() -> Path:
    """scenarios/ shipped with the project (next to the package in a checkout)."""
    return Path(__file__).resolve().parent.parent / "scenarios"


def bundled_workflows_dir() -> Path:
    """workflows/ shipped with the project (ComfyUI API-format templates and their sidecars)."""
    return Path(__file__).resolve().parent.parent / "workflows"
