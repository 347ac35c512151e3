"""The playthrough runner's orchestration on a scripted model: turns, choices, includes,
vital checks, final checks, the judge (an unparseable verdict fails), statuses and reports."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from fakes import ScriptedProvider, failing
from support.junit_schema import validate_junit

from qualia_cli.config import Settings
from qualia_cli.engine import Engine
from qualia_cli.headless.loader import load_playthrough
from qualia_cli.headless.report import junit_xml
from qualia_cli.headless.results import FileResult, Status, exit_code, results_dict
from qualia_cli.headless.runner import PlaythroughRunner, RunOptions
from qualia_cli.llm.base import Request
from qualia_cli.llm.errors import ErrorCode

SCRIPT = """\
scenario: second_shelf
model: fake/x
seed: 21
tests:
  _hello:
    turns:
      - say: Hello there.
        expect: ["{vital} stranger", "!As an AI"]
  chooses:
    state: {stats: {trust: 70}}
    turns:
      - include: _hello
      - choose: /help/i
        expect:
          - {suggestions: 2}  # "Offer to help." repeats the line just chosen: dropped
          - {state: "trust >= 70"}
    final:
      - {judge: "She is warm and funny", min_score: 3}
      - {no_agent_errors: true}
  wrong:
    turns:
      - say: Tell me a secret.
        expect:
          - "{on=partner} lighthouse"
          - "stranger"
  stops:
    turns:
      - say: First.
        expect: ["{vital} /dragons?/"]
      - say: Never played.
