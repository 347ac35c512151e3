"""Every check type, passing and failing, on hand-made turns (no model needed)."""

from __future__ import annotations

from typing import Any

import pytest

from qualia_cli.engine.turn.summary import TurnSummary
from qualia_cli.headless.checks import Check, compile_spec, parse_comparison, parse_shorthand
from qualia_cli.headless.evaluate import Subject, evaluate
from qualia_cli.headless.script import CheckSpec
from qualia_cli.scenario import load_scenario
from qualia_cli.scenario.file_errors import LocatedError

SCENARIO = load_scenario("scenarios/fogbound_archive.yaml")


def turn(**kw: Any) -> TurnSummary:
    before = {
        "stats": {"trust": 20, "affection": 25, "clues": 0},
        "mood": "curious",
        "location": "archive reading room",
        "time": "late afternoon",
    }
    after = {**before, "stats": {"trust": 23, "affection": 25, "clues": 5}, "mood": "happy"}
    base: dict[str, Any] = {
        "ok": True,
        "player_text": "Hello",
        "reply": "The ledgers? Hm. Only the 1887 ledger survived.",
        "action": "adjusts her glasses",
        "narration": "Rain drums on the windows.",
        "plan": {
            "beat": "She opens up",
            "scene_changed": False,
            "location": "archive reading room",
        },
        "state_before": before,
        "state_after": after,
        "suggestions": [{"text": "Ask about 1887"}, {"text": "Offer tea"}, {"text": "Leave"}],
        "visual": {
            "prompt": "painterly, 1girl, copper hair, round glasses, archive",
            "generate": True,
            "negative_prompt": "lowres",
            "framing": "portrait",
        },
        "agents": [
            {
                "agent": "partner",
                "latency_ms": 900.0,
                "prompt_tokens": 700,
                "completion_tokens": 90,
                "cost_usd": 0.002,
            },
            {
                "agent": "director",
                "latency_ms": 400.0,
                "prompt_tokens": 500,
                "completion_tokens": 80,
                "cost_usd": None,
            },
        ],
        "wall_ms": 1500.0,
        "prompt_tokens": 1200,
        "completion_tokens": 170,
        "cost_usd": 0.002,
    }
    base.update(kw)
    return TurnSummary(**base)


def subject(*turns: TurnSummary, final: bool = False) -> Subject:
    ts = list(turns) or [turn()]
    return Subject(ts, ts[0].state_before, ts[-1].state_after, SCENARIO, len(ts), final)


def check(raw: str | dict[str, Any]) -> Check:
    if isinstance(raw, str):
        return parse_shorthand(raw, where="x.play.yaml:3")
    return compile_spec(CheckSpec.model_validate(raw), SCENARIO, where="x.play.yaml:3")


def outcome(raw: str | dict[str, Any], *turns: TurnSummary) -> tuple[bool, str]:
    o = evaluate(check(raw), subject(*turns))
    return o.passed, o.actual


@pytest.mark.parametrize(
    ("raw", "passes"),
    [
        ("ledger", True),
        ("LEDGER", True),  # any case
        ("{case} LEDGER", False),
        ("!ledger", False),
        ("!As an AI", True),
        ("Rain drums", True),  # narration is part of the turn
        ("Offer tea", True),  # so are the suggestions
        ("{on=partner} Rain drums", False),
        ("{on=narration} Rain drums", True),
        ("{on=action} glasses", True),
        ("{on=strategist} 1887", True),
        ("{on=visual} copper hair", True),
        ("{on=director} She opens up", True),
        ("/\\d{4} ledger/", True),
        ("/ONLY/i", True),
        ("/ONLY/", False),
        ("!/as an ai/i", True),
        ("{count=2} ledger", True),
        ("{count=3} ledger", False),
        ("{vital,count=2} 1887", True),
        ("{vital} {on=partner} /^The/", True),
    ],
)
def test_text_shorthand(raw: str, passes: bool) -> None:
    assert outcome(raw)[0] is passes


def test_shorthand_modifiers_are_parsed() -> None:
    c = check("{vital} {count=2} !/x+/i")
    assert (c.kind, c.vital, c.count, c.negate) == ("regex", True, 2, True)
    assert c.value.pattern == "x+" and c.where == "x.play.yaml:3"
    assert check("{vital,on=partner,case} Hm").on == "partner"


@pytest.mark.parametrize(
    ("raw", "offset", "message"),
    [
        ("{loud} x", 1, "unknown modifier '{loud}'"),
        ("{vital} /[unclosed/", 9, "bad regex"),
        ("/x/q", 1, "unknown regex flag 'q'"),
        ("{vital} !", 9, "the check has no text"),
        ("{count=0} x", 1, "unknown modifier '{count=0}'"),
    ],
)
def test_bad_shorthand_points_inside_the_string(raw: str, offset: int, message: str) -> None:
    with pytest.raises(LocatedError) as err:
        parse_shorthand(raw)
    assert message in str(err.value)
    assert err.value.offset == offset


