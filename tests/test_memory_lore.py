"""The lorebook: keys, regex keys, selective and constant entries, budget and order, errors at
load time, SillyTavern imports, and lore reaching an agent's prompt only when triggered."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from qualia_cli.agents.context import StoryContext
from qualia_cli.agents.partner import Partner
from qualia_cli.agents.visual import Visual
from qualia_cli.engine.turn.state import initial_state
from qualia_cli.llm.tokens import ESTIMATE
from qualia_cli.memory import lore
from qualia_cli.memory.builder import build_prompt, prompt_messages
from qualia_cli.memory.lore_import import LorebookImportError, lorebook_from_json
from qualia_cli.paths import bundled_scenarios_dir
from qualia_cli.scenario import ScenarioError, load_scenario
from qualia_cli.scenario.models import Lorebook, LoreEntry
from qualia_cli.store.records import Message


def book(*entries: dict[str, Any], budget: int = 400) -> Lorebook:
    return Lorebook(token_budget=budget, entries=[LoreEntry(**e) for e in entries])


def fired(b: Lorebook, text: str) -> list[int]:
    return [h.index for h in lore.triggered(b, text)]


def test_plain_keys_match_whole_words_case_insensitively() -> None:
    b = book(
        {"keys": ["cat"], "content": "The shop cat."},
        {"keys": ["harbour master"], "content": "Crane."},
        {"keys": ["Ines"], "content": "Ines.", "extensions": {"case_sensitive": True}},
        {"keys": ["tea"], "content": "Tea.", "extensions": {"match_whole_words": False}},
    )
    assert fired(b, "A CAT sleeps here.") == [0]
    assert fired(b, "a category of books, catalogues") == []
    assert fired(b, "Ask the Harbour   Master") == [1]
    assert fired(b, "ines said") == []
    assert fired(b, "Ines said") == [2]
    assert fired(b, "steam rising") == [3]
    assert fired(b, "nothing relevant at all") == []


def test_regex_selective_constant_and_disabled_entries() -> None:
    b = book(
        {"keys": ["manifests?", r"ledger\w*"], "regex": True, "content": "Manifests."},
        {"keys": ["/\\bmay ?day\\b/i"], "content": "Distress."},  # SillyTavern literal
        {
            "keys": ["Tobias"],
            "secondary_keys": ["brother", "night shift"],
            "selective": True,
            "content": "Tobias worked nights.",
        },
        {"keys": ["fog"], "constant": True, "content": "Always foggy."},
        {"keys": ["ferry"], "enabled": False, "content": "Never."},
        {
            "keys": ["array"],
            "secondary_keys": ["repair"],
            "selective": True,
            "extensions": {"selectiveLogic": 2},  # NOT ANY
            "content": "The array hums.",
        },
    )
    assert fired(b, "Where are the ledgers?") == [3, 0]  # constant first
    assert fired(b, "MAYDAY, mayday") == [3, 1]
    assert fired(b, "Tobias came by") == [3]  # a key, but no secondary key
    assert fired(b, "Tobias, your brother?") == [3, 2]
    assert fired(b, "the ferry and the array") == [3, 5]
    assert fired(b, "repair the array") == [3]


def test_budget_priority_and_insertion_order() -> None:
    long = "word " * 60
    b = book(
        {"keys": ["a"], "content": "Low order, short.", "insertion_order": 10},
        {"keys": ["a"], "content": "High order, short.", "insertion_order": 200},
        {"keys": ["a"], "content": long, "insertion_order": 100},
        budget=60,
    )
    hits = lore.triggered(b, "a")
    assert [h.index for h in hits] == [1, 2, 0]  # priority: higher order first
    chosen, used = lore.select(hits, 60, ESTIMATE.count)
    # the long one does not fit; the others are inserted lowest order first
    assert [h.index for h in chosen] == [0, 1]
    assert used == sum(ESTIMATE.count(h.entry.content) for h in chosen) <= 60


def test_bad_regex_is_reported_at_load_with_its_position(tmp_path: Path) -> None:
    source = (bundled_scenarios_dir() / "second_shelf.yaml").read_text()
    good = '    - keys: [developer, "buy(ing)? the building"]'
    assert good in source
    bad = tmp_path / "bad.yaml"
    bad.write_text(source.replace(good, '    - keys: [developer, "buy(ing? the building"]'))
    with pytest.raises(ScenarioError) as err:
        load_scenario(bad)
    line = source.splitlines().index(good) + 1
    assert str(err.value).startswith(f"{bad}:{line}:25: lorebook.entries[2].keys[1]: ")
    assert "bad regular expression" in str(err.value)
    # a regex-looking plain key is fine: it is matched literally
    plain = tmp_path / "plain.yaml"
    plain.write_text(source.replace("regex: true\n", "regex: false\n", 1))
    load_scenario(plain)


def test_every_bundled_scenario_has_lore() -> None:
    for path in bundled_scenarios_dir().glob("*.yaml"):
        scenario = load_scenario(path)
        assert len(scenario.lorebook.entries) >= 3, path


def _ctx(player_text: str, history: list[str] = ()) -> StoryContext:  # type: ignore[assignment]
    scenario = load_scenario(bundled_scenarios_dir() / "fogbound_archive.yaml")
    messages = [
        Message(
            i, "s", i - 1 or None, None, "player", {"text": t}, "", None, None, None, None, 0, 0
        )
        for i, t in enumerate(history, start=1)
    ]
    return StoryContext(
        scenario=scenario,
        state=initial_state(scenario),
        world_state={},
        history=messages,
        player_text=player_text,
        turn=2,
        pace="medium",
        rating="general",
    )


def _prompt(agent: Any, ctx: StoryContext, **inputs: Any) -> str:
    return "\n".join(m["content"] for m in prompt_messages(agent, ctx, None, 2000, **inputs))


def test_lore_reaches_the_prompt_on_its_keyword_only() -> None:
    crane = "owes money to half the town"
    assert crane not in _prompt(Partner, _ctx("Good evening. Any tea?"))
    built = build_prompt(Partner, _ctx("What does the harbour master want?"), None, 2000)
    text = "\n".join(m["content"] for m in built.messages)
    assert crane in text and "Lore:" in text
    (entry,) = built.trace.lore
    assert entry["entry"] == 0 and entry["key"] == "harbour master"
    assert entry["comment"] == "the harbour master"
    assert built.trace.parts["lore"] == entry["tokens"] + ESTIMATE.count("Lore:") + 1
    # only the last `scan_depth` messages are scanned
    old = ["Tell me about the harbour master."] + ["Nice weather."] * 4
    assert crane not in _prompt(Partner, _ctx("Hm.", old))
    assert crane in _prompt(Partner, _ctx("Hm.", [*old[-4:], old[0]]))
    # a selective entry needs its secondary key too
    assert "not been seen in town since the fire" not in _prompt(Partner, _ctx("Who is Tobias?"))
    assert "not been seen in town since the fire" in _prompt(
        Partner, _ctx("Tobias is your brother?")
    )
    # agents that look at the new reply scan it too
    assert crane in _prompt(Visual, _ctx("Hi."), dialogue="The harbour master lied.")


def test_sillytavern_v2_card_and_world_info_import() -> None:
    card = {
        "spec": "chara_card_v2",
        "data": {
            "name": "Maren",
            "character_book": {
                "name": "Greyhaven",
                "scan_depth": 500,
                "token_budget": 20,
                "recursive_scanning": False,
                "extensions": {},
                "entries": [
                    {
                        "keys": ["harbour master"],
                        "content": "Crane owes money.",
                        "extensions": {"position": "before_char"},
                        "enabled": True,
                        "insertion_order": 50,
                        "case_sensitive": False,
                        "name": "crane",
                        "priority": 10,
                        "id": 1,
                        "comment": "",
                        "selective": True,
                        "secondary_keys": ["debt"],
                        "constant": False,
                        "position": "before_char",
                    },
                    {"keys": ["/led+gers?/i"], "content": "Ledgers.", "enabled": True},
                    {"keys": [], "content": "Fog.", "constant": True, "comment": "weather"},
                    {"keys": [], "content": "Unreachable."},
                    {"keys": ["x"], "content": "", "enabled": True},
                ],
            },
        },
    }
    b = lorebook_from_json(card)
    assert b.name == "Greyhaven" and b.scan_depth == 100 and b.token_budget == 50
    assert [e.content for e in b.entries] == ["Crane owes money.", "Ledgers.", "Fog."]
    crane = b.entries[0]
    assert crane.selective and crane.secondary_keys == ["debt"] and crane.insertion_order == 50
    own = crane.extensions["card_entry"]  # the entry's other fields, verbatim for export
    assert crane.comment == "crane" and own["name"] == "crane"
    assert own["priority"] == 10 and own["position"] == "before_char"
    assert fired(b, "the harbour master and his debt") == [2, 0]
    assert fired(b, "the LEDGER") == [2, 1]

    world_info = {
        "entries": {
            "0": {
                "uid": 0,
                "key": ["tram"],
                "keysecondary": [],
                "content": "The tram climbs the hill.",
                "order": 120,
                "disable": False,
                "caseSensitive": True,
                "selectiveLogic": 0,
                "probability": 100,
            },
            "1": {"uid": 1, "key": ["cat"], "content": "Marmalade.", "disable": True},
        }
    }
    b = lorebook_from_json(world_info)
    assert [e.enabled for e in b.entries] == [True, False]
    assert b.entries[0].insertion_order == 120
    assert b.entries[0].extensions["case_sensitive"] is True
    assert fired(b, "the Tram") == [] and fired(b, "the tram") == [0]

    for bad in ([], {"data": {"name": "no book"}}, {"entries": 3}):
        with pytest.raises(LorebookImportError):
            lorebook_from_json(bad)
    broken = {"entries": [{"keys": ["/(/"], "content": "x"}]}
    with pytest.raises(LorebookImportError, match=r"entry 0: .*bad regular expression"):
        lorebook_from_json(broken)
    json.dumps(b.model_dump(mode="json"))  # round-trips to a scenario file