"""


def setup(tmp_path: Path, provider: ScriptedProvider, text: str = SCRIPT) -> tuple[Any, Any]:
    path = tmp_path / "t.play.yaml"
    path.write_text(text)

    def factory(settings: Settings, db_path: Path | None) -> Engine:
        engine = Engine(settings, db_path=db_path)
        engine.router.register("fake", provider)
        return engine

    runner = PlaythroughRunner(RunOptions(mode="live"), engine_factory=factory)
    return runner, load_playthrough(path)


def judge_says(answer: Any) -> ScriptedProvider:
    return ScriptedProvider(answers={"judge": answer})


async def run(
    tmp_path: Path, provider: ScriptedProvider, *names: str, text: str = SCRIPT
) -> FileResult:
    runner, play = setup(tmp_path, provider, text)
    return await runner.run_file(play, list(names))


def partner_requests(provider: ScriptedProvider) -> list[Request]:
    return [r for r in provider.requests if r.agent == "partner"]


async def test_turns_choices_includes_and_final_checks(tmp_path: Path) -> None:
    provider = judge_says({"explanation": "Warm, with a joke about cookbooks.", "score": 4})
    result = await run(tmp_path, provider, "chooses")
    test = result.tests[0]
    assert test.status is Status.PASSED, test.failures
    assert [t.player for t in test.turns] == ["Hello there.", "Offer to help."]
    assert [t.step for t in test.turns] == ["say: Hello there.", "choose: /help/"]
    said = [r.messages[-1]["content"] for r in partner_requests(provider)]
    assert said[1].endswith("Player: Offer to help.")  # the chosen suggestion was played
    assert "trust 70/100" in said[0]  # the starting state reached the prompts
    assert len(test.turns[0].checks) == 2 and len(test.turns[1].checks) == 2
    judge = test.final[0]
    assert judge.passed and judge.actual.startswith("score 4/5 (needs 3): Warm")
    judge_request = next(r for r in provider.requests if r.agent == "judge")
    assert list(judge_request.schema["properties"]) == ["explanation", "score"]
    assert judge_request.schema["properties"]["score"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 5,
    }
    transcript = judge_request.messages[-1]["content"]
    assert "Player: Offer to help." in transcript and "Juniper Hale: (smiles)" in transcript
    assert exit_code([result]) == 0


@pytest.mark.parametrize(
    ("answer", "actual"),
    [
        ("It was lovely, I'd say a four.", "unparseable verdict"),
        ({"explanation": "fine", "score": 9}, "unparseable verdict"),
        ({"score": 5}, "unparseable verdict"),
        ({"explanation": "Flat and repetitive.", "score": 2}, "score 2/5 (needs 3)"),
        (failing(ErrorCode.TIMEOUT, "judge timed out"), "unparseable verdict"),
    ],
)
async def test_a_verdict_that_is_not_a_pass_fails(tmp_path: Path, answer: Any, actual: str) -> None:
    result = await run(tmp_path, judge_says(answer), "chooses")
    test = result.tests[0]
    assert test.status is Status.FAILED
    judge = test.final[0]
    assert not judge.passed and judge.actual.startswith(actual)
    assert test.failures == [judge.line()]
    assert exit_code([result]) == 1


async def test_a_failed_check_names_file_line_check_and_actual(tmp_path: Path) -> None:
    result = await run(tmp_path, ScriptedProvider(), "wrong")
    test = result.tests[0]
    assert test.status is Status.FAILED
    where = f"{tmp_path / 't.play.yaml'}:24"
    assert test.failures == [
        f"{where} {{on=partner}} lighthouse → partner: "
        "'Hello there, stranger. Come in out of the rain.'"
    ]
    assert [c.passed for c in test.turns[0].checks] == [False, True]  # not vital: both ran


async def test_a_vital_failure_stops_the_test(tmp_path: Path) -> None:
    provider = ScriptedProvider()
    result = await run(tmp_path, provider, "stops")
    test = result.tests[0]
    assert test.status is Status.FAILED and len(test.turns) == 1
    assert len(partner_requests(provider)) == 1


async def test_choices_that_cannot_be_made_fail_the_test(tmp_path: Path) -> None:
    text = SCRIPT.replace("choose: /help/i", "choose: /dance/")
    result = await run(tmp_path, judge_says({"explanation": "x", "score": 5}), "chooses", text=text)
    test = result.tests[0]
    assert test.status is Status.FAILED
    assert test.turns[-1].failure == (
        "no suggestion matches /dance/ (offered: Ask about the rain.; Offer to help.; Tell a joke.)"
    )
    text = SCRIPT.replace("choose: /help/i", "choose: 4")
    result = await run(tmp_path, judge_says({"explanation": "x", "score": 5}), "chooses", text=text)
    assert result.tests[0].turns[-1].failure == "no suggestion 4: the Strategist offered 3"


async def test_a_failing_partner_fails_and_an_unreachable_model_is_an_error(
    tmp_path: Path,
) -> None:
    bad = ScriptedProvider(answers={"partner": failing(ErrorCode.BAD_OUTPUT, "gibberish")})
    result = await run(tmp_path, bad, "wrong")
    assert result.tests[0].status is Status.FAILED
    assert result.tests[0].turns[0].failure.startswith("turn failed:")
    down = ScriptedProvider(answers={"partner": failing(ErrorCode.UNREACHABLE, "refused")})
    result = await run(tmp_path, down, "wrong")
    assert result.tests[0].status is Status.ERROR
    assert exit_code([result]) == 2


async def test_seeds_follow_the_script_not_the_session(tmp_path: Path) -> None:
    first, second = ScriptedProvider(), ScriptedProvider()
    await run(tmp_path, first, "wrong")
    await run(tmp_path, second, "wrong")
    # the extras' calls start side by side: their order at the provider is the scheduler's
    seeds = [sorted(r.seed for r in p.requests) for p in (first, second)]
    assert seeds[0] == seeds[1] and len(set(seeds[0])) == 4
    third = ScriptedProvider()
    await run(tmp_path, third, "wrong", text=SCRIPT.replace("seed: 21", "seed: 22"))
    assert sorted(r.seed for r in third.requests) != seeds[0]


async def test_json_and_junit_reports(tmp_path: Path) -> None:
    result = await run(tmp_path, judge_says("not json"), "chooses", "wrong", "stops")
    data = json.loads(json.dumps(results_dict([result])))
    assert data["version"] == 1 and data["exit_code"] == 1
    assert data["summary"] == {"files": 1, "tests": 3, "passed": 0, "failed": 3, "errors": 0}
    chooses = data["files"][0]["tests"][0]
    assert chooses["turns"][1]["turn"]["reply"] and chooses["turns"][1]["checks"][0]["passed"]
    assert chooses["final"][0]["kind"] == "judge" and not chooses["final"][0]["passed"]

    root = ET.fromstring(ET.tostring(junit_xml([result]).getroot()))
    validate_junit(root)
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "3", "0")
    suites = root.findall("testsuite")
    assert len(suites) == 1 and suites[0].get("name") == str(tmp_path / "t.play.yaml")
    cases = suites[0].findall("testcase")
    assert [c.get("name") for c in cases] == ["chooses", "wrong", "stops"]
    for case in cases:
        assert case.get("classname") == "t" and float(case.get("time") or -1) >= 0
        failures = case.findall("failure")
        assert len(failures) == 1 and not case.findall("error")
        assert failures[0].get("message") == failures[0].text.splitlines()[0]
        assert case.find("system-out") is not None and "Player:" in case.find("system-out").text
    wrong = cases[1].find("failure")
    assert ":24 {on=partner} lighthouse → partner:" in wrong.text


async def test_junit_of_errors_and_control_characters_is_valid(tmp_path: Path) -> None:
    weird = ScriptedProvider(
        answers={"partner": {"dialogue": "bell \x07 and \x1b[31m", "action": "", "mood": "happy"}}
    )
    result = await run(tmp_path, weird, "wrong")
    down = await run(
        tmp_path,
        ScriptedProvider(answers={"partner": failing(ErrorCode.UNREACHABLE, "refused")}),
        "wrong",
    )
    broken = FileResult(tmp_path / "broken.play.yaml", "", error="x.play.yaml:1:1: bad")
    path = tmp_path / "out.xml"
    from qualia_cli.headless.report import write_junit

    write_junit([result, down, broken], path)
    root = ET.parse(path).getroot()  # parses: no control characters left in the file
    validate_junit(root)
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "1", "2")
    assert "bell \ufffd and \ufffd[31m" in (root.findtext(".//system-out") or "")


async def test_junit_validates_against_the_strict_jenkins_schema(tmp_path: Path) -> None:
    import xmlschema
    from support.junit_schema import validate_strict

    result = await run(tmp_path, judge_says("not json"), "chooses", "wrong", "stops")
    broken = FileResult(tmp_path / "broken.play.yaml", "", error="x.play.yaml:1:1: bad")
    path = tmp_path / "out.xml"
    from qualia_cli.headless.report import write_junit

    write_junit([result, broken], path)
    root = ET.parse(path).getroot()
    validate_strict(root)  # junit-10.xsd, as Jenkins' xUnit plugin reads it
    assert all(c.get("file") is None for c in root.iter("testcase"))

    write_junit([result], path, locations=True)  # the option for lenient readers
    located = ET.parse(path).getroot()
    validate_junit(located, strict=False)
    lines = [c.get("line") or "" for c in located.iter("testcase")]
    assert lines == [t.where.rsplit(":", 1)[-1] for t in result.tests]
    assert all(map(str.isdigit, lines))
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        validate_strict(located)


def test_the_facade_checks_a_starting_state(tmp_path: Path) -> None:
    from qualia_cli.config import load_settings
    from qualia_cli.engine.errors import StartStateError

    engine = Engine(load_settings(), db_path=tmp_path / "s.db")
    session = engine.new_session(
        "second_shelf", start_state={"stats": {"hope": 90}, "mood": "worried"}, seed=3
    )
    state = session.state
    assert state.stats == {"affection": 30, "trust": 25, "hope": 90} and state.mood == "worried"
    assert session.record.settings == {"seed": 3}
    for bad, message in [
        ({"stats": {"luck": 3}}, "'luck' is not a stat of second_shelf"),
        ({"stats": {"hope": 101}}, "hope = 101 is outside 0..100"),
        ({"mood": "grumpy"}, "'grumpy' is not a known mood"),
        ({"weather": "rain"}, "unknown key 'weather'"),
    ]:
        with pytest.raises(StartStateError, match=message):
            engine.new_session("second_shelf", start_state=bad)
    engine.store.close()


async def test_a_call_that_cannot_be_recorded_fails_the_run_loudly(tmp_path: Path) -> None:
    provider = ScriptedProvider(
        answers={"strategist": failing(ErrorCode.TIMEOUT, "no answer within 120s")}
    )
    text = SCRIPT.replace("seed: 21\n", "seed: 21\ncassette: t.cassette.yaml\n")
    runner, play = setup(tmp_path, provider, text)
    runner.options = RunOptions(mode="record")
    result = await runner.run_file(play, ["wrong"])
    runner.save_cassettes()
    test = result.tests[0]
    assert test.status is Status.ERROR and exit_code([result]) == 2  # not a silent exit 1
    assert test.error is not None and "could not record a model call" in test.error
    assert "strategist call failed: " in test.error and "no answer within 120s" in test.error
    assert test.error.startswith(f"{tmp_path / 't.play.yaml'}:")  # the test's file:line
