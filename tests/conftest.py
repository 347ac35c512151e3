"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from support.engine import engines, scripted_engine  # noqa: F401  (fixtures for every test)

from qualia_cli.config import LocalModelConfig
from qualia_cli.llm.local import LocalServer, get_local_server, resolve_gguf

# -- llm ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def local_server() -> Iterator[LocalServer]:
    """The embedded llama.cpp server with the bundled SmolLM2 weights, started once.

    One thread: on a shared 2-core machine it is ~4x faster than two threads under contention
    (and ~35% slower when the machine is idle). The server is process-wide, so the router
    reuses it for `local/smollm2`.
    """
    yield get_local_server(resolve_gguf("smollm2"), LocalModelConfig(n_threads=1))


# -- paths --------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def qualia_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own QUALIA_HOME (config, data, cache) and no QUALIA_* overrides."""
    import os

    for name in list(os.environ):
        if name.startswith("QUALIA_"):
            monkeypatch.delenv(name)
    home = tmp_path_factory.mktemp("qualia-home")
    monkeypatch.setenv("QUALIA_HOME", str(home))
    return home


# -- markers and hypothesis profiles -----------------------------------------------------

# Property tests (test_properties.py) run 1,000 examples in the full suite; the quick loop
# (`-m "not embedded and not slow"`) runs 100 of each. `--hypothesis-profile NAME` chooses.
settings.register_profile("full", max_examples=1000)
settings.register_profile("quick", max_examples=100)


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("hypothesis_profile", None):
        return  # chosen on the command line (the hypothesis plugin loads it)
    quick = "not slow" in (config.getoption("markexpr", "") or "")
    settings.load_profile("quick" if quick else "full")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`embedded` and `slow` marks (tests/support/markers.py) for the quick loop."""
    from tests.support.markers import mark

    mark(items)


@pytest.fixture(autouse=True)
def embedded_needs_its_mark(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """A test that reaches the embedded model without the `embedded` mark fails, so the quick
    loop (`-m "not embedded and not slow"`) cannot quietly start it."""
    if request.node.get_closest_marker("embedded") is not None:
        yield
        return
    import qualia_cli.llm.local as local

    real, used = local.get_local_server, []

    def spy(*args: object, **kwargs: object) -> LocalServer:
        used.append(True)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(local, "get_local_server", spy)
    yield
    if used:
        pytest.fail(
            "this test used the embedded model: mark it embedded (tests/support/markers.py)"
        )