@pytest.mark.parametrize(
    ("raw", "passes"),
    [
        ({"contains": "ledger", "on": "partner"}, True),
        ({"not-contains": "ledger", "on": "partner"}, False),
        ({"regex": "/^the/i", "on": "partner"}, True),
        ({"regex": "^the", "on": "partner"}, False),
        ({"not-regex": "AI|model"}, True),
        ({"equals": "the ledgers? hm. only the 1887 ledger survived.", "on": "partner"}, True),
        ({"equals": "The ledgers?", "on": "partner"}, False),
        ({"not-equals": "Nope", "on": "partner"}, True),
        ({"equals": "adjusts her glasses", "on": "action", "case_sensitive": True}, True),
        ({"state": "partner.trust > 22 and mood == 'happy'"}, True),
        ({"state": "trust >= 30"}, False),
        ({"state": "mood in ['happy', 'playful'] and location == 'archive reading room'"}, True),
        ({"state": "turn == 1"}, True),
        ({"delta": "trust == 3 and clues == 5 and affection == 0"}, True),
        ({"delta": "trust < 0"}, False),
        ({"location": "Archive Reading Room"}, True),
        ({"location": "sea wall"}, False),
        ({"location_changed": False}, True),
        ({"location_changed": True}, False),
        ({"scene_changed": False}, True),
        ({"ending": "none"}, True),
        ({"ending": "any"}, False),
        ({"ending": "case_closed"}, False),
        ({"image_tags": {"include": ["copper hair"], "exclude": ["blurry"]}}, True),
        ({"image_tags": {"include": ["blonde hair"]}}, False),
        ({"image_tags": {"exclude": ["round glasses"]}}, False),
        ({"suggestions": ">= 2"}, True),
        ({"suggestions": 4}, False),
        ({"suggestions": "2..3"}, True),
        ({"latency_ms": "< 2000"}, True),
        ({"latency_ms": "< 1000"}, False),
        ({"latency_ms": "< 1000", "agent": "partner"}, True),
        ({"tokens": "<= 1370"}, True),
        ({"tokens": "< 1370"}, False),
        ({"tokens": "== 790", "agent": "partner"}, True),
        ({"cost_usd": "< 0.01"}, True),
        ({"cost_usd": "== 0", "agent": "director"}, True),
        ({"cost_usd": "> 0.01"}, False),
        ({"no_agent_errors": True}, True),
    ],
)
def test_mapping_checks(raw: dict[str, Any], passes: bool) -> None:
    passed, actual = outcome(raw)
    assert passed is passes, actual


def test_failures_say_what_was_there() -> None:
    assert outcome({"state": "trust >= 30"}) == (False, "trust=23")
    assert outcome({"delta": "trust < 0"}) == (False, "trust +3")
    assert outcome({"suggestions": 4}) == (False, "3 suggestions")
    assert outcome({"image_tags": {"include": ["blonde hair"], "exclude": ["copper hair"]}}) == (
        False,
        "missing blonde hair; has copper hair",
    )
    failed = turn(
        errors=[{"agent": "visual", "code": "bad_output", "message": "x", "fatal": False}]
    )
    assert outcome({"no_agent_errors": True}, failed) == (False, "visual: bad_output")
    passed, actual = outcome("{on=partner} lighthouse")
    assert not passed and actual.startswith("partner: 'The ledgers? Hm.")


def test_endings_and_scene_changes_over_a_whole_test() -> None:
    moved = turn(
        state_after={**turn().state_after, "location": "sea wall"},
        plan={"scene_changed": True},
        ending={"id": "case_closed", "title": "Case Closed", "description": ""},
    )
    assert outcome({"ending": "case_closed"}, turn(), moved)[0]
    assert outcome({"ending": "any"}, turn(), moved)[0]
    assert not outcome({"ending": "none"}, turn(), moved)[0]
    assert outcome({"location_changed": True}, turn(), moved) == (
        True,
        "archive reading room → sea wall",
    )
    assert outcome({"scene_changed": True}, turn(), moved)[0]
    # final checks add up over the turns
    assert outcome({"tokens": "== 2740"}, turn(), moved)[0]
    assert outcome("{count=2} 1887 ledger", turn(), moved)[0]


def test_image_tags_fail_without_an_image_prompt() -> None:
    assert outcome({"image_tags": {"exclude": ["x"]}}, turn(visual=None)) == (
        False,
        "no image prompt",
    )


@pytest.mark.parametrize(
    ("raw", "loc", "message"),
    [
        ({"state": "trust >> 2"}, ("state",), ""),
        ({"state": "courage > 2"}, ("state",), "courage"),
        ({"delta": "partner.trust + 2"}, ("delta",), ""),
        ({"ending": "happily_ever"}, ("ending",), "not an ending"),
        ({"suggestions": "lots"}, ("suggestions",), "not a comparison"),
        ({"regex": "/(/"}, ("regex",), "bad regex"),
        ({"image_tags": {}}, ("image_tags",), "include and/or exclude"),
    ],
)
def test_mapping_checks_are_checked_against_the_scenario(
    raw: dict[str, Any], loc: tuple[str, ...], message: str
) -> None:
    with pytest.raises(LocatedError) as err:
        check(raw)
    assert err.value.loc == loc
    assert message in str(err.value)


def test_comparisons() -> None:
    assert parse_comparison("< 3").holds(2) and not parse_comparison("< 3").holds(3)
    assert parse_comparison(">=2").holds(2)
    assert parse_comparison("1..2").holds(1.5) and not parse_comparison("1..2").holds(3)
    assert parse_comparison("!= 0").holds(1)
    assert parse_comparison(3).holds(3)
    for bad in ("3..1", "about 3", "=> 2"):
        with pytest.raises(LocatedError):
            parse_comparison(bad)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({}, "a check needs one of"),
        ({"contains": "a", "regex": "b"}, "one check per mapping"),
        ({"state": "trust > 1", "on": "partner"}, "'on' does not apply to a state check"),
        ({"judge": "x", "count": 2}, "'count' does not apply"),
        ({"tokens": "< 3", "min_score": 2}, "'min_score' does not apply"),
    ],
)
def test_check_mapping_shape(raw: dict[str, Any], message: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=message):
        CheckSpec.model_validate(raw)
