"""The playthrough script format (`*.play.yaml`), as Pydantic models. Unknown keys are errors.

scenario: fogbound_archive          # a bundled id or a path (relative to this file)
model: local/smollm2                # every agent; or models: {default: …, partner: …}
seed: 7                             # model seeds follow it (and the turn)
cassette: fogbound_archive.cassette.yaml
setup:                              # run before every test
  state: {stats: {trust: 30}, location: archive reading room}
  turns: [{say: "Good evening."}]
tests:
  asks_about_ledgers:
    turns:
      - say: Which ledgers survived the fire?
        expect: ["{vital} /ledger|fire/i", "!As an AI"]
      - choose: 1                   # the Strategist's first suggestion (or /regex/)
      - include: _small_talk        # another test's turns; `_x` tests are include-only
    final:
      - {state: "partner.trust >= 30"}
      - {judge: "Maren stays guarded and precise", min_score: 3}
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from qualia_cli.config import AGENT_ROLES
from qualia_cli.engine import SamplingPins
from qualia_cli.scenario.file_errors import LocatedError

Target = Literal["turn", "partner", "action", "narration", "director", "visual", "strategist"]
TARGETS: tuple[str, ...] = (
    "turn",
    "partner",
    "action",
    "narration",
    "director",
    "visual",
    "strategist",
)

TEXT_KINDS = ("contains", "not-contains", "regex", "not-regex", "equals", "not-equals")
KINDS = (
    *TEXT_KINDS,
    "state",
    "delta",
    "location",
    "location_changed",
    "scene_changed",
    "ending",
    "image_tags",
    "suggestions",
    "latency_ms",
    "tokens",
    "cost_usd",
    "no_agent_errors",
    "judge",
)
# modifiers each kind accepts (besides `vital`, which every check takes)
MODIFIERS: dict[str, frozenset[str]] = {
    **dict.fromkeys(TEXT_KINDS, frozenset({"on", "count", "case_sensitive"})),
    "latency_ms": frozenset({"agent"}),
    "tokens": frozenset({"agent"}),
    "cost_usd": frozenset({"agent"}),
    "judge": frozenset({"min_score", "model"}),
}
ALL_MODIFIERS = ("on", "count", "case_sensitive", "agent", "min_score", "model")

Number = int | float


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ImageTags(_Strict):
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)


class CheckSpec(_Strict):
    """One check written as a mapping: exactly one kind key plus modifiers."""

    contains: str | None = None
    not_contains: str | None = Field(None, alias="not-contains")
    regex: str | None = None
    not_regex: str | None = Field(None, alias="not-regex")
    equals: str | None = None
    not_equals: str | None = Field(None, alias="not-equals")
    state: str | None = None
    delta: str | None = None
    location: str | None = None
    location_changed: bool | None = None
    scene_changed: bool | None = None
    ending: str | None = None
    image_tags: ImageTags | None = None
    suggestions: str | int | None = None
    latency_ms: str | Number | None = None
    tokens: str | int | None = None
    cost_usd: str | Number | None = None
    no_agent_errors: bool | None = None
    judge: str | None = Field(None, min_length=1, max_length=600)
    # modifiers
    vital: bool = False
    on: Target | None = None
    count: int | None = Field(None, ge=1)
    case_sensitive: bool | None = None
    agent: Literal["director", "partner", "visual", "strategist"] | None = None
    min_score: int | None = Field(None, ge=1, le=5)
    model: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _yaml_on(cls, data: Any) -> Any:
        """YAML 1.1 reads the key `on` as true: take it back."""
        if isinstance(data, dict) and True in data and "on" not in data:
            data = {("on" if k is True else k): v for k, v in data.items()}
        return data

    @property
    def kind(self) -> str:
        return next(k for k in KINDS if getattr(self, k.replace("-", "_")) is not None)

    @property
    def value(self) -> Any:
        return getattr(self, self.kind.replace("-", "_"))

    @model_validator(mode="after")
    def _one_kind(self) -> CheckSpec:
        given = [k for k in KINDS if getattr(self, k.replace("-", "_")) is not None]
        if not given:
            raise LocatedError(f"a check needs one of: {', '.join(KINDS)}")
        if len(given) > 1:
            raise LocatedError(f"one check per mapping: found {', '.join(given)} (split them)")
        allowed = MODIFIERS.get(given[0], frozenset())
        for name in ALL_MODIFIERS:
            if getattr(self, name) is not None and name not in allowed:
                kinds = [k for k, mods in MODIFIERS.items() if name in mods]
                raise LocatedError(
                    f"'{name}' does not apply to a {given[0]} check (only {', '.join(kinds)})",
                    (name,),
                )
        return self


def _check_form(value: Any) -> str:
    return "text" if isinstance(value, str) else "mapping"


# a check is a shorthand string or a mapping; the discriminator keeps errors to the one form
CheckItem = Annotated[
    Annotated[str, Tag("text")] | Annotated[CheckSpec, Tag("mapping")],
    Discriminator(_check_form),
]
Checks = list[CheckItem]


def _as_list(value: Any) -> Any:
    return value if isinstance(value, list) else [value]


class StepSpec(_Strict):
    """A turn (`say` or `choose`) with its checks, or `include` of another test's turns."""

    say: str | None = Field(None, min_length=1, max_length=2000)
    choose: int | str | None = None
    include: str | None = None
    expect: Checks = Field(default_factory=list)

    _one_or_many = field_validator("expect", mode="before")(_as_list)

    @model_validator(mode="after")
    def _one_action(self) -> StepSpec:
        given = [k for k in ("say", "choose", "include") if getattr(self, k) is not None]
        if len(given) != 1:
            found = f"found {', '.join(given)}" if given else "found none"
            raise LocatedError(f"a turn needs exactly one of say, choose, include ({found})")
        if self.include is not None and self.expect:
            raise LocatedError("an include takes no expect (put checks on the included turns)")
        if isinstance(self.choose, bool) or (isinstance(self.choose, int) and self.choose < 1):
            raise LocatedError("choose takes a suggestion number from 1, or /regex/", ("choose",))
        return self

    def checks(self) -> list[str | CheckSpec]:
        return list(self.expect)


