"""Map a character card onto a qualia scenario.

A card is free text about one character; a scenario is structured. The card's ``data`` is
kept verbatim in ``scenario.card.original`` and qualia's fields are derived from it, each
text in one place: its description is the partner's backstory (it reaches the Partner's
prompt whole, agents/card.py), its scenario the world, its personality the partner's
personality (whole; traits only where the card lists them in PList / W++ form), appearance
tags where the card states its body / appearance, its example dialogue the speech style.
``{{char}}`` / ``{{user}}`` are filled in these derived fields, never in ``original`` or the
lorebook (filled at use). What a scenario needs and a card lacks gets a plain default,
listed in ``notes``. Export writes the card back from ``original`` except the fields edited
since (authoring/cards/roundtrip.py).

A card exported by qualia carries the whole scenario in ``extensions.qualia``; if the card's
fields are unchanged since then, that scenario is restored exactly.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from qualia_cli.authoring.cards.errors import CardError
from qualia_cli.authoring.cards.models import CardData, CharacterBook
from qualia_cli.authoring.cards.plist import stated_appearance, stated_scenario, stated_traits
from qualia_cli.authoring.cards.read import LoadedCard
from qualia_cli.authoring.cards.roundtrip import ENTRY_INDEX, fingerprints
from qualia_cli.authoring.text import clip, fill_macros, first_paragraph, slug
from qualia_cli.memory.lore_import import LorebookImportError, map_lorebook
from qualia_cli.scenario.errors import ScenarioError
from qualia_cli.scenario.loader import load_scenario_dict
from qualia_cli.scenario.models import Scenario

QUALIA_EXTENSION = "qualia"
PLAYER_NAME = "you"
DEFAULT_AGE = 25
GENERIC_TAGS = {"female", "male", "oc", "original character", "human", "sfw", "nsfw", "character"}


@dataclass
class ImportedCard:
    scenario: Scenario
    notes: list[str] = field(default_factory=list)
    portrait: bytes | None = None  # PNG
    exact: bool = False  # restored from qualia's own extension


def card_fingerprint(data: CardData) -> str:
    """A hash of the fields an editor would change (detects edits after a qualia export)."""
    keys = (
        "name",
        "description",
        "personality",
        "scenario",
        "first_mes",
        "mes_example",
        "system_prompt",
        "post_history_instructions",
        "alternate_greetings",
        "tags",
    )
    picked: dict[str, Any] = {k: getattr(data, k) for k in keys}
    book = data.character_book
    picked["book"] = [[e.keys, e.content, e.enabled] for e in book.entries] if book else []
    blob = json.dumps(picked, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def scenario_from_card(card: LoadedCard, player_name: str | None = None) -> ImportedCard:
    """The scenario for ``card``; raises ScenarioError if the result would not validate.

    ``player_name`` is who ``{{user}}`` is in the card's texts (SillyTavern's persona name;
    default "you").
    """
    notes = list(card.notes)
    exact = _exact(card, notes)
    if exact is not None:
        return ImportedCard(exact, notes, card.portrait, exact=True)
    data = _mapped(card.data, card.spec, card.source, notes, player_name)
    indexes = data["lorebook"].pop("_indexes", [])
    scenario = load_scenario_dict(data, source=card.source)
    assert scenario.card is not None
    scenario.card.derived = {**fingerprints(scenario), ENTRY_INDEX: indexes}
    return ImportedCard(scenario, notes, card.portrait)


def _exact(card: LoadedCard, notes: list[str]) -> Scenario | None:
    ext = card.data.extensions.get(QUALIA_EXTENSION)
    if not isinstance(ext, dict) or not isinstance(ext.get("scenario"), dict):
        return None
    if ext.get("fingerprint") != card_fingerprint(card.data):
        notes.append("the card was edited after qualia exported it: imported from its fields")
        return None
    try:
        return load_scenario_dict(ext["scenario"], source=card.source)
    except ScenarioError as err:
        notes.append(f"the embedded qualia scenario is invalid ({err}); imported from the fields")
        return None


# --------------------------------------------------------------------------- mapping


def _guess_age(text: str) -> int | None:
    m = re.search(r"\b(\d{2,3})[- ](?:years?|yrs?)[- ]old\b", text, re.IGNORECASE) or re.search(
        r"\bage\s*[:=]?\s*(\d{2,3})\b", text, re.IGNORECASE
    )
    if m and 1 <= int(m.group(1)) <= 1000:
        return int(m.group(1))
    return None


def _guess_gender(text: str) -> str:
    words = re.findall(r"[a-z]+", text.lower())
    she = sum(w in ("she", "her", "hers", "herself", "woman", "girl") for w in words)
    he = sum(w in ("he", "him", "his", "himself", "man", "boy") for w in words)
    if she > he:
        return "woman"
    if he > she:
        return "man"
    return "person"


_GENDER_WORD = re.compile(r"^(?:woman|man|girl|boy|person|lady|guy|gal)\b\s*", re.IGNORECASE)


def _guess_occupation(name: str, description: str) -> str:
    """What "NAME is a …" says (``Wren is a 30-year-old lighthouse keeper`` → lighthouse
    keeper), without the age and a leading gender word; "unspecified" if it says nothing."""
    found = re.search(
        rf"\b{re.escape(name)}\s+is\s+an?\s+(?:\d{{1,3}}[- ]years?[- ]old\s+)?([^.,;:!?\n]+)",
        description,
        re.IGNORECASE,
    )
    if not found:
        return "unspecified"
    what = _GENDER_WORD.sub("", found.group(1).strip())
    return clip(what, 60).strip() or "unspecified"


def _speech(example: str, name: str) -> str:
    lines = [
        ln.strip()
        for ln in example.splitlines()
        if ln.strip() and not ln.strip().upper().startswith("<START>")
    ]
    own = [ln for ln in lines if ln.lower().startswith(name.lower() + ":")]
    sample = " ".join(own or lines)
    if not sample:
        return "Natural, in character."
    return "Speaks like this: " + clip(sample, 400)


def _genre(tags: list[str]) -> str:
    for tag in tags:
        if tag.strip().lower() not in GENERIC_TAGS:
            return clip(tag.strip().lower(), 40)
    return "role-play"


def _lorebook(book: CharacterBook | None, notes: list[str], source: str) -> dict[str, Any]:
    """The card's book as ``qualia memory import-lorebook`` maps one (memory/lore_import.py):
    fields a LoreEntry has map onto it, the entry's others are kept in
    ``extensions.card_entry``; ``{{char}}`` / ``{{user}}`` stay (filled at use)."""
    if book is None:
        return {}
    try:
        mapped = map_lorebook(book.model_dump(mode="json", exclude_unset=True))
    except LorebookImportError as err:
        raise CardError(source, f"character_book: {err}") from None
    if mapped.skipped:
        what = "entry" if mapped.skipped == 1 else "entries"
        notes.append(f"{mapped.skipped} lore {what} without keys or text skipped")
    return {**mapped.as_dict(), "_indexes": mapped.indexes}


def _appearance(
    name: str, gender: str, description: str, personality: str, notes: list[str]
) -> dict[str, Any]:
    """Appearance tags where the card states them (PList / W++ body), else a plain guess."""
    items = stated_appearance(description, personality)
    if items:
        return {"description": ", ".join(items), "tags": items}
    tags = ["solo", {"woman": "1girl", "man": "1boy"}.get(gender, "1other")]
    notes.append("appearance tags are only a guess (solo, " + tags[1] + "): add real ones")
    return {"description": f"{name} as the card describes", "tags": tags}


def _traits(description: str, personality: str) -> list[str]:
    """The personality verbatim (one item: prose is never cut into "traits"), or the traits
    the card lists in PList / W++ form."""
    listed = stated_traits(personality) or (stated_traits(description) if not personality else [])
    if listed:
        return listed
    return [personality] if personality else ["true to the description"]


def _mapped(
    card: CardData, spec: str, source: str, notes: list[str], player_name: str | None
) -> dict[str, Any]:
    name = clip(card.name.strip(), 40) or "Stranger"
    player_name = clip((player_name or "").strip(), 40) or PLAYER_NAME

    def fill(text: str) -> str:
        return fill_macros(text, name, player_name).strip()

    description = fill(card.description)
    personality = fill(card.personality)
    scenario_text = fill(card.scenario) or fill(stated_scenario(card.description))
    everything = " ".join([description, personality, scenario_text])
    age = _guess_age(everything)
    if age is None:
        age = DEFAULT_AGE
        notes.append(f"the card gives no age: partner.age set to {DEFAULT_AGE}; check it")
    gender = _guess_gender(description or everything)
    nsfw = any(t.strip().lower() == "nsfw" for t in card.tags)
    rating = "mature" if nsfw else "general"
    if nsfw and age < 18:
        raise CardError(source, f"the card is tagged NSFW but {name} is {age}: not imported")
    world = scenario_text or f"The story of {name}."
    opening = first_paragraph(scenario_text) or f"You meet {name}."
    if not card.first_mes.strip():
        notes.append("the card has no first message")
    original = {k: v for k, v in card.original().items()}
    if isinstance(original.get("extensions"), dict) and QUALIA_EXTENSION in original["extensions"]:
        original["extensions"] = {
            k: v for k, v in original["extensions"].items() if k != QUALIA_EXTENSION
        }
    return {
        "id": slug(name, fallback="imported_card"),
        "title": clip(card.nickname or name, 120),
        "genre": _genre(card.tags),
        "content_rating": rating,
        "summary": clip(first_paragraph(fill(card.creator_notes) or scenario_text), 200),
        "setting": {"world": world, "start_location": "where the story begins"},
        "player": {"role": f"the person {name} is talking to", "name": player_name},
        "partner": {
            "name": name,
            "age": age,
            "gender": gender,
            "occupation": _guess_occupation(name, description),
            "appearance": _appearance(name, gender, description, personality, notes),
            "personality": _traits(description, personality),
            "speech_style": _speech(fill(card.mes_example), name),
            "backstory": description,
        },
        "stats": [
            {"name": "affection", "description": f"How fond {name} is of you.", "start": 30},
            {"name": "trust", "description": f"How much {name} trusts you.", "start": 30},
        ],
        "opening": opening,
        "first_message": fill(card.first_mes),
        "lorebook": _lorebook(card.character_book, notes, source),
        "card": {
            "spec": spec,
            "system_prompt": card.system_prompt,
            "post_history_instructions": card.post_history_instructions,
            "example_dialogue": card.mes_example,
            "alternate_greetings": card.alternate_greetings,
            "tags": card.tags,
            "creator": card.creator,
            "creator_notes": card.creator_notes,
            "character_version": card.character_version,
            "extensions": {k: v for k, v in card.extensions.items() if k != QUALIA_EXTENSION},
            "original": original,
        },
    }
