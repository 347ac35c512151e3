"""Pydantic models of character-card JSON (V1 / V2 / V3), validated but never executed.

Cards are a foreign format that tools extend freely, and unknown fields must survive an
import, so these models use ``extra="allow"`` on purpose: known fields are typed and
checked, everything else is kept verbatim (see :func:`CardData.unknown_fields`). Common
sloppiness in real cards is tolerated: ``null`` for a missing value, a comma-separated
string where a list belongs.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, model_validator


def _str_list(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        return [str(v) for v in value if v is not None and str(v).strip()]
    return value


def _text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


StrList = Annotated[list[str], BeforeValidator(_str_list)]
Text = Annotated[str, BeforeValidator(_text)]


class _Card(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _drop_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None}
        return data

    def unknown_fields(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class BookEntry(_Card):
    keys: StrList = Field(default_factory=list)
    content: Text = ""
    extensions: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True
    insertion_order: int = 100
    case_sensitive: bool | None = None
    constant: bool = False
    use_regex: bool = False
    name: Text = ""
    priority: int | None = None
    id: int | str | None = None
    comment: Text = ""
    selective: bool = False
    secondary_keys: StrList = Field(default_factory=list)
    position: Text = ""


class CharacterBook(_Card):
    name: Text = ""
    description: Text = ""
    scan_depth: int | None = None
    token_budget: int | None = None
    recursive_scanning: bool | None = None
    extensions: dict[str, Any] = Field(default_factory=dict)
    entries: list[BookEntry] = Field(default_factory=list)


class CardData(_Card):
    """The ``data`` object of a V2/V3 card (a V1 card is read into the same shape)."""

    name: Text = Field(min_length=1)
    description: Text = ""
    personality: Text = ""
    scenario: Text = ""
    first_mes: Text = ""
    mes_example: Text = ""
    creator_notes: Text = ""
    system_prompt: Text = ""
    post_history_instructions: Text = ""
    alternate_greetings: StrList = Field(default_factory=list)
    character_book: CharacterBook | None = None
    tags: StrList = Field(default_factory=list)
    creator: Text = ""
    character_version: Text = ""
    extensions: dict[str, Any] = Field(default_factory=dict)
    # V3 additions that qualia reads (the rest of V3 is kept through unknown_fields)
    nickname: Text = ""
    group_only_greetings: StrList = Field(default_factory=list)
    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)

    def original(self) -> dict[str, Any]:
        """The card's ``data`` object exactly as the file had it (nulls and all)."""
        return dict(self._raw)


# Old TavernAI / Pygmalion field names, read as their V1 equivalents.
V1_ALIASES: dict[str, str] = {
    "char_name": "name",
    "char_persona": "description",
    "world_scenario": "scenario",
    "char_greeting": "first_mes",
    "example_dialogue": "mes_example",
}
