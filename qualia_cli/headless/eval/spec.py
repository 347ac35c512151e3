"""The eval file format (`*.eval.yaml`), as Pydantic models. Unknown keys are errors.

name: smoke
model_sets:                       # what is compared: a label and a model per agent role
  - {label: warm, models: {default: local/smollm2}, temperature: 0.9}
  - {label: cool, models: {default: local/smollm2}, temperature: 0.2}
scenarios: [second_shelf]         # for simulated players
players:
  - simulated: {goal: "Help Juniper save the shop", turns: 2}
  - script: second_shelf.play.yaml   # its own scenario; `tests:` picks some
seeds: [1, 2]
judges: [local/smollm2]           # judge models (default: the `judge` role's model)
rubrics: [in_character, engagement, pacing, image_faithfulness]   # or {id: text}
concurrency: 2
cassette: smoke.eval.cassette.yaml
thresholds:
  - {metric: first_try_valid_rate, min: 0.8}
  - {metric: judge.in_character, min: 3, model_set: warm}
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from qualia_cli.config import AGENT_ROLES
from qualia_cli.engine import SamplingPins
from qualia_cli.scenario.file_errors import LocatedError, load_document

LABEL = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$"

RUBRICS: dict[str, str] = {
    "in_character": (
        "In-character consistency: the partner keeps the personality and speech style of her "
        "character sheet in every reply, never mentions being an AI, and never speaks for the "
        "player."
    ),
    "engagement": (
        "Engagement: each reply reacts to what the player just said and adds something new (a "
        "detail, a feeling, a question), so the player wants to continue."
    ),
    "pacing": (
        "Pacing adherence: the story moves at the intended pace; beats neither rush nor stall, "
        "and changes of place or time feel natural."
    ),
    "image_faithfulness": (
        "Image-prompt faithfulness: each [image] prompt matches its moment (place, time, her "
        "mood and action) and keeps her stable appearance."
    ),
}
METRICS = (
    "first_try_valid_rate",
    "repair_rate",
    "failure_rate",
    "retries",
    "failed_turns",
    "latency_p50_ms",
    "latency_p95_ms",
    "tokens_per_turn",
    "cost_per_turn",
    "distinct_2",
    "refusals",
    "copy_rate",
    "junk_rate",
    "regenerated_rate",
    "suggestions_per_turn",
    "good_suggestions_rate",
    "turn_p50_ms",
    "endings",
    "checks_pass_rate",
    "judge_failures",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelSet(_Strict):
    label: str = Field(pattern=LABEL)
    model: str | None = None
    models: dict[str, str] = Field(default_factory=dict)
    temperature: float | None = Field(None, ge=0.0, le=2.0)

    @model_validator(mode="after")
    def _roles(self) -> ModelSet:
        if bool(self.model) == bool(self.models):
            raise LocatedError("give model (every agent) or models (per agent role)")
        for role in self.models:
            if role != "default" and role not in AGENT_ROLES:
                raise LocatedError(
                    f"unknown agent '{role}' (use default, {', '.join(AGENT_ROLES)})",
                    ("models", role),
                )
        return self

    def role_models(self) -> dict[str, str]:
        return {"default": self.model} if self.model else dict(self.models)


class SimulatedPlayer(_Strict):
    goal: str = Field(min_length=1, max_length=300)
    turns: int = Field(ge=1, le=30)
    model: str | None = None


class PlayerSpec(_Strict):
    simulated: SimulatedPlayer | None = None
    script: str | None = None
    tests: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one(self) -> PlayerSpec:
        if (self.simulated is None) == (self.script is None):
            raise LocatedError("a player is either simulated: {goal, turns} or script: FILE")
        if self.tests and self.script is None:
            raise LocatedError("tests: only applies to a script player", ("tests",))
        return self


class Threshold(_Strict):
    metric: str
    min: float | None = None
    max: float | None = None
    model_set: str | None = None

    @model_validator(mode="after")
    def _known(self) -> Threshold:
        base = self.metric.split(".", 1)
        if not (self.metric in METRICS or (base[0] == "judge" and len(base) == 2)):
            raise LocatedError(
                f"unknown metric '{self.metric}' (use {', '.join(METRICS)} or judge.<rubric>)",
                ("metric",),
            )
        if self.min is None and self.max is None:
            raise LocatedError("a threshold needs min and/or max")
        return self


class EvalSpec(_Strict):
    name: str = Field(pattern=LABEL)
    model_sets: list[ModelSet] = Field(min_length=1)
    scenarios: list[str] = Field(default_factory=list)
    players: list[PlayerSpec] = Field(min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    judges: list[str] = Field(default_factory=list)
    rubrics: list[str | dict[str, str]] = Field(default_factory=lambda: list(RUBRICS))
    concurrency: int = Field(2, ge=1, le=32)
    cassette: str | None = None
    sampling: SamplingPins | None = None  # what the cassette was recorded with
    thresholds: list[Threshold] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> EvalSpec:
        for role in self.sampling.unknown_agents() if self.sampling else []:
            raise LocatedError(f"unknown agent '{role}'", ("sampling", "agents", role))
        labels = [m.label for m in self.model_sets]
        for i, label in enumerate(labels):
            if label in labels[:i]:
                raise LocatedError(f"model set '{label}' is given twice", ("model_sets", i))
        if any(p.simulated for p in self.players) and not self.scenarios:
            raise LocatedError("simulated players need scenarios: [...]", ("players",))
        ids = list(self.rubric_texts())
        for i, rubric in enumerate(self.rubrics):
            if isinstance(rubric, str) and rubric not in RUBRICS:
                raise LocatedError(
                    f"unknown rubric '{rubric}' (built in: {', '.join(RUBRICS)}; "
                    "or write {my_rubric: what to judge})",
                    ("rubrics", i),
                )
            if isinstance(rubric, dict) and len(rubric) != 1:
                raise LocatedError("a custom rubric is one `id: text` pair", ("rubrics", i))
        for i, t in enumerate(self.thresholds):
            if t.model_set is not None and t.model_set not in labels:
                raise LocatedError(
                    f"no model set '{t.model_set}' ({', '.join(labels)})",
                    ("thresholds", i, "model_set"),
                )
            rubric = t.metric.split(".", 1)[1] if t.metric.startswith("judge.") else None
            if rubric is not None and rubric not in ids:
                raise LocatedError(
                    f"no rubric '{rubric}' in this eval ({', '.join(ids)})",
                    ("thresholds", i, "metric"),
                )
        return self

    def rubric_texts(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for rubric in self.rubrics:
            if isinstance(rubric, str):
                out[rubric] = RUBRICS.get(rubric, rubric)
            else:
                out.update(rubric)
        return out


def load_eval(path: Path) -> EvalSpec:
    spec, _ = load_document(path, EvalSpec, what="eval file")
    return spec