class StartStateSpec(_Strict):
    stats: dict[str, int] = Field(default_factory=dict)
    mood: str | None = None
    location: str | None = Field(None, min_length=1)
    time: str | None = Field(None, min_length=1)

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True, exclude_defaults=True)


class SetupSpec(_Strict):
    state: StartStateSpec | None = None
    turns: list[StepSpec] = Field(default_factory=list)


class TestSpec(_Strict):
    description: str = ""
    state: StartStateSpec | None = None
    seed: int | None = None
    turns: list[StepSpec] = Field(default_factory=list)
    final: Checks = Field(default_factory=list)

    _one_or_many = field_validator("final", mode="before")(_as_list)


class ScriptSpec(_Strict):
    scenario: str = Field(min_length=1)
    model: str | None = None
    models: dict[str, str] = Field(default_factory=dict)
    seed: int = 0
    cassette: str | None = None
    sampling: SamplingPins | None = None  # what the cassette was recorded with
    setup: SetupSpec | None = None
    tests: dict[str, TestSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _names(self) -> ScriptSpec:
        for role in self.models:
            if role != "default" and role not in AGENT_ROLES:
                raise LocatedError(
                    f"unknown agent '{role}' (use default, {', '.join(AGENT_ROLES)})",
                    ("models", role),
                )
        if self.model and self.models:
            raise LocatedError("give either model (every agent) or models, not both", ("model",))
        for role in self.sampling.unknown_agents() if self.sampling else []:
            raise LocatedError(
                f"unknown agent '{role}' (use {', '.join(AGENT_ROLES)})",
                ("sampling", "agents", role),
            )
        if all(name.startswith("_") for name in self.tests):
            raise LocatedError(
                "every test is include-only (named _x): add a test to run", ("tests",)
            )
        return self
