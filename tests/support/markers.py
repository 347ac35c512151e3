"""Mark tests `embedded` (start the embedded llama.cpp model) and `slow` (start a child process
or a real server stack), so `pytest -m "not embedded and not slow"` is a quick loop.

The marks are derived, not hand-kept: a test is `embedded` when it (or a fixture it uses) asks
for `local_server` or names the bundled model, and `slow` when its body runs `qualia` in a child
process, starts a subprocess or runs the Textual app (Pilot's `run_test(`, the `snap_compare`
snapshot fixture) — in its body, in a fixture of its module or in a helper of its module it
calls. A test that is slow for another reason (hundreds of turns, a server that makes it wait
out a timeout) carries `@pytest.mark.slow` itself; together they keep the quick loop under a
minute while the full suite still runs everything. Modules
whose every test drives the embedded model through a module fixture are in EMBEDDED_MODULES.
An explicit `@pytest.mark.embedded` or `@pytest.mark.slow` on a test is kept as it is.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
EMBEDDED_FIXTURES = frozenset({"local_server"})
EMBEDDED_WORDS = ("local/smollm2", "get_local_server", "resolve_gguf(")
SLOW_WORDS = ("qualia(", "subprocess.", "Popen(", "sys.executable", "run_test(")
SLOW_FIXTURES = frozenset({"snap_compare"})
EMBEDDED_MODULES = frozenset(
    {
        "test_e2e_local.py",
        "test_llm_local.py",
        "test_llm_local_slots.py",
        "test_memory_e2e_local.py",
        "test_small_profile.py",
        "test_tui_e2e_local.py",
    }
)


def _source(function: object) -> str:
    try:
        return inspect.getsource(function)  # type: ignore[arg-type]
    except (OSError, TypeError):
        return ""


def _fixture_sources(item: pytest.Item) -> str:
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return ""
    parts = []
    for name in info.names_closure:
        for definition in info.name2fixturedefs.get(name, ()):
            try:
                where = Path(inspect.getsourcefile(definition.func) or "")
            except TypeError:
                continue
            # a test module's own fixtures; conftest's and pytest's are judged by name
            if where.parent == HERE.parent and where.name.startswith("test_"):
                parts.append(_source(definition.func))
    return "\n".join(parts)


def _helpers(function: object) -> str:
    """The source of the test module's own functions the test calls (one level deep)."""
    code = getattr(function, "__code__", None)
    module = inspect.getmodule(function)
    if code is None or module is None:
        return ""
    parts = []
    for name in code.co_names:
        helper = getattr(module, name, None)
        if inspect.isfunction(helper) and helper.__module__ == module.__name__:
            parts.append(_source(helper))
    return "\n".join(parts)


def mark(items: list[pytest.Item]) -> None:
    for item in items:
        function = getattr(item, "function", None)
        body = _source(function) + _helpers(function) if function is not None else ""
        fixtures = set(getattr(item, "fixturenames", ()))
        text = body + _fixture_sources(item)
        module = Path(str(item.fspath)).name
        if item.get_closest_marker("embedded") is None and (
            fixtures & EMBEDDED_FIXTURES
            or module in EMBEDDED_MODULES
            or any(word in text for word in EMBEDDED_WORDS)
        ):
            item.add_marker(pytest.mark.embedded)
        if item.get_closest_marker("slow") is None and (
            fixtures & SLOW_FIXTURES or any(word in text for word in SLOW_WORDS)
        ):
            item.add_marker(pytest.mark.slow)
