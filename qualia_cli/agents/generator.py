"""Scenario Generator: invents a scenario in two structured calls, each under a tight schema.

1. :class:`ScenarioWriter` writes the world, the partner, the stats and the opening.
2. :class:`PlotWriter` writes the endings and lore for *that* scenario: its schema only
   allows the stats the first call chose, so a small model cannot reference a stat that
   does not exist.

Both follow the agent pattern (prompt template + output schema + pure ``-> messages``), but
take a :class:`GeneratorBrief` instead of a story context: there is no story yet. The
orchestration (retries with validation errors, assembly, keywords) lives in
:mod:`qualia_cli.authoring.generator`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field

from qualia_cli.agents.base import join
from qualia_cli.agents.director import PACE_RULES, TIMES_OF_DAY
from qualia_cli.agents.fields import short, tag_list
from qualia_cli.agents.template import PromptTemplate, load_template
from qualia_cli.llm.base import ChatMessage
from qualia_cli.llm.schema import schema_for
from qualia_cli.scenario.models import MOODS

# Two stat slots from disjoint pools: a small model that repeats itself still gets two
# different stats, and endings can only name these (see PlotWriter.schema).
BOND_STATS: tuple[str, ...] = (
    "trust",
    "affection",
    "respect",
    "rapport",
    "admiration",
    "comfort",
    "loyalty",
)
STORY_STATS: tuple[str, ...] = ("curiosity", "courage", "suspicion", "hope", "clues", "resolve")
STAT_POOL: tuple[str, ...] = BOND_STATS + STORY_STATS

RATING_RULES = {
    "general": "suitable for everyone: no graphic violence, romance at most warm and chaste",
    "teen": "mild peril and romance are fine, nothing graphic or explicit",
    "mature": "adult themes are allowed; every character is an adult",
}


@dataclass(frozen=True)
class GeneratorBrief:
    genre: str
    setting: str
    hook: str
    pace: str = "medium"
    rating: str = "general"
    premise: str = ""

    def premise_text(self) -> str:
        return self.premise or f"A {self.genre} story set in {self.setting}, about {self.hook}."


# --------------------------------------------------------------------------- outputs


class PartnerDraft(BaseModel):
    name: short(30)  # type: ignore[valid-type]
    age: int = Field(ge=18, le=80)
    gender: Literal["woman", "man", "nonbinary person"]
    occupation: short(40)  # type: ignore[valid-type]
    appearance: short(180)  # type: ignore[valid-type]
    appearance_tags: tag_list(8, 30)  # type: ignore[valid-type]
    personality: tag_list(4, 40)  # type: ignore[valid-type]
    speech_style: short(120)  # type: ignore[valid-type]
    likes: tag_list(3, 40)  # type: ignore[valid-type]
    dislikes: tag_list(3, 40)  # type: ignore[valid-type]
    secret: short(140)  # type: ignore[valid-type]
    backstory: short(200)  # type: ignore[valid-type]


class StatDraft(BaseModel):
    name: short(20)  # type: ignore[valid-type]
    description: short(80)  # type: ignore[valid-type]
    start: int = Field(ge=0, le=60)


class WorldDraft(BaseModel):
    title: short(60)  # type: ignore[valid-type]
    summary: short(140)  # type: ignore[valid-type]
    world: short(400)  # type: ignore[valid-type]
    player_role: short(100)  # type: ignore[valid-type]
    start_location: short(40)  # type: ignore[valid-type]
    start_time: short(20)  # type: ignore[valid-type]
    locations: tag_list(4, 40)  # type: ignore[valid-type]
    partner: PartnerDraft
    bond: StatDraft  # how the partner feels about the player
    story_stat: StatDraft  # how the story stands

    @property
    def stats(self) -> list[StatDraft]:
        return [self.bond, self.story_stat]

    starting_mood: short(20)  # type: ignore[valid-type]
    opening: short(450)  # type: ignore[valid-type]
    first_message: short(180)  # type: ignore[valid-type]
    style_tags: tag_list(5, 30)  # type: ignore[valid-type]


class EndingDraft(BaseModel):
    title: short(50)  # type: ignore[valid-type]
    kind: Literal["good", "bad", "neutral"]
    stat: short(20)  # type: ignore[valid-type]
    comparison: Literal[">=", "<="]
    value: int = Field(ge=0, le=100)
    after_turn: int = Field(ge=1, le=100)
    description: short(140)  # type: ignore[valid-type]


class LoreDraft(BaseModel):
    keys: tag_list(3, 30)  # type: ignore[valid-type]
    content: short(180)  # type: ignore[valid-type]


class PlotDraft(BaseModel):
    endings: list[EndingDraft] = Field(min_length=1, max_length=3)
    lore: list[LoreDraft] = Field(default_factory=list, max_length=3)


# --------------------------------------------------------------------------- schema helpers


def _at_least(node: dict[str, Any], **limits: int) -> None:
    """Add ``minLength`` (strings) or ``minItems`` (lists) to properties of ``node``."""
    for name, n in limits.items():
        prop = node["properties"][name]
        prop["minItems" if prop.get("type") == "array" else "minLength"] = n


def _enum(node: dict[str, Any], name: str, values: list[str] | tuple[str, ...]) -> None:
    node["properties"][name] = {"type": "string", "enum": list(values)}


def _no_empty_items(node: dict[str, Any], *names: str) -> None:
    for name in names:
        node["properties"][name]["items"]["minLength"] = 2


# --------------------------------------------------------------------------- agents


class _Writer:
    """One generator call: a template filled from the inputs, and the output's schema."""

    role: ClassVar[str] = "generator"
    template_name: ClassVar[str]
    output: ClassVar[type[BaseModel]]
    variables: ClassVar[frozenset[str]]

    @classmethod
    def template(cls) -> PromptTemplate:
        return load_template(cls.template_name, cls.variables)

    @classmethod
    def values(cls, brief: GeneratorBrief, *inputs: Any) -> dict[str, object]:
        raise NotImplementedError

    @classmethod
    def messages(cls, brief: GeneratorBrief, *inputs: Any) -> list[ChatMessage]:
        """``values(brief, *inputs)`` rendered into the template."""
        return cls.template().render(cls.values(brief, *inputs))

    @classmethod
    def output_schema(cls) -> dict[str, Any]:
        """A copy of the output's JSON schema, for the writer to narrow."""
        return copy.deepcopy(schema_for(cls.output))


