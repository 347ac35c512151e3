"""Cassettes as the front ends see them; recording and replaying live in llm/cassette.py."""

from __future__ import annotations

from qualia_cli.llm.cassette import Cassette, CassetteMiss, CassetteMode
from qualia_cli.llm.cassette_file import lint_cassette, load_cassette

__all__ = ["Cassette", "CassetteMiss", "CassetteMode", "lint_cassette", "load_cassette"]
