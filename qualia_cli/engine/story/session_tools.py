"""Per-session options (model per agent, pace, rating) and the turn trace.

``SessionToolsMixin`` is mixed into ``GameSession``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qualia_cli.engine.story.branching import SessionActionError
from qualia_cli.engine.turn.trace import TurnTrace, agent_trace
from qualia_cli.roles import TURN_AGENTS
from qualia_cli.scenario.models import Pace, Rating

if TYPE_CHECKING:
    from qualia_cli.llm.router import ModelRouter
    from qualia_cli.scenario.models import Scenario
    from qualia_cli.store import Store
    from qualia_cli.store.records import Message, SessionRecord

RATING_ORDER: tuple[str, ...] = tuple(r.value for r in Rating)


class SessionToolsMixin:
    if TYPE_CHECKING:
        record: SessionRecord
        store: Store
        router: ModelRouter
        scenario: Scenario

        @property
        def id(self) -> str: ...

        def refresh(self) -> None: ...

        def turn_of(self, message_id: int) -> list[Message]: ...

    # -- options ----------------------------------------------------------------------------

    def agent_models(self) -> dict[str, str]:
        """The session's own model per agent (set with `set_agent_model`)."""
        return dict(self.record.settings.get("models") or {})

    def set_agent_model(self, agent: str, model: str | None) -> None:
        """Use ``model`` for ``agent`` in this session from the next turn (None: back to config).

        The name is checked now (unknown provider, missing GGUF file) without starting anything.
        """
        if agent not in TURN_AGENTS:
            known = ", ".join(TURN_AGENTS)
            raise SessionActionError(f"unknown agent '{agent}': use one of {known}")
        model = (model or "").strip() or None
        if model is not None:
            self.router.describe(model)  # raises LLMError (a user error) for a bad name
        self.refresh()
        settings = dict(self.record.settings)
        models = self.agent_models()
        if model is None:
            models.pop(agent, None)
        else:
            models[agent] = model
        if models:
            settings["models"] = models
        else:
            settings.pop("models", None)
        self.store.update_settings(self.id, settings)
        self.refresh()

    def allowed_ratings(self) -> list[str]:
        """Ratings this session may use: up to the scenario's own (it vouches for its cast)."""
        ceiling = RATING_ORDER.index(self.scenario.content_rating.value)
        return list(RATING_ORDER[: ceiling + 1])

    def set_story(self, *, pace: str | None = None, rating: str | None = None) -> None:
        """Change the narrative pace and/or content rating used from the next turn."""
        self.refresh()
        new_pace = pace or self.record.narrative_pace
        new_rating = rating or self.record.content_rating
        if new_pace not in {p.value for p in Pace}:
            raise SessionActionError(
                f"unknown pace '{new_pace}': use one of {', '.join(p.value for p in Pace)}"
            )
        if new_rating not in self.allowed_ratings():
            raise SessionActionError(
                f"rating '{new_rating}' is not allowed for {self.scenario.title}: "
                f"use one of {', '.join(self.allowed_ratings())}"
            )
        self.store.update_story(self.id, narrative_pace=new_pace, content_rating=new_rating)
        self.refresh()

    # -- trace ------------------------------------------------------------------------------

    def turn_trace(self, message_id: int | None = None) -> TurnTrace:
        """The plan and every agent call (with raw output) of the turn holding ``message_id``."""
        target = message_id if message_id is not None else self.record.head_message_id
        if target is None:
            raise SessionActionError("no turn has been played yet")
        turn = self.turn_of(target)
        turn_id = turn[0].turn_id
        if turn_id is None:
            raise SessionActionError("the opening has no trace: play a turn first")
        last = turn[-1]
        rows = self.store.agent_calls(self.id, turn_id)
        line = last.line
        contexts = line.context
        return TurnTrace(
            turn_id=turn_id,
            player_text=turn[0].said,
            plan=dict(line.plan or {}),
            wall_ms=last.processing_time_ms,
            calls=[agent_trace(r, contexts.get(r["agent"])) for r in rows],
        )
