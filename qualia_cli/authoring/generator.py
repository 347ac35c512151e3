"""The Scenario Generator's orchestration: brief → two structured calls → a valid scenario.

Each attempt asks :class:`~qualia_cli.agents.generator.ScenarioWriter` for the world and
:class:`~qualia_cli.agents.generator.PlotWriter` for the endings and lore, assembles a
scenario and validates it with the same checks as a scenario file. If it does not validate,
the next attempt quotes the problems back to the model (only the plot is redone when only
endings or lore are wrong), until it validates or the attempts run out.
"""

from __future__ import annotations

import logging
import random
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from qualia_cli.agents.generator import (
    GeneratorBrief,
    PlotDraft,
    PlotWriter,
    ScenarioWriter,
    WorldDraft,
)
from qualia_cli.authoring.keywords import KeywordRotation
from qualia_cli.authoring.lint import lint
from qualia_cli.authoring.text import dedupe, slug, unique
from qualia_cli.errors import QualiaError
from qualia_cli.llm.base import Request
from qualia_cli.llm.errors import LLMError
from qualia_cli.llm.router import ModelRouter
from qualia_cli.llm.structured import StructuredOutputError, complete_structured
from qualia_cli.scenario.errors import Problem, ScenarioError
from qualia_cli.scenario.loader import load_scenario_dict
from qualia_cli.scenario.models import Scenario

log = logging.getLogger("qualia.authoring")
T = TypeVar("T", bound=BaseModel)

DEFAULT_ATTEMPTS = 4
WORLD_MAX_TOKENS = 1400
PLOT_MAX_TOKENS = 800
TEMPERATURE = 0.9
NEGATIVE_TAGS = ["lowres", "bad anatomy", "bad hands", "text", "watermark", "blurry"]
Progress = Callable[[str, int, int], None]  # (stage, attempt, characters received)


class GenerationFailed(QualiaError):
    """The generator did not produce a valid scenario within its attempts (one line)."""


@dataclass
class GenerationRequest:
    genre: str | None = None
    pace: str = "medium"
    rating: str = "general"
    premise: str = ""
    seed: int | None = None
    attempts: int = DEFAULT_ATTEMPTS
    temperature: float = TEMPERATURE
    frequency_penalty: float = 0.3
    world_max_tokens: int = WORLD_MAX_TOKENS
    plot_max_tokens: int = PLOT_MAX_TOKENS


@dataclass
class StageCall:
    stage: str  # world | plot
    attempt: int
    model: str
    ok: bool
    latency_ms: float
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    retries: int = 0
    error: str | None = None


@dataclass
class Generated:
    scenario: Scenario
    brief: GeneratorBrief
    attempts: int
    seed: int
    rejected: list[list[str]] = field(default_factory=list)  # problems of failed attempts
    calls: list[StageCall] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def make_brief(req: GenerationRequest, keywords: KeywordRotation) -> GeneratorBrief:
    axes = ["setting", "hook"] if req.genre else ["genre", "setting", "hook"]
    drawn = keywords.draw_many(axes)
    return GeneratorBrief(
        genre=(req.genre or drawn["genre"]).strip(),
        setting=drawn["setting"],
        hook=drawn["hook"],
        pace=req.pace,
        rating=req.rating,
        premise=req.premise.strip(),
    )


def _seed(*parts: object) -> int:
    return zlib.crc32(":".join(map(str, parts)).encode()) & 0x7FFFFFFF


def assemble(
    brief: GeneratorBrief, world: WorldDraft, plot: PlotDraft, taken: Iterable[str] = ()
) -> dict[str, Any]:
    """The scenario dict for two drafts (ids derived, duplicate stats dropped)."""
    p = world.partner
    stats: dict[str, dict[str, Any]] = {}
    for st in world.stats:
        stats.setdefault(
            st.name, {"name": st.name, "description": st.description, "start": st.start}
        )
    ending_ids: list[str] = []
    endings = []
    for i, e in enumerate(plot.endings):
        eid = unique(slug(e.title, fallback=f"ending_{i + 1}"), ending_ids)
        ending_ids.append(eid)
        endings.append(
            {
                "id": eid,
                "title": e.title,
                "condition": f"{e.stat} {e.comparison} {e.value} and turn >= {e.after_turn}",
                "kind": e.kind,
                "description": e.description,
            }
        )
    lore = [
        {"keys": dedupe(entry.keys), "content": entry.content, "comment": "generated"}
        for entry in plot.lore
        if entry.keys and entry.content
    ]
    return {
        "id": unique(slug(world.title, fallback="generated"), taken),
        "title": world.title,
        "genre": brief.genre[:40],
        "narrative_pace": brief.pace,
        "content_rating": brief.rating,
        "summary": world.summary,
        "setting": {
            "world": world.world,
            "start_location": world.start_location,
            "start_time": world.start_time,
            "locations": dedupe([world.start_location, *world.locations]),
        },
        "player": {"role": world.player_role, "name": "you"},
        "partner": {
            "name": p.name,
            "age": p.age,
            "gender": p.gender,
            "occupation": p.occupation,
            "appearance": {"description": p.appearance, "tags": dedupe(p.appearance_tags)},
            "personality": dedupe(p.personality),
            "speech_style": p.speech_style,
            "likes": dedupe(p.likes),
            "dislikes": dedupe(p.dislikes),
            "secrets": [p.secret] if p.secret else [],
            "backstory": p.backstory,
        },
        "stats": list(stats.values()),
        "starting_mood": world.starting_mood,
        "opening": world.opening,
        "first_message": world.first_message,
        "endings": endings,
        "images": {"style_tags": dedupe(world.style_tags), "negative_tags": NEGATIVE_TAGS},
        "lorebook": {"entries": lore},
    }


