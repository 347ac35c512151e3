"""Configuration: file < environment < flags, QUALIA_HOME relocation, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from qualia_cli.config import ConfigError, load_settings
from qualia_cli.paths import get_paths


def write_config(home: Path, text: str) -> Path:
    path = get_paths().config_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_qualia_home_relocates_every_path(qualia_home: Path) -> None:
    p = get_paths()
    for d in (p.config_dir, p.data_dir, p.cache_dir, p.db_path, p.log_file):
        assert d.is_relative_to(qualia_home)
    assert not p.data_dir.exists(), "nothing is created until it is needed"


def test_defaults_without_a_file(qualia_home: Path) -> None:
    s = load_settings()
    assert s.models.for_agent("partner") == "local/smollm2"


def test_precedence_file_then_env_then_flags(
    qualia_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(
        qualia_home, "models:\n  default: ollama/a\n  partner: ollama/b\ntemperature: 0.3\n"
    )
    s = load_settings()
    assert (s.models.default, s.models.for_agent("partner"), s.temperature) == (
        "ollama/a",
        "ollama/b",
        0.3,
    )
    assert s.models.for_agent("director") == "ollama/a"
    monkeypatch.setenv("QUALIA_TEMPERATURE", "0.9")
    monkeypatch.setenv("QUALIA_MODELS__PARTNER", "openai/c")
    s = load_settings()
    assert s.temperature == 0.9 and s.models.partner == "openai/c"
    s = load_settings(temperature=0.1)
    assert s.temperature == 0.1


def test_endpoints_from_file(qualia_home: Path) -> None:
    write_config(
        qualia_home,
        "endpoints:\n  lms:\n    base_url: http://127.0.0.1:1234/v1\n    api_key_env: LMS_KEY\n",
    )
    s = load_settings()
    assert s.endpoints["lms"].api_key_env == "LMS_KEY"


@pytest.mark.parametrize(
    ("text", "where", "phrase"),
    [
        ("models:\n  default: local/smollm2\n  partnr: x/y\n", ":3:3:", "unknown setting"),
        ("temperature: hot\n", ":1:14:", "valid number"),
        ("temperature: [1\n", ":2:1:", "YAML syntax error"),
        ("- a\n- b\n", ":1:1:", "mapping"),
    ],
)
def test_bad_config_file_points_at_line_and_col(
    qualia_home: Path, text: str, where: str, phrase: str
) -> None:
    path = write_config(qualia_home, text)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith(f"{path}{where}") and phrase in message
    assert "\n" not in message
    if phrase not in ("YAML syntax error", "mapping"):  # a value read from the file
        assert message.endswith("(fix it in config.yaml)") and "QUALIA_" not in message


def test_bad_env_value_is_not_blamed_on_the_file(
    qualia_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(qualia_home, "temperature: 0.5\n")
    monkeypatch.setenv("QUALIA_TEMPERATURE", "warm")
    with pytest.raises(
        ConfigError,
        match=r"^settings \(environment or flags\).*fix the QUALIA_TEMPERATURE variable",
    ):
        load_settings()