class ScenarioWriter(_Writer):
    template_name = "generator"
    output = WorldDraft
    variables = frozenset(
        {
            "genre",
            "setting",
            "hook",
            "pace",
            "pace_rule",
            "rating",
            "rating_rule",
            "bond_stats",
            "story_stats",
            "moods",
            "times",
            "premise",
            "feedback",
        }
    )

    @classmethod
    def values(  # type: ignore[override]
        cls, brief: GeneratorBrief, feedback: str = ""
    ) -> dict[str, object]:
        return {
            "genre": brief.genre,
            "setting": brief.setting,
            "hook": brief.hook,
            "pace": brief.pace,
            "pace_rule": PACE_RULES.get(brief.pace, PACE_RULES["medium"]),
            "rating": brief.rating,
            "rating_rule": RATING_RULES.get(brief.rating, RATING_RULES["general"]),
            "bond_stats": join(list(BOND_STATS)),
            "story_stats": join(list(STORY_STATS)),
            "moods": join(list(MOODS)),
            "times": join(list(TIMES_OF_DAY)),
            "premise": brief.premise_text(),
            "feedback": feedback,
        }

    @classmethod
    def schema(cls, brief: GeneratorBrief) -> dict[str, Any]:
        schema = cls.output_schema()
        _at_least(
            schema,
            title=4,
            summary=30,
            world=150,
            player_role=8,
            start_location=3,
            locations=2,
            opening=150,
            first_message=15,
            style_tags=2,
        )
        _no_empty_items(schema, "locations", "style_tags")
        _enum(schema, "start_time", TIMES_OF_DAY)
        _enum(schema, "starting_mood", MOODS)
        for slot, pool in (("bond", BOND_STATS), ("story_stat", STORY_STATS)):
            stat = schema["properties"][slot]
            _enum(stat, "name", pool)
            _at_least(stat, description=10)
        partner = schema["properties"]["partner"]
        _at_least(
            partner,
            name=2,
            occupation=3,
            appearance=40,
            appearance_tags=4,
            personality=2,
            speech_style=15,
            likes=1,
            secret=15,
            backstory=40,
        )
        _no_empty_items(partner, "appearance_tags", "personality", "likes", "dislikes")
        return schema


class PlotWriter(_Writer):
    template_name = "generator_plot"
    output = PlotDraft
    variables = frozenset(
        {
            "title",
            "genre",
            "world",
            "player_role",
            "partner_name",
            "partner_summary",
            "stats",
            "locations",
            "feedback",
        }
    )

    @classmethod
    def values(  # type: ignore[override]
        cls, brief: GeneratorBrief, world: WorldDraft, feedback: str = ""
    ) -> dict[str, object]:
        p = world.partner
        return {
            "title": world.title,
            "genre": brief.genre,
            "world": world.world,
            "player_role": world.player_role,
            "partner_name": p.name,
            "partner_summary": f"a {p.age}-year-old {p.gender}, {p.occupation}",
            "stats": join(
                [f"{s.name} (starts at {s.start}: {s.description})" for s in world.stats]
            ),
            "locations": join([world.start_location, *world.locations]),
            "feedback": feedback,
        }

    @classmethod
    def schema(cls, world: WorldDraft) -> dict[str, Any]:
        schema = cls.output_schema()
        endings = schema["properties"]["endings"]
        endings.update(minItems=2, maxItems=3)
        names = list(dict.fromkeys(s.name for s in world.stats))
        _enum(endings["items"], "stat", names)
        ending = endings["items"]["properties"]
        ending["after_turn"].update(minimum=3, maximum=60)
        _at_least(endings["items"], title=4, description=20)
        lore = schema["properties"]["lore"]
        lore.update(minItems=2, maxItems=3)
        _at_least(lore["items"], keys=1, content=20)
        _no_empty_items(lore["items"], "keys")
        return schema
