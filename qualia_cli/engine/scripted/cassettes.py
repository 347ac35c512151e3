"""Cassettes as the front ends see them; recording and replaying live in llm/cassette.py."""

from __future__ import annotations

from qualia_cli.llm.cassette import Cassette, CassetteMiss, CassetteMode, not_recorded
from qualia_cli.llm.cassette_file import lint_cassette, load_cassette
from qualia_cli.llm.cassette_settings import SamplingPins, pinned_settings

__all__ = [
    "Cassette",
    "CassetteMiss",
    "CassetteMode",
    "SamplingPins",
    "lint_cassette",
    "load_cassette",
    "not_recorded",
    "pinned_settings",
]
