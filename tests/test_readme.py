"""The README stays true: its scenario example loads, its commands exist."""

from __future__ import annotations

import re
from pathlib import Path

from typer.main import get_command

from qualia_cli.cli.app import app
from qualia_cli.scenario import load_scenario

README = (Path(__file__).parent.parent / "README.md").read_text()


def test_scenario_example_in_the_readme_is_valid(tmp_path: Path) -> None:
    block = re.search(r"## Scenario files.*?```yaml\n(.*?)```", README, re.S)
    assert block
    path = tmp_path / "example.yaml"
    path.write_text(block.group(1))
    scenario = load_scenario(path)
    assert scenario.partner.appearance.tags


def test_every_command_is_documented() -> None:
    root = get_command(app)
    names = []
    for name, cmd in root.commands.items():  # type: ignore[attr-defined]
        subs = getattr(cmd, "commands", None)
        names += [f"qualia {name} {s}" for s in subs] if subs else [f"qualia {name}"]
    missing = [n for n in names if f"`{n}" not in README]
    assert not missing, f"README lacks: {missing}"


def test_the_two_commands() -> None:
    quick = README.split("## Quick start", 1)[1].split("##", 1)[0]
    assert "uv run qualia play" in quick and "uv run pytest" in quick
