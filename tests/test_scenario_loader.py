"""Scenario loading: bundled scenarios load, broken files report exact file:line:col."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from qualia_cli.paths import bundled_scenarios_dir
from qualia_cli.scenario import (
    MOODS,
    Problem,
    Rating,
    Scenario,
    ScenarioError,
    ScenarioNotFoundError,
    compile_condition,
    find_scenario,
    list_scenarios,
    load_scenario,
    load_scenario_dict,
)

BAD_DIR = Path(__file__).parent / "data" / "scenarios_bad"
BUNDLED = sorted(bundled_scenarios_dir().glob("*.yaml"))

MINIMAL = """\
id: tiny
title: Tiny Test
genre: test
setting:
  world: A small room.
  start_location: room
player:
  role: a visitor
partner:
  name: Ada
  age: 30
  gender: woman
  occupation: host
  appearance:
    description: A woman.
    tags: [1girl]
  personality: [kind]
  speech_style: Plain.
stats:
  - name: trust
opening: You enter.
"""


def _error(path: Path) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    return info.value


# --------------------------------------------------------------------------- bundled


def test_there_are_three_bundled_scenarios_of_different_genres() -> None:
    assert len(BUNDLED) >= 3
    genres = {load_scenario(p).genre for p in BUNDLED}
    assert {"mystery", "slice of life", "science fiction"} <= genres


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.stem)
def test_bundled_scenario_loads_and_is_well_formed(path: Path) -> None:
    s = load_scenario(path)
    assert s.id == path.stem
    assert s.content_rating is Rating.GENERAL
    assert s.partner.age >= 18
    assert s.starting_mood in MOODS
    assert 2 <= len(s.stats) <= 3
    assert 2 <= len(s.endings) <= 3
    assert s.setting.start_location in s.setting.locations
    assert s.partner.appearance.tags and s.images.style_tags and s.images.negative_tags
    assert s.partner.likes and s.partner.dislikes and s.partner.secrets
    assert s.first_message
    # Small models read these every turn: keep them short.
    assert len(s.setting.world.split()) <= 80
    assert len(s.opening.split()) <= 90
    names = {st.name for st in s.stats}
    for ending in s.endings:
        compile_condition(ending.condition, names)


def test_bundled_scenarios_have_a_format_header() -> None:
    for path in BUNDLED:
        assert path.read_text(encoding="utf-8").startswith("# A qualia scenario.")


# --------------------------------------------------------------------------- broken files

# (file, "line:col", a phrase from the message). Every position was checked by hand.
BAD_CASES: list[tuple[str, str, str]] = [
    ("yaml_syntax.yaml", "29:1", "YAML syntax error: found unexpected end of stream"),
    ("yaml_mapping_values.yaml", "2:12", "mapping values are not allowed here"),
    ("tab_indent.yaml", "6:1", "found character '\\t' that cannot start any token"),
    ("duplicate_key.yaml", "4:1", "duplicate key 'title' (first given on line 2)"),
    ("not_utf8.yaml", "5:14", "not valid UTF-8 (byte 0xe4)"),
    ("empty.yaml", "1:1", "the scenario is empty"),
    ("top_level_list.yaml", "2:1", "a scenario must be a mapping of keys"),
    (
        "unknown_key_top.yaml",
        "4:1",
        "unknown key 'colour' (allowed: id, title, genre, narrative_pace,",
    ),
    (
        "unknown_key_nested.yaml",
        "18:5",
        "partner.appearance: unknown key 'colour' (allowed: description, tags)",
    ),
    ("missing_field.yaml", "11:3", "partner: missing required key 'speech_style'"),
    (
        "wrong_type.yaml",
        "12:8",
        "partner.age: Input should be a valid integer, unable to parse string as an integer",
    ),
    ("player_not_mapping.yaml", "8:9", "player: expected a mapping of keys, found text"),
    ("bad_id.yaml", "1:5", "id: must be a lowercase name"),
    ("stats_empty.yaml", "20:8", "stats: List should have at least 1 item"),
    (
        "stat_start_out_of_bounds.yaml",
        "22:12",
        "stats[0].start: start (150) must lie within 0..100",
    ),
    ("stat_min_max.yaml", "24:10", "stats[1].min: min (50) must be below max (10)"),
    ("duplicate_stat.yaml", "23:11", "stats[1].name: stat names must be unique; repeated: trust"),
    ("reserved_stat_name.yaml", "23:11", "stats[1].name: 'turn' is reserved"),
    (
        "mature_minor.yaml",
        "13:8",
        "partner.age: a mature scenario needs every character to be an adult",
    ),
    ("unknown_mood.yaml", "24:16", "starting_mood: 'grumpy' is not a known mood"),
    (
        "condition_unknown_name.yaml",
        "28:16",
        "endings[0].condition: unknown name 'trsut' "
        "(known: affection, trust, mood, location, time, turn); did you mean 'trust'?",
    ),
    ("condition_syntax.yaml", "28:32", "expected a name, number or text, found '>='"),
    ("condition_call.yaml", "28:17", "function calls are not allowed"),
    ("condition_attribute.yaml", "28:20", "attribute access is not allowed"),
    ("condition_bad_mood.yaml", "28:41", "'hapy' is not a known mood; did you mean 'happy'?"),
    ("condition_bad_location.yaml", "28:37", "'garden' is not a location of this scenario"),
    ("duplicate_ending.yaml", "29:9", "endings[1].id: ending id 'friends' is used twice"),
    ("multiple_problems.yaml", "4:1", "unknown key 'sumary'"),
]


@pytest.mark.parametrize(("name", "where", "phrase"), BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_scenario_reports_file_line_col(name: str, where: str, phrase: str) -> None:
    path = BAD_DIR / name
    err = _error(path)
    text = str(err)
    assert text.startswith(f"{path}:{where}: "), text
    assert phrase in text
    assert "\n" not in text
    assert err.lines()[0] == text


def test_every_bad_file_is_covered() -> None:
    covered = {c[0] for c in BAD_CASES}
    assert {p.name for p in BAD_DIR.iterdir()} == covered


def test_all_problems_are_reported_in_file_order() -> None:
    path = BAD_DIR / "multiple_problems.yaml"
    lines = _error(path).lines()
    assert lines == [
        f"{path}:4:1: unknown key 'sumary' (allowed: id, title, genre, narrative_pace, "
        "content_rating, summary, setting, player, partner, stats, starting_mood, opening, "
        "first_message, endings, images, lorebook, suggestions, card); did you mean 'summary'?",
        f"{path}:13:8: partner.age: Input should be greater than or equal to 1",
        f"{path}:23:12: stats[0].start: start (-1) must lie within 0..100",
    ]


def test_relative_path_is_shown_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BAD_DIR.parent)
    err = _error(Path("scenarios_bad/wrong_type.yaml"))
    assert str(err).startswith("scenarios_bad/wrong_type.yaml:12:8: partner.age: ")


# --------------------------------------------------------------------------- edge cases


def _write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_minimal_scenario_loads_with_defaults(tmp_path: Path) -> None:
    s = load_scenario(_write(tmp_path, MINIMAL))
    assert isinstance(s, Scenario)
    assert s.stats[0].start == 50
    assert s.content_rating is Rating.GENERAL
    assert s.endings == []


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    assert str(_error(path)) == f"{path}: file not found"


def test_directory_is_not_a_scenario(tmp_path: Path) -> None:
    assert str(_error(tmp_path)) == f"{tmp_path}: is a directory, not a scenario file"


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode())
    assert load_scenario(path).id == "tiny"


def test_missing_top_level_key_points_at_the_document(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL.replace("opening: You enter.\n", ""))
    assert str(_error(path)) == f"{path}:1:1: missing required key 'opening'"


def test_unsafe_yaml_tags_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL + "summary: !!python/object/apply:os.system ['echo hi']\n")
    err = _error(path)
    assert str(err) == (
        f"{path}:22:10: explicit YAML tags like '!!python/object/apply:os.system' are not "
        "allowed; remove it"
    )


def test_yaml_boolean_key_is_explained(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL.replace("genre: test\n", "genre: test\nyes: 1\n"))
    assert str(_error(path)) == (
        f"{path}:4:1: key 'yes' is not text (YAML reads it as true/false (true)); put it in quotes"
    )


def test_two_documents_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL + "---\nid: other\n")
    assert str(_error(path)) == (
        f"{path}:22:1: a scenario file must hold one YAML document (remove '---')"
    )


def test_merge_keys_override_without_duplicate_error(tmp_path: Path) -> None:
    text = MINIMAL.replace("  - name: trust\n", "  - <<: {name: x, start: 5}\n    name: trust\n")
    s = load_scenario(_write(tmp_path, text))
    assert (s.stats[0].name, s.stats[0].start) == ("trust", 5)


@pytest.mark.parametrize(
    ("condition_yaml", "where"),
    [
        ("    condition: trsut > 1\n", "25:16"),
        ("    condition: 'turn > 1 and trsut > 1'\n", "25:30"),
        ("    condition: turn > 1 and\n      trsut > 1\n", "26:7"),
        ("    condition: >-\n      turn > 1 and\n      trsut > 1\n", "27:7"),
    ],
)
def test_condition_errors_point_inside_the_scalar(
    tmp_path: Path, condition_yaml: str, where: str
) -> None:
    text = MINIMAL + "endings:\n  - id: e\n    title: E\n" + condition_yaml
    path = _write(tmp_path, text)
    assert str(_error(path)).startswith(f"{path}:{where}: endings[0].condition: unknown name")


# --------------------------------------------------------------------------- dicts


def test_load_scenario_dict_accepts_a_snapshot() -> None:
    data = yaml.safe_load((bundled_scenarios_dir() / "second_shelf.yaml").read_text())
    s = load_scenario_dict(data)
    assert s == load_scenario(bundled_scenarios_dir() / "second_shelf.yaml")
    assert load_scenario_dict(s.model_dump(mode="json")) == s


def test_load_scenario_dict_reports_without_positions() -> None:
    data = yaml.safe_load(MINIMAL)
    data["partner"]["age"] = 0
    data["endings"] = [{"id": "e", "title": "E", "condition": "trsut > 1"}]
    with pytest.raises(ScenarioError) as info:
        load_scenario_dict(data, source="session 42")
    assert str(info.value) == "session 42: partner.age: Input should be greater than or equal to 1"
    data["partner"]["age"] = 30
    with pytest.raises(ScenarioError) as info:
        load_scenario_dict(data, source="session 42")
    assert str(info.value).startswith("session 42: endings[0].condition: unknown name 'trsut'")


def test_problem_formats() -> None:
    assert str(Problem("a.yaml", 3, 4, "bad")) == "a.yaml:3:4: bad"
    assert str(Problem("a.yaml", 0, 0, "bad")) == "a.yaml: bad"
    assert str(Problem("", 0, 0, "bad")) == "bad"
    err = ScenarioError([Problem("a.yaml", 1, 1, "one"), Problem("a.yaml", 2, 1, "two")])
    assert str(err) == "a.yaml:1:1: one"
    assert err.lines() == ["a.yaml:1:1: one", "a.yaml:2:1: two"]


# --------------------------------------------------------------------------- finding


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    user, bundled = tmp_path / "user", tmp_path / "bundled"
    user.mkdir()
    bundled.mkdir()
    (bundled / "tiny.yaml").write_text(MINIMAL)
    (bundled / "other.yaml").write_text(MINIMAL.replace("id: tiny", "id: other"))
    (user / "my_file.yml").write_text(MINIMAL.replace("id: tiny", "id: declared"))
    (user / "broken.yaml").write_text("id: [unclosed\n")
    return user, bundled


def test_find_by_id_path_and_declared_id(dirs: tuple[Path, Path]) -> None:
    user, bundled = dirs
    search = [user, bundled]
    assert find_scenario("tiny", search) == bundled / "tiny.yaml"
    assert find_scenario("tiny.yaml", search) == bundled / "tiny.yaml"
    assert find_scenario("my_file", search) == user / "my_file.yml"
    assert find_scenario("declared", search) == user / "my_file.yml"
    assert find_scenario(str(bundled / "other.yaml"), search) == bundled / "other.yaml"


def test_first_directory_wins(dirs: tuple[Path, Path]) -> None:
    user, bundled = dirs
    (user / "tiny.yaml").write_text(MINIMAL)
    assert find_scenario("tiny", [user, bundled]) == user / "tiny.yaml"
    assert find_scenario("tiny", [bundled, user]) == bundled / "tiny.yaml"


def test_find_unknown_lists_available(dirs: tuple[Path, Path]) -> None:
    with pytest.raises(ScenarioNotFoundError) as info:
        find_scenario("tinny", list(dirs))
    assert str(info.value) == (
        "scenario 'tinny' not found; did you mean 'tiny'? "
        "(available: broken, declared, my_file, other, tiny)"
    )
    assert info.value.available == ["broken", "declared", "my_file", "other", "tiny"]


def test_find_missing_path(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as info:
        find_scenario(str(tmp_path / "x.yaml"), [])
    assert str(info.value) == f"{tmp_path / 'x.yaml'}: file not found"


def test_find_with_no_scenarios(tmp_path: Path) -> None:
    with pytest.raises(ScenarioNotFoundError, match="there are no scenarios in"):
        find_scenario("tiny", [tmp_path / "missing"])


def test_bundled_ids_are_found() -> None:
    for path in BUNDLED:
        assert find_scenario(path.stem, [bundled_scenarios_dir()]) == path


def test_list_scenarios_mixes_results_and_errors(dirs: tuple[Path, Path]) -> None:
    user, bundled = dirs
    listed = list_scenarios([user, bundled, user, user / "missing"])
    assert [p.name for p, _ in listed] == ["broken.yaml", "my_file.yml", "other.yaml", "tiny.yaml"]
    broken = listed[0][1]
    assert isinstance(broken, ScenarioError)
    assert str(broken).startswith(f"{user / 'broken.yaml'}:2:1: YAML syntax error")
    assert [s.id for _, s in listed[1:] if isinstance(s, Scenario)] == ["declared", "other", "tiny"]
