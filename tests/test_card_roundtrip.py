"""Card round trips (``scenario import`` then ``scenario export --card``) on real-format cards,
checked field by field by an independent reader written from the V2 / V3 specs
(tests/support/card_spec.py). The cards are SillyTavern's bundled default (Seraphina, V2 with
a character book) and shapes built from the specs around it."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from support import card_spec
from support.cards import b64, charx, png_card

from qualia_cli.authoring.cards import read_card, scenario_from_card, write_card
from qualia_cli.authoring.yaml_writer import write_scenario
from qualia_cli.scenario import load_scenario

DATA = Path(__file__).parent / "data" / "cards"
PROSE = (
    "{{char}} is shy around strangers but will answer questions for {{user}} in a helpful and "
    "polite manner. She keeps a diary, hates thunder, and never, ever lies."
)


def seraphina() -> dict[str, Any]:
    return json.loads((DATA / "default_Seraphina.chara.json").read_text())


def v1_tavern() -> dict[str, Any]:
    d = seraphina()["data"]
    keys = ("name", "description", "personality", "scenario", "first_mes", "mes_example")
    return {k: d[k] for k in keys} | {"personality": PROSE}


def v2_book() -> dict[str, Any]:
    card = seraphina()
    card["data"]["avatar"] = "none"  # non-standard, as older SillyTavern exports carry it
    return card


def v2_chub() -> dict[str, Any]:
    card = seraphina()
    card["data"]["personality"] = PROSE
    card["data"]["tags"] = ["Fantasy", "Female", "OC"]
    card["data"]["extensions"]["chub"] = {
        "id": 1234,
        "full_path": "someone/seraphina",
        "expressions": None,
        "alt_expressions": {},
        "related_lorebooks": [],
    }
    del card["data"]["character_book"]
    return card


def v3() -> dict[str, Any]:
    card = seraphina()
    card["spec"], card["spec_version"] = "chara_card_v3", "3.0"
    d = card["data"]
    d["system_prompt"] = "{{original}}\nWrite {{char}}'s next reply in a gentle voice."
    d["post_history_instructions"] = "Stay in character as {{char}}; never speak for {{user}}."
    d["extensions"]["depth_prompt"] = {
        "prompt": "{{char}} still smells smoke.",
        "depth": 2,
        "role": "system",
    }
    for entry in d["character_book"]["entries"]:
        entry["use_regex"] = True  # as SillyTavern writes every entry
    d["character_book"]["entries"][1]["position"] = "after_char"
    d |= {
        "nickname": "Sera",
        "group_only_greetings": [],
        "creator_notes_multilingual": {"en": "ST default bot"},
        "source": ["https://example.org/sera"],
        "creation_date": 1700000000,
        "modification_date": 1700000500,
        "assets": [{"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}],
    }
    return card


CARDS = {
    "v1_tavern.json": (v1_tavern, "json"),
    "v2_book.json": (v2_book, "json"),
    "v2_chub.png": (v2_chub, "chara"),
    "v3.json": (v3, "json"),
    "v3.png": (v3, "ccv3"),
    "v3.charx": (v3, "charx"),
}
# What a round trip changes on purpose: V1/V2 come back as V3 (+ V2 for old tools in a PNG),
# which adds V3's required fields; the qualia extension rides along in extensions.
EXPECTED_ADDED = {"group_only_greetings", "assets"}


def write_card_file(tmp_path: Path, name: str) -> tuple[Path, dict[str, Any]]:
    make, how = CARDS[name]
    card = make()
    path = tmp_path / name
    if how == "json":
        path.write_text(json.dumps(card, ensure_ascii=False))
    elif how in ("chara", "ccv3"):
        path.write_bytes(png_card({how: b64(card)}))
    else:
        path.write_bytes(charx(card))
    return path, card


def round_trip(tmp_path: Path, path: Path, edit: Any = None) -> Path:
    imported = scenario_from_card(read_card(path)).scenario
    yaml_path = write_scenario(imported, tmp_path / "s.yaml")
    scenario = load_scenario(yaml_path)  # through the scenario file, as a writer has it
    if edit is not None:
        scenario = edit(scenario)
    return write_card(scenario, tmp_path / f"out{path.suffix}")


def data_of(card: dict[str, Any]) -> dict[str, Any]:
    return card.get("data", card)  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", list(CARDS))
def test_every_card_field_survives_a_round_trip(tmp_path: Path, name: str) -> None:
    path, _ = write_card_file(tmp_path, name)
    before = card_spec.read(path)
    after = card_spec.read(round_trip(tmp_path, path))
    assert card_spec.check(after) == []
    assert after["spec"] == "chara_card_v3"
    b, a = data_of(before), dict(data_of(after))
    qualia = a["extensions"].pop("qualia")
    assert qualia["version"] == 1
    diff = card_spec.field_diff(b, a)
    # a CHARX's icon is the archive's own file; a V2 book's entries gain V3's use_regex
    allowed = {"assets"} if name.endswith(".charx") else set()
    if name.startswith("v2") and b.get("character_book"):
        allowed.add("character_book")
    assert {k for k, v in diff.items() if v == "changed"} <= allowed, diff
    assert {k for k, v in diff.items() if v == "added"} <= EXPECTED_ADDED | set(card_spec.V3_FIELDS)
    assert "{{char}}" in a["description"] and "{{user}}" in a["description"]
    for key in ("description", "personality", "first_mes", "scenario", "mes_example"):
        assert a[key].count("{{") == (b.get(key) or "").count("{{")  # placeholders stay
    if b.get("character_book"):  # every entry, position and use_regex included
        entries = [{"use_regex": False, **e} for e in b["character_book"]["entries"]]
        assert a["character_book"] == {**b["character_book"], "entries": entries}


def test_a_png_exports_a_v2_chunk_that_keeps_unknown_fields(tmp_path: Path) -> None:
    path = tmp_path / "v2.json"
    path.write_text(json.dumps(v2_book()))
    round_trip(tmp_path, path)
    out = write_card(load_scenario(tmp_path / "s.yaml"), tmp_path / "out.png")
    chunks = card_spec.png_text(out.read_bytes())
    v2 = json.loads(base64.b64decode(chunks["chara"]))
    assert v2["spec"] == "chara_card_v2" and v2["data"]["avatar"] == "none"
    assert card_spec.check(v2) == []
    assert v2["description"] == v2_book()["data"]["description"]  # V1 fields for old tools


def test_only_the_edited_field_changes(tmp_path: Path) -> None:
    path, card = write_card_file(tmp_path, "v3.json")

    def edit(s: Any) -> Any:
        partner = s.partner.model_copy(update={"personality": ["brave", "tired"]})
        lore = copy.deepcopy(s.lorebook)
        lore.entries[2] = lore.entries[2].model_copy(update={"content": "A new rumour."})
        return s.model_copy(update={"partner": partner, "lorebook": lore})

    after = data_of(card_spec.read(round_trip(tmp_path, path, edit)))
    before = card["data"]
    after["extensions"].pop("qualia")
    diff = card_spec.field_diff(before, after)
    assert {k for k, v in diff.items() if v == "changed"} == {"personality", "character_book"}
    assert after["personality"] == "brave, tired"
    entries = after["character_book"]["entries"]
    assert entries[2]["content"] == "A new rumour."
    for i in (0, 1, 3):  # the other entries exactly as the card had them
        assert entries[i] == before["character_book"]["entries"][i]
    assert entries[2]["position"] == before["character_book"]["entries"][2]["position"]
    assert entries[2]["use_regex"] is True and entries[2]["id"] == 2


def test_import_derives_without_copying_or_cutting(tmp_path: Path) -> None:
    path, _ = write_card_file(tmp_path, "v2_book.json")
    s = scenario_from_card(read_card(path)).scenario
    p = s.partner
    # [Seraphina's Personality= ...] and [Seraphina's body= ...] are read as stated
    assert p.personality[:3] == ["caring", "protective", "compassionate"]
    assert p.appearance.tags[:3] == ["pink hair", "long hair", "amber eyes"]
    assert "black sundress" in p.appearance.tags and "1girl" not in p.appearance.tags
    # the description lives in one place (the backstory), not world / appearance as well
    assert "<START>" in p.backstory and "<START>" not in s.setting.world
    assert "<START>" not in p.appearance.description
    assert s.setting.world.startswith("You were attacked by beasts")  # [Scenario: ...]
    assert s.card is not None and "fantasy" not in s.card.tags  # no genre added to tags

    path, _ = write_card_file(tmp_path, "v2_chub.png")
    s = scenario_from_card(read_card(path)).scenario
    assert s.partner.personality == [
        PROSE.replace("{{char}}", "Seraphina").replace("{{user}}", "you")
    ]  # prose is kept whole, never cut into fragments
    assert s.card is not None and s.card.creator_notes == seraphina()["data"]["creator_notes"]