def _feedback(problems: list[str]) -> str:
    if not problems:
        return ""
    lines = "\n".join(f"- {p}" for p in problems[:8])
    return f"Your previous answer had these problems; avoid them this time:\n{lines}"


def _is_plot_problem(message: str) -> bool:
    return message.startswith(("endings", "lorebook"))


class _Runner:
    def __init__(
        self,
        router: ModelRouter,
        model: str,
        req: GenerationRequest,
        seed: int,
        on_progress: Progress | None,
    ) -> None:
        self.router = router
        self.model = model
        self.req = req
        self.seed = seed
        self.on_progress = on_progress
        self.calls: list[StageCall] = []

    async def call(
        self, stage: str, attempt: int, messages: Any, schema: dict[str, Any], output: type[T]
    ) -> T:
        report = self.on_progress

        def on_text(text: str) -> None:  # streaming: no overall timeout on long answers
            if report:
                report(stage, attempt, len(text))

        on_text("")
        provider, model_id = await self.router.aresolve(self.model)
        request = Request(
            messages=messages,
            model=model_id,
            schema=schema,
            schema_name=f"generator_{stage}",
            max_tokens=self.req.world_max_tokens if stage == "world" else self.req.plot_max_tokens,
            temperature=self.req.temperature,
            frequency_penalty=self.req.frequency_penalty,
            seed=_seed(self.seed, attempt, stage),
            agent="generator" if stage == "world" else "generator_plot",
        )
        started = time.monotonic()
        try:
            result = await complete_structured(
                provider, request, output, model_label=self.model, on_text=on_text
            )
        except StructuredOutputError as err:
            self.calls.append(
                StageCall(
                    stage,
                    attempt,
                    self.model,
                    False,
                    (time.monotonic() - started) * 1000,
                    err.usage.prompt_tokens,
                    err.usage.completion_tokens,
                    err.usage.cost_usd,
                    1,
                    err.message,
                )
            )
            raise
        self.calls.append(
            StageCall(
                stage,
                attempt,
                self.model,
                True,
                result.latency_ms,
                result.usage.prompt_tokens,
                result.usage.completion_tokens,
                result.usage.cost_usd,
                result.retries,
            )
        )
        return result.value


async def generate(
    req: GenerationRequest,
    *,
    router: ModelRouter,
    model: str,
    keywords: KeywordRotation,
    taken_ids: Iterable[str] = (),
    on_progress: Progress | None = None,
) -> Generated:
    """Generate a scenario that validates; raises GenerationFailed after ``req.attempts``.

    Model trouble other than bad output (no connection, bad key, …) raises LLMError at once.
    """
    brief = make_brief(req, keywords)
    seed = req.seed if req.seed is not None else random.SystemRandom().randrange(2**31)
    run = _Runner(router, model, req, seed, on_progress)
    taken = set(taken_ids)
    world: WorldDraft | None = None
    problems: list[str] = []
    rejected: list[list[str]] = []
    for attempt in range(1, max(1, req.attempts) + 1):
        feedback = _feedback(problems)
        try:
            if world is None or not all(_is_plot_problem(p) for p in problems):
                world = await run.call(
                    "world",
                    attempt,
                    ScenarioWriter.messages(brief, feedback),
                    ScenarioWriter.schema(brief),
                    WorldDraft,
                )
            plot = await run.call(
                "plot",
                attempt,
                PlotWriter.messages(brief, world, feedback),
                PlotWriter.schema(world),
                PlotDraft,
            )
        except StructuredOutputError as err:
            problems = [f"the answer did not match the JSON schema: {err.message}"]
            world = None
            rejected.append(problems)
            continue
        data = assemble(brief, world, plot, taken)
        try:
            scenario = load_scenario_dict(data, source="generated scenario")
        except ScenarioError as err:
            problems = [_plain(p) for p in err.problems]
            log.info("generated scenario rejected (attempt %d): %s", attempt, problems)
            rejected.append(problems)
            continue
        warnings = [p.message.removeprefix("warning: ") for p in lint(scenario)]
        return Generated(scenario, brief, attempt, seed, rejected, run.calls, warnings)
    last = "; ".join(problems[:3]) or "no answer"
    raise GenerationFailed(
        f"the Scenario Generator ({model}) gave no valid scenario in {req.attempts} "
        f"attempt{'s' if req.attempts != 1 else ''}; last problems: {last}"
    )


def _plain(problem: Problem) -> str:
    return problem.message


__all__ = [
    "Generated",
    "GenerationFailed",
    "GenerationRequest",
    "LLMError",
    "assemble",
    "generate",
    "make_brief",
]
