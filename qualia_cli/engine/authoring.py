"""Authoring use cases the front ends call: generate, validate, show, import/export cards.

``AuthoringService`` is composed by the Engine facade as ``engine.authoring``; it gets the
settings and the router, never the Engine. Scenario files live in the user's scenarios
directory unless an explicit path is given; a portrait travels next to its scenario as
``<stem>.png``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from qualia_cli.authoring.cards import CardError, read_card, scenario_from_card, write_card
from qualia_cli.authoring.errors import AuthoringError
from qualia_cli.authoring.generator import (
    Generated,
    GenerationFailed,
    GenerationRequest,
    Progress,
    generate,
)
from qualia_cli.authoring.keywords import KeywordRotation
from qualia_cli.authoring.lint import Report, lint, validate_file
from qualia_cli.authoring.yaml_writer import write_scenario
from qualia_cli.paths import get_paths
from qualia_cli.scenario.loader import (
    default_search_dirs,
    find_scenario,
    list_scenarios,
    load_scenario,
)
from qualia_cli.scenario.models import Scenario

if TYPE_CHECKING:
    from qualia_cli.config import Settings
    from qualia_cli.llm.router import ModelRouter

__all__ = [
    "AuthoringService",
    "Generated",
    "GenerationRequest",
    "ImportResult",
    "check_generator_model",
    "portrait_path",
    "validate_files",
]


@dataclass
class ImportResult:
    path: Path
    scenario: Scenario
    notes: list[str] = field(default_factory=list)
    portrait: Path | None = None
    exact: bool = False
    warnings: list[str] = field(default_factory=list)


def portrait_path(scenario_file: Path) -> Path:
    return scenario_file.with_suffix(".png")


def _target(out: Path | None, scenario_id: str, force: bool) -> Path:
    path = out or get_paths().scenarios_dir / f"{scenario_id}.yaml"
    if path.suffix not in (".yaml", ".yml"):
        raise AuthoringError(str(path), "a scenario file must end in .yaml or .yml")
    if path.exists() and not force:
        raise AuthoringError(str(path), "already exists (use --force to overwrite, or --out FILE)")
    return path


# Models measured to write scenarios that validate but do not play (benchmarks/
# scenario_generator.py: the partner answers with fragments, the world is a keyword list).
TOO_SMALL_FOR_GENERATOR = frozenset({"local/smollm2"})
CAPABLE_GENERATOR = "openrouter/anthropic/claude-3.5-haiku"


def check_generator_model(name: str) -> None:
    """Refuse a model measured too small to write a playable scenario (one clear line)."""
    if name in TOO_SMALL_FOR_GENERATOR:
        raise GenerationFailed(
            f"the Scenario Generator needs a capable model: {name} (the embedded SmolLM2-135M) "
            "writes scenarios that validate but do not play; use --model "
            f"{CAPABLE_GENERATOR} (with OPENROUTER_API_KEY) or set models.generator in "
            "config.yaml (--allow-small-model tries it anyway)"
        )


def validate_files(paths: list[Path]) -> list[Report]:
    return [validate_file(p) for p in paths]


class AuthoringService:
    """Scenarios written, shown and exchanged as cards (`qualia scenario …`)."""

    def __init__(self, settings: Settings, router: ModelRouter) -> None:
        self.settings = settings
        self.router = router

    @staticmethod
    def _find(name: str) -> tuple[Path, Scenario]:
        """A scenario by path or id: the user's first, then the bundled ones."""
        path = find_scenario(name, default_search_dirs())
        return path, load_scenario(path)

    @staticmethod
    def _known_ids() -> set[str]:
        ids: set[str] = set()
        for path, sc in list_scenarios(default_search_dirs()):
            ids.add(path.stem)
            if isinstance(sc, Scenario):
                ids.add(sc.id)
        return ids

    async def generate(
        self,
        request: GenerationRequest,
        *,
        model: str | None = None,
        out: Path | None = None,
        force: bool = False,
        on_progress: Progress | None = None,
        allow_small_model: bool = False,
    ) -> tuple[Generated, Path]:
        """Generate a scenario that validates and write it as commented YAML; refuses a model
        measured too small for it unless ``allow_small_model``."""
        name = model or self.settings.models.for_agent("generator")
        if not allow_small_model:
            check_generator_model(name)
        self.router.resolve(name)  # a bad model name fails before any keyword is used up
        taken = self._known_ids()
        keywords = KeywordRotation(get_paths().ensure().generator_state_file)
        result = await generate(
            request,
            router=self.router,
            model=name,
            keywords=keywords,
            taken_ids=taken,
            on_progress=on_progress,
        )
        path = _target(out, result.scenario.id, force)
        write_scenario(result.scenario, path, origin=f", by the Scenario Generator ({name})")
        return result, path

    def show(self, name: str) -> tuple[Path, Scenario, list[str]]:
        """A scenario by path or id, with its warnings."""
        path, scenario = self._find(name)
        return path, scenario, [str(w) for w in lint(scenario, str(path))]

    def import_card(
        self,
        card: Path,
        *,
        out: Path | None = None,
        force: bool = False,
        player_name: str | None = None,
    ) -> ImportResult:
        """Read a card, map it to a scenario and write it (portrait next to it, if any).

        ``player_name``: who ``{{user}}`` is in the card (default: "you").
        """
        loaded = read_card(card)
        imported = scenario_from_card(loaded, player_name)
        scenario = imported.scenario
        if out is None:
            taken = self._known_ids()
            own = get_paths().scenarios_dir / f"{scenario.id}.yaml"
            if scenario.id in taken and not (force and own.exists()):
                from qualia_cli.authoring.text import unique

                scenario = scenario.model_copy(update={"id": unique(scenario.id, taken)})
        path = _target(out, scenario.id, force)
        write_scenario(scenario, path, origin=f", imported from {card.name}")
        portrait = None
        if imported.portrait:
            portrait = portrait_path(path)
            try:
                portrait.write_bytes(imported.portrait)
            except OSError as err:
                raise AuthoringError(
                    str(portrait), f"cannot write: {err.strerror or err}"
                ) from None
        warnings = [str(w) for w in validate_file(path).warnings]
        return ImportResult(path, scenario, imported.notes, portrait, imported.exact, warnings)

    def export_card(
        self, name: str, out: Path, *, portrait: Path | None = None
    ) -> tuple[Path, Path | None]:
        """Write a scenario (path or id) as a card; returns (card, the portrait used or None)."""
        path, scenario = self._find(name)
        picture = portrait or portrait_path(path)
        blob = None
        if picture.is_file():
            from qualia_cli.authoring.cards.read import to_png

            try:
                blob = to_png(picture.read_bytes(), str(picture))
            except OSError as err:
                raise CardError(str(picture), f"cannot read: {err.strerror or err}") from None
        elif portrait is not None:
            raise CardError(str(portrait), "file not found")
        return write_card(scenario, out, blob), (picture if blob else None)
