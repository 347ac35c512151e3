"""Character cards: V1/V2/V3 in JSON, PNG chunks and CHARX, their mapping, and bad input."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from pathlib import Path

import pytest
from PIL import Image
from support.cards import b64, book, charx, chunk, png_card, png_image, v1, v2, v3
from support.cli import qualia as run_qualia

from qualia_cli.authoring.cards import CardError, read_card, scenario_from_card, write_card
from qualia_cli.authoring.cards import errors as limits
from qualia_cli.authoring.cards.png import read_text_chunks
from qualia_cli.scenario import load_scenario
from qualia_cli.scenario.models import Lorebook, LoreEntry


def write(tmp_path: Path, name: str, blob: bytes | str) -> Path:
    path = tmp_path / name
    if isinstance(blob, str):
        path.write_text(blob)
    else:
        path.write_bytes(blob)
    return path


def imported(path: Path):  # type: ignore[no-untyped-def]
    return scenario_from_card(read_card(path))


# --------------------------------------------------------------------------- versions


def test_v1_json_card_maps_onto_a_valid_scenario(tmp_path: Path) -> None:
    result = imported(write(tmp_path, "mira.json", json.dumps(v1())))
    s = result.scenario
    assert s.id == "mira" and s.partner.name == "Mira"
    assert s.partner.age == 27 and s.partner.gender == "woman"  # read from the description
    assert s.setting.world == "you arrives at the lighthouse during a storm."  # the card's scenario
    assert s.partner.backstory.startswith("Mira is a 27-year-old lighthouse keeper")  # filled
    assert "lighthouse keeper" not in s.setting.world + s.partner.appearance.description
    assert s.first_message == "*Mira opens the door.* Come in, you, before the wind takes you."
    assert s.partner.personality == ["wry, patient, stubborn"]  # prose or not: kept whole
    assert "Mind the stairs" in s.partner.speech_style
    assert s.card is not None and s.card.spec == "chara_card_v1"
    assert s.card.example_dialogue.startswith("<START>")  # kept verbatim for re-export
    assert any("appearance tags" in n for n in result.notes)


def test_legacy_tavern_field_names_are_read(tmp_path: Path) -> None:
    old = {
        "char_name": "Old Tom",
        "char_persona": "He is a grumpy 70 years old sailor.",
        "char_greeting": "What do you want?",
        "world_scenario": "A harbour pub.",
    }
    s = imported(write(tmp_path, "tom.json", json.dumps(old))).scenario
    assert (s.partner.name, s.partner.age, s.partner.gender) == ("Old Tom", 70, "man")
    assert s.first_message == "What do you want?" and "harbour pub" in s.setting.world


def test_v2_png_keeps_everything_qualia_does_not_use(tmp_path: Path) -> None:
    card = v2(unknown_tool_field={"x": 1})
    path = write(tmp_path, "mira.png", png_card({"chara": b64(card)}))
    result = imported(path)
    extras = result.scenario.card
    assert extras is not None and extras.spec == "chara_card_v2"
    assert extras.alternate_greetings == ["Storm's up. You lost?", "Another one washed ashore."]
    assert extras.system_prompt.startswith("Write {{char}}'s next reply")
    assert extras.post_history_instructions == "Stay in character."
    assert extras.tags == ["female", "romance", "lighthouse"]
    assert extras.extensions == {"talkativeness": "0.5", "fav": False, "depth_prompt": {"depth": 4}}
    assert extras.original["unknown_tool_field"] == {"x": 1}
    assert extras.original["first_mes"].startswith("*{{char}} opens")  # verbatim
    assert result.scenario.genre == "romance"  # the first non-generic tag
    assert result.portrait is not None and read_text_chunks(result.portrait, "p") == {}


def test_v3_character_book_becomes_lorebook_entries(tmp_path: Path) -> None:
    path = write(tmp_path, "mira.png", png_card({"ccv3": b64(v3(character_book=book()))}))
    result = imported(path)
    lore = result.scenario.lorebook
    assert (lore.name, lore.scan_depth, lore.token_budget) == ("Lighthouse lore", 6, 300)
    assert len(lore.entries) == 2 and any("skipped" in n for n in result.notes)
    lens, wrecks = lore.entries
    assert lens.keys == ["lamp", "lens"] and lens.secondary_keys == ["light"]
    assert lens.selective and not lens.regex and lens.insertion_order == 10
    assert lens.extensions == {  # its own extensions, and its other fields verbatim
        "depth": 4,
        "probability": 100,
        "card_entry": {
            "id": 0,
            "name": "the lens",
            "priority": 5,
            "case_sensitive": False,
            "use_regex": False,
            "position": "after_char",
        },
    }
    # use_regex does not make plain keys regexes (SillyTavern ignores it); kept for export
    assert not wrecks.regex and wrecks.constant and not wrecks.enabled
    assert wrecks.extensions["card_entry"]["use_regex"] is True
    assert result.scenario.card is not None
    kept = result.scenario.card.original
    assert kept["character_book"]["extensions"] == {"custom_book_flag": 1}
    assert kept["creation_date"] == 1700000000 and kept["assets"][0]["uri"] == "ccdefault:"


def test_ccv3_is_preferred_when_both_chunks_exist(tmp_path: Path) -> None:
    texts = {"chara": b64(v2("Old Name")), "ccv3": b64(v3("New Name"))}
    s = imported(write(tmp_path, "both.png", png_card(texts))).scenario
    assert s.partner.name == "New Name" and s.card is not None and s.card.spec == "chara_card_v3"


def test_an_unreadable_ccv3_falls_back_to_chara_with_a_note(tmp_path: Path) -> None:
    texts = {"chara": b64(v2("Fallback")), "ccv3": b"%%%not base64%%%"}
    result = imported(write(tmp_path, "both.png", png_card(texts)))
    assert result.scenario.partner.name == "Fallback"
    assert any("ccv3" in n for n in result.notes)


def test_charx_archive_with_portrait(tmp_path: Path) -> None:
    card = v3(character_book=book())
    card["data"]["assets"] = [
        {
            "type": "icon",
            "uri": "embeded://assets/icon/images/main.png",
            "name": "main",
            "ext": "png",
        }
    ]
    portrait = png_image(30, 40, (1, 2, 3))
    result = imported(write(tmp_path, "mira.charx", charx(card, portrait)))
    assert result.scenario.partner.name == "Mira" and len(result.scenario.lorebook.entries) == 2
    assert result.portrait == portrait


def test_nsfw_card_with_a_minor_is_refused(tmp_path: Path) -> None:
    card = v2(description="{{char}} is 16 years old.", tags=["nsfw"])
    with pytest.raises(CardError, match="NSFW"):
        imported(write(tmp_path, "x.json", json.dumps(card)))


def test_nulls_and_comma_strings_are_tolerated(tmp_path: Path) -> None:
    card = v2(tags="sci-fi, space", alternate_greetings=None, mes_example=None, creator=None)
    s = imported(write(tmp_path, "x.json", json.dumps(card))).scenario
    assert s.card is not None and s.card.tags == ["sci-fi", "space"] and s.genre == "sci-fi"


# --------------------------------------------------------------------------- round trips


def rich_scenario():  # type: ignore[no-untyped-def]
    s = load_scenario(Path(__file__).parent.parent / "scenarios" / "fogbound_archive.yaml")
    lore = Lorebook(
        name="Greyhaven",
        entries=[
            LoreEntry(keys=["harbour master"], content="He owes money to everyone.", comment="hm"),
            LoreEntry(
                keys=["tobias"],
                secondary_keys=["night"],
                content="Maren's brother.",
                selective=True,
                insertion_order=5,
            ),
        ],
    )
    return s.model_copy(update={"lorebook": lore})


@pytest.mark.parametrize("suffix", [".png", ".json", ".charx"])
def test_scenario_card_scenario_round_trip_is_exact(tmp_path: Path, suffix: str) -> None:
    s = rich_scenario()
    out = write_card(s, tmp_path / f"card{suffix}")
    back = imported(out)
    assert back.exact and back.scenario == s


def test_a_card_edited_elsewhere_is_imported_from_its_fields(tmp_path: Path) -> None:
    s = rich_scenario()
    card = json.loads(write_card(s, tmp_path / "c.json").read_text())
    card["data"]["first_mes"] = "Edited in another tool."
    result = imported(write(tmp_path, "edited.json", json.dumps(card)))
    assert not result.exact and any("edited" in n for n in result.notes)
    got = result.scenario
    assert got.first_message == "Edited in another tool."
    assert got.partner.name == s.partner.name
    assert [e.keys for e in got.lorebook.entries] == [e.keys for e in s.lorebook.entries]
    assert [e.content for e in got.lorebook.entries] == [e.content for e in s.lorebook.entries]
    assert got.lorebook.entries[1].selective and got.lorebook.entries[1].insertion_order == 5
    assert "qualia" not in (got.card.extensions if got.card else {})


def test_imported_card_exports_back_with_its_extras(tmp_path: Path) -> None:
    first = imported(write(tmp_path, "m.png", png_card({"ccv3": b64(v3(character_book=book()))})))
    out = write_card(first.scenario, tmp_path / "again.png", first.portrait)
    data = json.loads(base64.b64decode(read_text_chunks(out.read_bytes(), "x")["ccv3"]))["data"]
    assert data["alternate_greetings"] == ["Storm's up. You lost?", "Another one washed ashore."]
    assert data["system_prompt"].startswith("Write {{char}}'s next reply")
    assert data["extensions"]["depth_prompt"] == {"depth": 4}
    entry = data["character_book"]["entries"][0]
    assert (
        entry["position"] == "after_char" and entry["priority"] == 5 and entry["name"] == "the lens"
    )
    assert data["character_book"]["extensions"] == {"custom_book_flag": 1}
    assert data["creation_date"] == 1700000000


def test_exported_png_has_both_chunks_and_stays_an_image(tmp_path: Path) -> None:
    portrait = png_image(48, 72, (10, 200, 30))
    out = write_card(rich_scenario(), tmp_path / "card.png", portrait)
    chunks = read_text_chunks(out.read_bytes(), str(out))
    v3_card = json.loads(base64.b64decode(chunks["ccv3"]))
    v2_card = json.loads(base64.b64decode(chunks["chara"]))
    assert v3_card["spec"] == "chara_card_v3" and v2_card["spec"] == "chara_card_v2"
    assert v2_card["name"] == v2_card["data"]["name"] == "Maren Voss"  # V1 fields for old tools
    assert v2_card["data"]["character_book"]["entries"][0]["keys"] == ["harbour master"]
    with Image.open(out) as im:
        im.load()
        assert im.size == (48, 72) and im.getpixel((0, 0))[:3] == (10, 200, 30)


def test_export_without_a_portrait_draws_one(tmp_path: Path) -> None:
    out = write_card(rich_scenario(), tmp_path / "card.png")
    with Image.open(out) as im:
        assert im.size == (512, 768)


# --------------------------------------------------------------------------- bad input


def _zip_bomb() -> bytes:
    card = v3()
    card["data"]["assets"] = [{"type": "icon", "uri": "embeded://assets/icon/images/main.png"}]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("card.json", json.dumps(card))
        zf.writestr("assets/icon/images/main.png", b"\0" * (12 * 1024 * 1024))
    return buf.getvalue()


def _many_members() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i in range(limits.MAX_ZIP_MEMBERS + 1):
            zf.writestr(f"f{i}", b"")
    return buf.getvalue()


def _no_card_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("readme.txt", "hi")
    return buf.getvalue()


def _card_json_bomb() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("card.json", b" " * (limits.MAX_CARD_JSON_BYTES + 10))
    return buf.getvalue()


def _truncated() -> bytes:
    blob = png_card({"chara": b64(v2())})
    return blob[: len(blob) // 2]


def _bad_crc() -> bytes:
    blob = bytearray(png_card({"chara": b64(v2())}))
    blob[40] ^= 0xFF  # inside the tEXt chunk's data
    return bytes(blob)


BAD_CARDS: list[tuple[str, str, bytes, str]] = [
    ("bad base64", "x.png", png_card({"chara": b"!!!!"}), "not valid base64"),
    ("base64 of junk", "x.png", png_card({"chara": base64.b64encode(b"\xff\xfe")}), "not a card"),
    ("not JSON inside", "x.png", png_card({"chara": base64.b64encode(b"{nope")}), "not valid JSON"),
    ("truncated PNG", "x.png", _truncated(), "truncated PNG"),
    ("bad checksum", "x.png", _bad_crc(), "bad checksum"),
    ("PNG without a card", "x.png", png_image(), "no character card"),
    ("signature only", "x.png", b"\x89PNG\r\n\x1a\n", "truncated PNG"),
    (
        "JSON syntax",
        "x.json",
        b'{"name": "a",}',
        "x.json:1:14: not valid JSON: Expecting property name enclosed in double quotes",
    ),
    ("JSON list", "x.json", b"[1, 2]", "must be a JSON object"),
    (
        "no name",
        "x.json",
        json.dumps({"description": "x"}).encode(),
        "x.json:1:1: missing required key 'name'",
    ),
    ("V2 without data", "x.json", json.dumps({"spec": "chara_card_v2"}).encode(), "'data'"),
    ("binary junk", "x.bin", b"\x00\x01\x02garbage", "not a card"),
    ("JSON card.json bomb", "x.charx", _card_json_bomb(), "too large"),
    ("empty", "x.json", b"", "empty"),
    ("broken zip", "x.charx", b"PK\x03\x04" + b"\0" * 40, "not a valid CHARX"),
    ("zip without card.json", "x.charx", _no_card_zip(), "no card.json"),
    ("zip bomb", "x.charx", _zip_bomb(), "zip bomb"),
    ("too many members", "x.charx", _many_members(), "more than"),
    ("deep JSON", "x.json", b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
]


@pytest.mark.parametrize(
    ("label", "name", "blob", "needle"), BAD_CARDS, ids=[b[0] for b in BAD_CARDS]
)
def test_malformed_cards_give_one_clear_line(
    tmp_path: Path, label: str, name: str, blob: bytes, needle: str
) -> None:
    path = write(tmp_path, name, blob)
    with pytest.raises(CardError) as info:
        imported(path)
    message = str(info.value)
    assert needle in message and "\n" not in message and message.startswith(str(path))


def test_file_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qualia_cli.authoring.cards import read

    monkeypatch.setattr(read, "MAX_CARD_FILE_BYTES", 1000)
    path = write(tmp_path, "big.png", png_card({"chara": b64(v2(description="x" * 5000))}))
    with pytest.raises(CardError, match="too large"):
        read_card(path)


def test_compressed_text_chunk_cannot_inflate_past_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import zlib

    from qualia_cli.authoring.cards import png

    monkeypatch.setattr(png, "MAX_TEXT_CHUNK_BYTES", 10_000)
    bomb = zlib.compress(b"A" * 1_000_000, 9)  # ~1 KB that inflates to 1 MB
    image = png_image()
    blob = image[:33] + chunk(b"zTXt", b"chara\0\0" + bomb) + image[33:]
    with pytest.raises(CardError, match="size limit"):
        read_card(write(tmp_path, "z.png", blob))


def test_ztxt_card_chunk_is_read(tmp_path: Path) -> None:
    import zlib

    image = png_image()
    body = b"chara\0\0" + zlib.compress(b64(v2("Zed")))
    s = imported(write(tmp_path, "z.png", image[:33] + chunk(b"zTXt", body) + image[33:])).scenario
    assert s.partner.name == "Zed"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CardError, match="file not found"):
        read_card(tmp_path / "nope.png")


# --------------------------------------------------------------------------- CLI


def test_cli_import_play_and_export_a_card(qualia_home: Path, tmp_path: Path) -> None:
    """A writer imports a card they own, plays it, and exports it back as a card."""
    import os
    import subprocess

    from support.openai_stub import StubServer

    from qualia_cli.paths import get_paths

    card = write(tmp_path, "Mira.png", png_card({"ccv3": b64(v3(character_book=book()))}))
    with StubServer(delay_s=0.0) as stub:
        env = {
            **os.environ,
            "QUALIA_MODELS__DEFAULT": "stub/m",
            "QUALIA_ENDPOINTS": json.dumps({"stub": {"base_url": stub.base_url}}),
        }

        def qualia(*args: str) -> subprocess.CompletedProcess[str]:
            return run_qualia(*args, env=env, timeout=300)

        out = qualia("scenario", "import", str(card))
        assert out.returncode == 0, out.stderr
        path = Path(out.stdout.strip().splitlines()[-1])
        assert path == get_paths().scenarios_dir / "mira.yaml" and path.is_file()
        assert path.with_suffix(".png").is_file()  # the card's picture is her portrait
        assert "qualia new mira" in out.stdout
        again = qualia("scenario", "import", str(card), "--json")  # no overwrite: a new id
        assert json.loads(again.stdout)["id"] == "mira_2"

        session = qualia("new", "mira", "--json")
        assert session.returncode == 0, session.stderr
        sid = json.loads(session.stdout)["session"]["id"]
        said = qualia("say", sid, "Hello, Mira.", "--json")
        assert said.returncode == 0, said.stderr
        assert json.loads(said.stdout)["ok"]

        exported = qualia(
            "scenario", "export", "mira", "--card", str(tmp_path / "out.png"), "--json"
        )
        assert exported.returncode == 0, exported.stderr
        assert json.loads(exported.stdout)["portrait"] == str(path.with_suffix(".png"))
        back = imported(tmp_path / "out.png")
        assert back.exact and back.scenario == load_scenario(path)

        broken = write(tmp_path, "broken.png", b"\x89PNG\r\n\x1a\njunk")
        bad = qualia("scenario", "import", str(broken))
        assert bad.returncode == 2 and bad.stderr.count("\n") == 1
        assert bad.stderr.startswith(f"error: {broken}: truncated PNG")
