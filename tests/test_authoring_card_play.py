"""An imported character card plays like the card: system prompt, examples, post-history
instructions and alternate greetings reach the Partner and the session's opening."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from fakes import ScriptedProvider
from support.cards import book, v2
from support.cli import qualia
from support.engine import Engines, make_engine, play_lines

from qualia_cli.agents.context import StoryContext
from qualia_cli.agents.partner import Partner
from qualia_cli.authoring.cards import read_card, scenario_from_card
from qualia_cli.engine import Engine
from qualia_cli.engine.story.greetings import GreetingError
from qualia_cli.engine.turn.state import initial_state
from qualia_cli.llm.base import ChatMessage
from qualia_cli.memory.builder import build_prompt, prompt_messages
from qualia_cli.memory.lore_import import lorebook_from_json
from qualia_cli.scenario import load_scenario
from qualia_cli.scenario.models import CardExtras, Scenario
from qualia_cli.store.records import Message

BUNDLED = Path(__file__).parent.parent / "scenarios"
EXAMPLES = (
    "<START>\n{{user}}: Hello?\n{{char}}: Mind the stairs. They bite.\n"
    "<START>\n{{user}}: Is the lamp lit?\n{{char}}: Always. {{user}}, hand me the oil."
)


def card(**data: Any) -> dict[str, Any]:
    return v2(
        **{
            "system_prompt": "{{original}}Write {{char}}'s next reply to {{user}}, briefly.",
            "post_history_instructions": "Remember: {{char}} never leaves the lamp.",
            "mes_example": EXAMPLES,
            "alternate_greetings": ["Storm's up. You lost?", "{{user}}? {{char}} sighs.\nCome."],
            **data,
        }
    )


def imported(engine: Engine, tmp_path: Path, **data: Any) -> Path:
    path = tmp_path / "mira.json"
    path.write_text(json.dumps(card(**data)))
    return engine.authoring.import_card(path).path


def partner_messages(provider: ScriptedProvider) -> list[ChatMessage]:
    return [r for r in provider.requests if r.agent == "partner"][-1].messages


# --------------------------------------------------------------------------- the prompt


async def test_partner_prompt_carries_the_card_texts(
    engines: Engines, qualia_home: Path, tmp_path: Path
) -> None:
    provider = ScriptedProvider()
    engine = engines(provider, pictures=False)
    imported(engine, tmp_path)
    session = engine.new_session("mira")
    await play_lines(
        engine.open_session(session.id), "Hello, Mira.", "Can I stay until the storm passes?"
    )
    system, user = partner_messages(provider)

    s = system["content"]
    assert "Write Mira's next reply to you, briefly." in s  # macros filled
    assert "{{" not in s and "<START>" not in s  # {{original}} dropped, examples split
    assert s.index("Stay in character at all times") < s.index("Write Mira's next reply")
    assert "you: Hello?\nMira: Mind the stairs. They bite." in s
    assert "Mira: Always. you, hand me the oil." in s
    examples = s.index("Example dialogue showing how Mira talks")
    assert s.index("Write Mira's next reply") < examples < s.rindex("Mind the stairs")

    u = user["content"]
    assert "{{" not in u
    last_history = "Mira: (smiles) Hello there, stranger."  # turn 1's answer
    assert u.index(last_history) < u.index("Player: Can I stay until the storm passes?")
    assert u.endswith("\n\nRemember: Mira never leaves the lamp.")  # after the history
    assert "Remember:" not in s


def context(sc: Scenario, history: list[Message], player: str = "you") -> StoryContext:
    return StoryContext(
        scenario=sc,
        state=initial_state(sc),
        world_state={"facts": {}},
        history=history,
        player_text="Hello.",
        turn=len(history) // 2 + 1,
        pace="medium",
        rating="general",
        player_name=player,
    )


def history(n: int, words: int = 12) -> list[Message]:
    out = []
    for i in range(n):
        sender = "player" if i % 2 == 0 else "partner"
        text = f"line {i} " + " ".join(["storm"] * words)
        out.append(
            Message(
                i + 1,
                "s",
                i or None,
                None,
                sender,
                {"text": text},
                "",
                None,
                None,
                None,
                None,
                0,
                0,
            )
        )
    return out


def mira(tmp_path: Path) -> Scenario:
    engine = make_engine(ScriptedProvider(), pictures=False)
    try:
        return load_scenario(imported(engine, tmp_path))
    finally:
        asyncio.run(engine.aclose())


def test_macros_use_the_players_name(qualia_home: Path, tmp_path: Path) -> None:
    sc = mira(tmp_path)
    sc = sc.model_copy(update={"player": sc.player.model_copy(update={"name": "Ada"})})
    system = prompt_messages(Partner, context(sc, history(2), player="Ada"), None, 2000)[0]
    assert "Write Mira's next reply to Ada, briefly." in system["content"]
    assert "Ada: Hello?" in system["content"] and "Always. Ada, hand me" in system["content"]


def test_examples_give_way_to_the_story(qualia_home: Path, tmp_path: Path) -> None:
    sc = mira(tmp_path)
    early = build_prompt(Partner, context(sc, history(2)), None, 2000)
    assert early.trace.parts["card_examples"] > 0
    assert "Example dialogue showing how Mira talks" in early.messages[0]["content"]
    assert "Mira: Always. you, hand me the oil." in early.messages[0]["content"]

    # a budget the story alone can fill: the examples go first, the turns stay
    budget = early.trace.total + 40
    late = build_prompt(Partner, context(sc, history(40)), None, budget)
    assert late.trace.total <= budget
    assert late.trace.parts["card_examples"] == 0
    assert "Example dialogue" not in late.messages[0]["content"]
    assert late.trace.history["messages"] > 2
    # the card's system prompt and post-history instructions are essentials: never dropped
    assert "Write Mira's next reply" in late.messages[0]["content"]
    assert late.messages[1]["content"].endswith("Remember: Mira never leaves the lamp.")


def test_a_scenario_without_card_texts_gets_no_card_part(
    qualia_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundled = load_scenario(BUNDLED / "fogbound_archive.yaml")
    no_texts = mira(tmp_path)
    no_texts = no_texts.model_copy(update={"card": CardExtras(spec="x", tags=["romance"])})
    with_card = mira(tmp_path)
    built = {
        sc.id + str(i): build_prompt(Partner, context(sc, history(6)), None, 2000)
        for i, sc in enumerate((bundled, no_texts, with_card))
    }
    monkeypatch.setattr(Partner, "uses_card", False)  # the prompt as built before cards played
    for i, sc in enumerate((bundled, no_texts, with_card)):
        before = build_prompt(Partner, context(sc, history(6)), None, 2000)
        after = built[sc.id + str(i)]
        if sc is with_card:
            assert after.messages != before.messages
        else:
            assert after.messages == before.messages
            assert "card_examples" not in after.trace.parts


# --------------------------------------------------------------------------- greetings


def test_alternate_greetings_open_the_session(
    engines: Engines, qualia_home: Path, tmp_path: Path
) -> None:
    engine = engines(ScriptedProvider(), pictures=False)
    imported(engine, tmp_path)

    def opening(greeting: int) -> list[tuple[str, str]]:
        s = engine.new_session("mira", greeting=greeting)
        return [(m.sender, m.text) for m in s.transcript().messages]

    default = opening(0)
    narration = default[0]
    assert default[1] == (
        "partner",
        "*Mira opens the door.* Come in, you, before the wind takes you.",
    )
    assert opening(1) == [narration, ("partner", "Storm's up. You lost?")]
    assert opening(2) == [narration, ("partner", "you? Mira sighs.\nCome.")]  # macros filled
    with pytest.raises(GreetingError, match="has 2 alternate greetings"):
        engine.new_session("mira", greeting=3)
    with pytest.raises(GreetingError, match="no alternate greetings"):
        engine.new_session("fogbound_archive", greeting=1)


def test_cli_greeting_option(qualia_home: Path, tmp_path: Path) -> None:
    path = tmp_path / "mira.json"
    path.write_text(json.dumps(card()))
    assert qualia("scenario", "import", str(path)).returncode == 0

    shown = qualia("scenario", "show", "mira")
    assert shown.returncode == 0, shown.stderr
    assert "--greeting 1 Storm's up. You lost?" in shown.stdout
    assert "--greeting 2 you? Mira sighs." in shown.stdout and "Come." not in shown.stdout

    created = qualia("new", "mira", "--greeting", "2", "--json", "--no-images")
    assert created.returncode == 0, created.stderr
    messages = json.loads(created.stdout)["messages"]
    assert messages[-1]["sender"] == "partner"
    assert messages[-1]["content"]["dialogue"] == "you? Mira sighs.\nCome."

    for command in ("new", "play", "chat"):
        bad = qualia(command, "mira", "--greeting", "5")
        assert bad.returncode == 2, bad.stderr
        assert bad.stderr.count("\n") == 1 and "has 2 alternate greetings" in bad.stderr


# --------------------------------------------------------------------------- one lore mapping


def test_card_import_and_lore_import_map_a_book_alike(tmp_path: Path) -> None:
    raw = card(character_book=book())
    raw["data"]["character_book"]["entries"].append(
        {"keys": ["{{char}}'s coat"], "content": "{{char}} mends it.", "insertion_order": 0}
    )
    path = tmp_path / "mira.json"
    path.write_text(json.dumps(raw))
    from_card = scenario_from_card(read_card(path)).scenario.lorebook
    from_lore = lorebook_from_json(raw)
    assert from_card.entries[-1].insertion_order == 0 == from_lore.entries[-1].insertion_order
    assert from_card.entries[-1].content == "{{char}} mends it."  # filled at use, as in ST
    assert from_lore.entries[-1].content == "{{char}} mends it."
    assert from_card == from_lore


def test_the_player_name_fills_user_in_the_card(
    engines: Engines, qualia_home: Path, tmp_path: Path
) -> None:
    path = tmp_path / "mira.json"
    path.write_text(json.dumps(card(scenario="{{user}} is a sailor washed ashore.")))
    default = scenario_from_card(read_card(path)).scenario
    assert default.player.name == "you" and default.opening.startswith("you is a sailor")
    out = qualia("scenario", "import", str(path), "--player-name", "Ash", "--json")
    assert out.returncode == 0, out.stderr
    imported = json.loads(out.stdout)
    provider = ScriptedProvider()
    engine = engines(provider, pictures=False)
    session = engine.new_session(imported["path"], greeting=2)
    assert session.scenario.player.name == "Ash"
    assert session.scenario.opening == "Ash is a sailor washed ashore."
    assert session.history()[-1].content["dialogue"].startswith("Ash? Mira sighs.")


@pytest.mark.parametrize(
    ("description", "occupation", "summary"),
    [
        (
            "Mira is a 30-year-old lighthouse keeper on Gull Rock, dry-humoured.",
            "lighthouse keeper on Gull Rock",
            "a 30-year-old person lighthouse keeper on Gull Rock",
        ),
        (
            "Mira is a 40-year-old woman who runs the bakery.",
            "who runs the bakery",
            "a 40-year-old woman who runs the bakery",
        ),
        ("A quiet soul. Age: 33.", "unspecified", "a 33-year-old person"),
    ],
)
def test_the_occupation_is_read_from_the_description(
    description: str, occupation: str, summary: str, tmp_path: Path
) -> None:
    from qualia_cli.agents.base import partner_summary

    path = tmp_path / "mira.json"
    path.write_text(json.dumps(card(description=description)))
    sc = scenario_from_card(read_card(path)).scenario
    assert sc.partner.occupation == occupation
    ctx = StoryContext(sc, initial_state(sc), {}, [], "hi", 1, "medium", "general")
    assert partner_summary(ctx) == summary


# --------------------------------------------------------------------------- issue 18


def test_depth_prompt_and_description_reach_the_partner(
    engines: Engines, qualia_home: Path, tmp_path: Path
) -> None:
    ext = {"depth_prompt": {"prompt": "{{char}} hides a letter from {{user}}.", "depth": 2}}
    engine = engines(ScriptedProvider(), pictures=False)
    sc = load_scenario(imported(engine, tmp_path, extensions=ext))
    system, user = prompt_messages(Partner, context(sc, history(6)), None, 4000)
    s, u = system["content"], user["content"]
    assert "About Mira:\nMira is a 27-year-old lighthouse keeper." in s  # the card's description
    story = u[u.index("line 0") :].splitlines()
    note = story.index("[Mira hides a letter from you.]")  # filled, at its depth
    after = [ln.split(": ", 1)[1].split()[:2] for ln in story[note + 1 : note + 3]]
    assert after == [["line", "4"], ["line", "5"]], story
    assert "line 3" in story[note - 1]

    ext["depth_prompt"]["depth"] = 0  # 0: after the last line of the story
    sc = load_scenario(imported(engine, tmp_path, extensions=ext))
    u = prompt_messages(Partner, context(sc, history(6)), None, 4000)[1]["content"]
    assert u.index("line 5") < u.index("[Mira hides a letter") < u.index("Player: Hello.")


def test_lore_is_filled_at_use_and_plain_keys_match_as_in_sillytavern(
    engines: Engines, qualia_home: Path, tmp_path: Path
) -> None:
    entries = [
        {  # SillyTavern writes use_regex: true on every entry; a plain key stays plain
            "keys": ["wood"],
            "content": "{{char}} knows every tree; {{user}} does not.",
            "use_regex": True,
            "extensions": {"match_whole_words": None, "case_sensitive": None},
            "insertion_order": 100,
            "enabled": True,
        },
        {"keys": ["{{char}}'s lamp"], "content": "The lamp is old.", "use_regex": True},
    ]
    engine = engines(ScriptedProvider(), pictures=False)
    sc = load_scenario(imported(engine, tmp_path, character_book={"entries": entries}))
    assert sc.lorebook.entries[0].content == "{{char}} knows every tree; {{user}} does not."

    def lore_of(text: str) -> str:
        ctx = context(sc, [], player="Ada")
        ctx.player_text = text
        return prompt_messages(Partner, ctx, None, 4000)[1]["content"]

    assert "knows every tree" not in lore_of("We walk through the woodland.")  # whole words
    assert "Mira knows every tree; Ada does not." in lore_of("Into the WOOD we go.")
    assert "The lamp is old." in lore_of("Is that Mira's lamp?")  # {{char}} in keys, too
