"""The engine facade: the one object the front ends (CLI, TUI, headless) talk to."""

from __future__ import annotations

import asyncio
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qualia_cli.config import Settings, load_settings
from qualia_cli.engine.pictures.service import PictureService
from qualia_cli.engine.store_opener import StoreOpener
from qualia_cli.engine.story.session import GameSession
from qualia_cli.engine.turn.state import initial_state
from qualia_cli.llm.router import ModelRouter
from qualia_cli.logs import register_key_env
from qualia_cli.scenario.loader import (
    default_search_dirs,
    find_scenario,
    list_scenarios,
    load_scenario,
)
from qualia_cli.scenario.models import Scenario
from qualia_cli.store import Store
from qualia_cli.store.records import SessionRecord

if TYPE_CHECKING:
    from qualia_cli.engine.authoring import AuthoringService
    from qualia_cli.engine.checks.models_info import ModelsService
    from qualia_cli.engine.library.service import LibraryService
    from qualia_cli.engine.memory import MemoryAdmin
    from qualia_cli.engine.scripted.autoplay import PlayerLine
    from qualia_cli.engine.scripted.judging import Verdict
    from qualia_cli.llm.cassette import Cassette


class Engine:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        store: Store | None = None,
        router: ModelRouter | None = None,
        db_path: Path | None = None,
        pictures: bool = True,
    ) -> None:
        """`pictures=False` draws no picture whatever the settings say (headless runs,
        `--no-images`); the Visual Director still writes its prompt."""
        self.settings = settings or load_settings()
        for endpoint in self.settings.endpoints.values():
            if endpoint.api_key_env:
                register_key_env(endpoint.api_key_env)  # its value is scrubbed from the logs
        self._stores = StoreOpener(store, db_path)  # db_path: headless runs keep theirs apart
        self.router = router or ModelRouter(self.settings)
        self.pictures = PictureService(self.settings, self._stores, enabled=pictures)

    @property
    def store(self) -> Store:
        return self._stores()

    # scenarios -----------------------------------------------------------------
    @staticmethod
    def scenario_dirs() -> list[Path]:
        """The user's scenarios first (they may override a bundled id), then the bundled ones."""
        return default_search_dirs()

    def find_scenario(self, name: str) -> tuple[Path, Scenario]:
        path = find_scenario(name, self.scenario_dirs())
        return path, load_scenario(path)

    def list_scenarios(self) -> list[tuple[Path, Any]]:
        return list_scenarios(self.scenario_dirs())

    # sessions ------------------------------------------------------------------
    def new_session(
        self,
        scenario: str,
        *,
        title: str | None = None,
        model: str | None = None,
        start_state: dict[str, Any] | None = None,
        seed: int | None = None,
        greeting: int = 0,
    ) -> GameSession:
        """`start_state` sets stats, mood, location, time (engine/story/start.py); `seed` makes the
        session's model seeds depend on it and the turn only (scripts, eval); `greeting` picks
        the partner's first line: 0 the scenario's, 1..K a card's alternate greeting
        (engine/story/greetings.py; GreetingError when out of range)."""
        from qualia_cli.engine.story.greetings import opening_messages
        from qualia_cli.engine.story.start import apply_start_state

        path, sc = self.find_scenario(scenario)
        partner = apply_start_state(sc, initial_state(sc), start_state)
        opening = opening_messages(sc, greeting)
        if model:
            self.router.resolve(model)  # fail now, not at the first turn
        record = self.store.create_session(
            title=title or sc.title,
            scenario_id=sc.id,
            scenario_path=str(path),
            scenario=sc.model_dump(mode="json"),
            genre=sc.genre,
            narrative_pace=sc.narrative_pace.value,
            content_rating=sc.content_rating.value,
            settings=({"model": model} if model else {})
            | ({"seed": seed} if seed is not None else {})
            | ({"greeting": greeting} if greeting else {}),
            world_state={"facts": {}},
            partner=partner,
            opening=opening,
        )
        self.pictures.queue_opening(record.id, record.head_message_id, sc, sc.content_rating.value)
        return self._session(record, None)

    def open_session(self, session_id: str, *, model: str | None = None) -> GameSession:
        full = self.store.resolve_session_id(session_id)
        record = self.store.get_session(full)
        assert record is not None
        if model:
            self.router.resolve(model)
        return self._session(record, model)

    def _session(self, record: SessionRecord, model: str | None) -> GameSession:
        return GameSession(
            record,
            store=self.store,
            settings=self.settings,
            router=self.router,
            model_override=model,
            images=self.pictures.jobs,
        )

    def agent_calls(self, session_id: str) -> list[dict[str, Any]]:
        return self.store.agent_calls(session_id)

    # services: each built once, on first use, from settings, store and router ------------
    @cached_property
    def library(self) -> LibraryService:
        """Saved sessions: list, export, import, delete, archive, rename (engine/library/)."""
        from qualia_cli.engine.library.service import LibraryService

        return LibraryService(self._stores)

    @cached_property
    def memory(self) -> MemoryAdmin:
        """Long-term memories and lorebooks (`qualia memory …`)."""
        from qualia_cli.engine.memory import MemoryAdmin

        return MemoryAdmin(self.settings, self._stores, self.router)

    @cached_property
    def models(self) -> ModelsService:
        """The configured models and their capabilities (engine/checks/models_info.py)."""
        from qualia_cli.engine.checks.models_info import ModelsService

        return ModelsService(self.settings, self.router)

    @cached_property
    def authoring(self) -> AuthoringService:
        """Scenarios generated, shown, imported and exported as cards (engine/authoring.py)."""
        from qualia_cli.engine.authoring import AuthoringService

        return AuthoringService(self.settings, self.router)

    # headless: cassettes, judge, simulated player ---------------------------------------
    def use_cassette(self, path: Path, mode: str, *, shared: Cassette | None = None) -> Cassette:
        """Record/replay every model call through the cassette at `path` (llm/cassette.py);
        `shared` attaches a cassette another engine already opened."""
        from qualia_cli.llm.cassette import Cassette

        cassette = shared or Cassette.open(path, mode)
        self.router.wrap_providers(cassette.wrap)
        return cassette

    async def judge(
        self,
        scenario: Scenario,
        *,
        rubric: str,
        transcript: str,
        model: str | None = None,
        seed: int = 0,
    ) -> Verdict:
        from qualia_cli.engine.scripted.judging import judge_transcript

        name = model or self.settings.models.for_agent("judge")
        return await judge_transcript(
            self.settings,
            self.router,
            scenario,
            rubric=rubric,
            transcript=transcript,
            model_name=name,
            seed=seed,
        )

    async def player_line(
        self, session: GameSession, *, goal: str, model: str | None = None, seed: int = 0
    ) -> PlayerLine:
        from qualia_cli.engine.scripted.autoplay import next_player_line

        name = model or self.settings.models.for_agent("player")
        return await next_player_line(session, goal=goal, model_name=name, seed=seed)

    async def save_model_caches(self) -> int:
        """Save the embedded model's slot caches (llm/local.py) so the next process reuses
        the prompts this one read; returns how many slots were saved."""
        from qualia_cli.llm.local import save_running_slots

        if not self.settings.local.slot_cache:
            return 0
        return await asyncio.to_thread(save_running_slots)

    async def aclose(self) -> None:
        await self.pictures.aclose()
        await self.router.aclose()
        self._stores.close()
