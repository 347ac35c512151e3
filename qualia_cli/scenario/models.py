"""Pydantic models of a scenario file (`scenarios/*.yaml`). Unknown keys are errors."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from qualia_cli.scenario.file_errors import LocatedError
from qualia_cli.scenario.lore_keys import compile_key

Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
Suggestion = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=70)]
Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]

MOODS: tuple[str, ...] = (
    "neutral",
    "happy",
    "playful",
    "curious",
    "shy",
    "nervous",
    "sad",
    "angry",
    "annoyed",
    "surprised",
    "thoughtful",
    "affectionate",
    "worried",
    "excited",
    "tired",
    "determined",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Rating(StrEnum):
    GENERAL = "general"
    TEEN = "teen"
    MATURE = "mature"


class Pace(StrEnum):
    SLOW = "slow"
    MEDIUM = "medium"
    FAST = "fast"


class Setting(_Strict):
    world: str = Field(min_length=1, description="The world in a paragraph.")
    start_location: str = Field(min_length=1, max_length=80)
    start_time: str = Field(default="morning", min_length=1, max_length=40)
    locations: list[str] = Field(
        default_factory=list, description="Known places the story may move between."
    )


class Appearance(_Strict):
    description: str = Field(min_length=1)
    tags: list[Tag] = Field(
        min_length=1, description="Stable SDXL appearance tags, used in every image prompt."
    )


class Partner(_Strict):
    name: str = Field(min_length=1, max_length=40)
    age: int = Field(ge=1, le=1000)
    gender: str = Field(min_length=1, max_length=30)
    occupation: str = Field(min_length=1, max_length=80)
    appearance: Appearance
    personality: list[str] = Field(min_length=1)
    speech_style: str = Field(min_length=1)
    likes: list[str] = Field(default_factory=list)
    dislikes: list[str] = Field(default_factory=list)
    secrets: list[str] = Field(default_factory=list)
    backstory: str = ""


class StatDef(_Strict):
    name: Name
    description: str = ""
    min: int = 0
    max: int = 100
    start: int = 50

    @model_validator(mode="after")
    def _bounds(self) -> StatDef:
        if self.min >= self.max:
            raise LocatedError(f"min ({self.min}) must be below max ({self.max})", ("min",))
        if not self.min <= self.start <= self.max:
            raise LocatedError(
                f"start ({self.start}) must lie within {self.min}..{self.max}", ("start",)
            )
        return self


class Ending(_Strict):
    id: Name
    title: str = Field(min_length=1)
    condition: str = Field(
        min_length=1,
        description=(
            "A condition on stats, mood, location, time and turn "
            "(see qualia_cli.scenario.conditions), e.g. 'trust >= 80 and turn >= 10'."
        ),
    )
    description: str = ""
    kind: str = Field(default="good", pattern="^(good|bad|neutral)$")


class ImageStyle(_Strict):
    style_tags: list[Tag] = Field(default_factory=list)
    negative_tags: list[Tag] = Field(default_factory=list)


class Player(_Strict):
    role: str = Field(min_length=1, description="Who the player is in this story.")
    name: str = Field(default="you", min_length=1, max_length=40)


class LoreEntry(_Strict):
    """A lorebook entry (the fields of a SillyTavern V2/V3 character-book entry)."""

    keys: list[str] = Field(min_length=1)
    secondary_keys: list[str] = Field(default_factory=list)
    content: str = Field(min_length=1)
    regex: bool = False  # keys are regular expressions
    constant: bool = False  # always inserted
    selective: bool = False  # needs a key AND a secondary key
    insertion_order: int = 100
    enabled: bool = True
    comment: str = ""
    extensions: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _keys_compile(self) -> LoreEntry:
        case_sensitive = bool(self.extensions.get("case_sensitive", False))
        for field in ("keys", "secondary_keys"):
            for i, key in enumerate(getattr(self, field)):
                try:
                    compile_key(key, regex=self.regex, case_sensitive=case_sensitive)
                except ValueError as err:
                    raise LocatedError(str(err), (field, i)) from None
        return self


class Lorebook(_Strict):
    name: str = ""
    token_budget: int = Field(default=400, ge=50, le=8000)
    scan_depth: int = Field(default=4, ge=1, le=100)
    entries: list[LoreEntry] = Field(default_factory=list)


class CardExtras(_Strict):
    """What a character card carries that a scenario has no place for (kept for re-export)."""

    spec: str = Field(default="", description="The card's spec, e.g. chara_card_v3.")
    system_prompt: str = ""
    post_history_instructions: str = ""
    example_dialogue: str = Field(default="", description="The card's mes_example.")
    alternate_greetings: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    creator: str = ""
    creator_notes: str = ""
    character_version: str = ""
    extensions: dict[str, Any] = Field(
        default_factory=dict, description="The card's extensions (other tools' data), verbatim."
    )
    fields: dict[str, Any] = Field(
        default_factory=dict, description="Card fields qualia does not use, kept verbatim."
    )
    original: dict[str, Any] = Field(
        default_factory=dict,
        description="The card's data object exactly as imported: export writes each field "
        "back unchanged unless the scenario's value for it was edited since.",
    )
    derived: dict[str, Any] = Field(
        default_factory=dict,
        description="Fingerprints of what qualia derived for each card field at import "
        "(how export tells an edited field from an untouched one).",
    )


class Scenario(_Strict):
    id: Name
    title: str = Field(min_length=1, max_length=120)
    genre: str = Field(min_length=1, max_length=40)
    narrative_pace: Pace = Pace.MEDIUM
    content_rating: Rating = Rating.GENERAL
    summary: str = ""
    setting: Setting
    player: Player
    partner: Partner
    stats: list[StatDef] = Field(min_length=1)
    starting_mood: str = "neutral"
    opening: str = Field(min_length=1, description="Opening narration shown before turn 1.")
    first_message: str = Field(default="", description="The partner's first line, if any.")
    endings: list[Ending] = Field(default_factory=list)
    images: ImageStyle = Field(default_factory=ImageStyle)
    lorebook: Lorebook = Field(default_factory=Lorebook)
    # moves offered when the Strategist's are unusable (echoes, repeats, a failed call)
    suggestions: list[Suggestion] = Field(default_factory=list, max_length=12)
    card: CardExtras | None = None

    @model_validator(mode="after")
    def _check(self) -> Scenario:
        names = [s.name for s in self.stats]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            again = next(i for i, n in enumerate(names) if n in dupes and names.index(n) < i)
            raise LocatedError(
                f"stat names must be unique; repeated: {', '.join(dupes)}", ("stats", again, "name")
            )
        if self.starting_mood not in MOODS:
            raise LocatedError(
                f"'{self.starting_mood}' is not a known mood; use one of: " + ", ".join(MOODS),
                ("starting_mood",),
            )
        if self.content_rating is Rating.MATURE and self.partner.age < 18:
            raise LocatedError(
                f"a mature scenario needs every character to be an adult: "
                f"partner {self.partner.name} is {self.partner.age}",
                ("partner", "age"),
            )
        return self

    def stat(self, name: str) -> StatDef | None:
        return next((s for s in self.stats if s.name == name), None)
