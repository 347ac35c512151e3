"""The ending condition language: what it accepts, what it refuses, how it evaluates."""

from __future__ import annotations

import pytest

from qualia_cli.paths import bundled_scenarios_dir
from qualia_cli.scenario import (
    ConditionError,
    Scenario,
    compile_condition,
    ending_reached,
    load_scenario,
)

STATS = {"trust", "affection"}
CTX: dict[str, object] = {
    "trust": 60,
    "affection": 20,
    "mood": "happy",
    "location": "pier",
    "time": "night",
    "turn": 12,
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("trust >= 60", True),
        ("trust > 60", False),
        ("trust == 60 and affection != 20", False),
        ("trust < 10 or affection <= 20", True),
        ("not trust < 10", True),
        ("not (trust > 10 and turn > 5)", False),
        ("20 <= trust < 80", True),
        ("0 < affection < 20", False),
        ('mood == "happy"', True),
        ("mood == 'sad'", False),
        ('"happy" == mood', True),
        ('mood in ["happy", "playful"]', True),
        ('mood not in ["happy", "playful"]', False),
        ('location in ["pier", "lamp room",]', True),
        ("turn in [1, 2, 12]", True),
        ("trust >= -5", True),
        ('time == "night" and (turn >= 10 or trust > 90)', True),
        ("trust > 50 or affection > 50 and turn > 100", True),  # and binds tighter
        ("(trust > 50 or affection > 50) and turn > 100", False),
        ("not not trust > 1", True),
    ],
)
def test_valid_conditions_evaluate(text: str, expected: bool) -> None:
    cond = compile_condition(text, STATS)
    assert cond.evaluate(CTX) is expected


def test_condition_records_names_and_literals() -> None:
    cond = compile_condition('trust > 1 and mood in ["happy", "sad"]', STATS)
    assert cond.names == {"trust", "mood"}
    assert cond.literals == (("mood", "happy", 23), ("mood", "sad", 32))


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os')",
        "__import__('os').system('ls')",
        "open('/etc/passwd')",
        "len(mood) > 3",
        "mood.upper() == 'HAPPY'",
        "mood.__class__",
        "().__class__.__bases__",
        "lambda: 1",
        "(lambda: True)()",
        "[x for x in [1, 2]]",
        "trust in [x for x in [1, 2]]",
        "{1: 2}",
        "mood[0] == 'h'",
        "trust + 1 > 2",
        "trust * 2 > 2",
        "trust if turn else affection",
        "import os",
        "True",
        "trust = 5",
        "trust > 5 && turn > 1",
        "(trust := 5) > 1",
        "f'{trust}' == '5'",
        "trust > 1.5",
        "trust",
        "mood",
        "not trust",
        "trust > 'a'",
        "mood < 3",
        "mood == 3",
        "trust in [1, 'a']",
        "mood in mood",
        "mood in []",
        "",
        "   ",
        "trust >",
        "(trust > 1",
        "trust > 1 trust > 2",
        "'unterminated",
        "globals",
        "x" * 600,
    ],
)
def test_unsafe_or_invalid_conditions_are_rejected(text: str) -> None:
    with pytest.raises(ConditionError):
        compile_condition(text, STATS)


@pytest.mark.parametrize(
    ("text", "offset", "message"),
    [
        (
            "trsut >= 50",
            0,
            "unknown name 'trsut' (known: affection, trust, mood, location, time, turn); "
            "did you mean 'trust'?",
        ),
        ("turn > 3 and __import__('os')", 13, "function calls are not allowed ('__import__(...)')"),
        ("mood.upper()", 4, "unexpected character '.': attribute access is not allowed"),
        ("lambda: 1", 0, "'lambda' is not part of the condition language"),
        ("trust = 5", 6, "unexpected character '=': use '==' to compare"),
        (
            "[x for x in y]",
            1,
            "lists may only hold numbers or text, found 'x'",
        ),
        (
            "trust in [1 for x in y]",
            12,
            "expected ',' or ']' in the list, found 'for' (comprehensions are not allowed)",
        ),
        ("trust >= and turn > 1", 9, "expected a name, number or text, found 'and'"),
        ("mood < 3", 5, "'<' compares numbers; text can only be compared with ==, != or in"),
        ("trust == 'high'", 6, "cannot compare a number with text"),
        (
            "trust",
            0,
            "a condition must compare something, e.g. 'trust >= 50' (this is just a number)",
        ),
        (
            "trust > 1 and 5",
            14,
            "'and' joins conditions, but this is a number; "
            "write a comparison such as 'trust >= 50'",
        ),
    ],
)
def test_error_messages_and_offsets(text: str, offset: int, message: str) -> None:
    with pytest.raises(ConditionError) as info:
        compile_condition(text, STATS)
    assert info.value.offset == offset
    assert info.value.message == message
    assert str(info.value) == message


def test_context_names_are_always_known() -> None:
    cond = compile_condition("turn > 1 and time == 'dawn' and location == 'x'", set())
    assert cond.evaluate({"turn": 2, "time": "dawn", "location": "x", "mood": "sad"})


def test_missing_value_at_evaluation() -> None:
    cond = compile_condition("affection > 1", STATS)
    with pytest.raises(ConditionError, match="no value for 'affection'") as info:
        cond.evaluate({"trust": 1})
    assert info.value.offset == 0


def test_deep_nesting_is_refused() -> None:
    with pytest.raises(ConditionError, match="too many nested parentheses"):
        compile_condition("(" * 40 + "trust > 1" + ")" * 40, STATS)
    assert compile_condition("(((trust > 1)))", STATS).evaluate(CTX)


# --------------------------------------------------------------------------- endings


@pytest.fixture
def archive() -> Scenario:
    return load_scenario(bundled_scenarios_dir() / "fogbound_archive.yaml")


def test_no_ending_at_the_start(archive: Scenario) -> None:
    stats = {s.name: s.start for s in archive.stats}
    assert ending_reached(archive, stats, "curious", "archive reading room", "evening", 1) is None


def test_first_matching_ending_wins(archive: Scenario) -> None:
    stats = {"trust": 90, "affection": 90, "clues": 90}
    ending = ending_reached(archive, stats, "happy", "sea wall", "night", 20)
    assert ending is not None and ending.id == "truth_in_the_margins"
    stats["clues"] = 50
    ending = ending_reached(archive, stats, "happy", "sea wall", "night", 20)
    assert ending is not None and ending.id == "a_lamp_left_on"
    ending = ending_reached(archive, stats, "happy", "basement stacks", "night", 20)
    assert ending is None


def test_bad_ending_after_many_turns(archive: Scenario) -> None:
    stats = {"trust": 10, "affection": 10, "clues": 10}
    ending = ending_reached(archive, stats, "sad", "archive reading room", "night", 40)
    assert ending is not None and (ending.id, ending.kind) == ("case_closed", "bad")


def test_missing_stats_default_to_their_start(archive: Scenario) -> None:
    # clues starts at 0, so after 40 turns with no clues recorded the bad ending fires.
    ending = ending_reached(archive, {}, "neutral", "sea wall", "night", 40)
    assert ending is not None and ending.id == "case_closed"
