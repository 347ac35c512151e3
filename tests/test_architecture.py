"""The package's shape, checked from the source with the standard library's `ast`.

The rules (README, "How it works"):

- layers, top to bottom: front ends (`cli`, `tui`, `headless`) -> `engine` -> behaviours
  (`agents`, `memory`, `images`, `authoring`) -> infrastructure (`llm`, `store`) -> plain data
  (`scenario`, `config`, `paths`, `errors`, `textsafe`, `deadline`, `logs`, `roles`). An import
  never points up a layer, wherever it sits (a lazy import inside a function is still an import).
  Packages of one layer may import each other; cycles are caught by the next rule.
- no import cycle between modules, counting every import that can run: at module level and
  inside functions alike (a function-level import defers a heavy or optional dependency; it
  does not excuse a loop). Only imports under `if TYPE_CHECKING:` (types, never run) are left
  out.
- agents describe their prompts and never import `memory` (the engine builds each prompt with
  memory/builder.py): memory -> agents, never the other way, not even for a type.
- front ends import only the engine's facade (`qualia_cli.engine` itself, whose `__all__` is
  its public surface, and `qualia_cli.engine.events`, the event types it emits), the plain-data
  layer, and each other (the CLI starts the TUI and the
  headless runner).
- textual, rich, typer and click are imported only by front ends.
- `qualia --help` loads none of textual, pydantic, httpx, sqlite_utils, openai, asyncio.
- every user-facing error derives from `QualiaError`, in a module that imports nothing.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "qualia_cli"

LAYERS: dict[str, int] = {
    **dict.fromkeys(["cli", "tui", "headless", "__main__"], 4),
    "engine": 3,
    **dict.fromkeys(["agents", "memory", "images", "authoring"], 2),
    **dict.fromkeys(["llm", "store"], 1),
    **dict.fromkeys(
        ["scenario", "config", "paths", "errors", "textsafe", "deadline", "logs", "roles", ""],
        0,
    ),
}
FRONT_ENDS = frozenset({"cli", "tui", "headless"})
FRONT_END_MAY_IMPORT = frozenset(
    {"qualia_cli.engine", "qualia_cli.engine.events"}  # the facade and its event vocabulary
    | {"qualia_cli.errors", "qualia_cli.config", "qualia_cli.paths"}
    | {"qualia_cli.textsafe", "qualia_cli.deadline", "qualia_cli.logs"}
)
UI_LIBRARIES = frozenset({"textual", "rich", "typer", "click"})
HEAVY_FOR_HELP = ("textual", "pydantic", "httpx", "sqlite_utils", "openai", "asyncio")


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module (or the package a name was taken from)
    line: int
    at_load: bool  # runs when the source module is loaded (module level, not TYPE_CHECKING)
    type_only: bool = False  # under `if TYPE_CHECKING:`: never runs


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, at_load: bool) -> Iterator[tuple[ast.AST, bool]]:
    for child in ast.iter_child_nodes(node):
        inner = at_load
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) or (
            isinstance(child, ast.If) and _is_type_checking(child)
        ):
            inner = False
        yield child, inner
        yield from _walk(child, inner)


def _type_only(tree: ast.AST) -> set[int]:
    """The ids of the nodes under an `if TYPE_CHECKING:` (they never run)."""
    return {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and _is_type_checking(node)
        for part in node.body
        for inner in ast.walk(part)
    }


def imports_of(path: Path, root: Path, modules: set[str]) -> Iterator[Import]:
    source = module_name(path, root)
    package = source if path.name == "__init__.py" else source.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    hidden = _type_only(tree)
    for node, at_load in _walk(tree, True):
        type_only = id(node) in hidden
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(source, alias.name, node.lineno, at_load, type_only)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            for alias in node.names:
                # `from pkg import submodule` imports the submodule (pkg may still be loading);
                # `from pkg import name` needs pkg/__init__.py
                whole = f"{module}.{alias.name}"
                target = whole if whole in modules else module
                yield Import(source, target, node.lineno, at_load, type_only)


def collect(root: Path) -> tuple[set[str], list[Import]]:
    paths = sorted(root.rglob("*.py"))
    modules = {module_name(path, root) for path in paths}
    found: list[Import] = []
    for path in paths:
        found.extend(imports_of(path, root, modules))
    return modules, found


def area(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def upward_imports(imports: list[Import], modules: set[str]) -> list[str]:
    out = []
    for imp in imports:
        if imp.target not in modules or not imp.target.startswith("qualia_cli"):
            continue
        if LAYERS[area(imp.target)] > LAYERS[area(imp.source)]:
            out.append(f"{imp.source}:{imp.line} imports {imp.target} (a layer up)")
    return out


def front_end_reaches(imports: list[Import], modules: set[str]) -> list[str]:
    out = []
    for imp in imports:
        if area(imp.source) not in FRONT_ENDS or imp.target not in modules:
            continue
        target = imp.target
        if area(target) in FRONT_ENDS or target in FRONT_END_MAY_IMPORT:
            continue
        if area(target) == "scenario" or target == "qualia_cli":
            continue  # the scenario models are plain data every layer reads
        out.append(f"{imp.source}:{imp.line} imports {target}: use qualia_cli.engine")
    return out


def cycles(
    imports: list[Import], modules: set[str], *, through_functions: bool = False
) -> list[list[str]]:
    """Strongly connected components (Tarjan) of the import graph, larger than one: the
    load-time imports, or with ``through_functions`` every import that can run (all but
    the `if TYPE_CHECKING:` ones)."""
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for imp in imports:
        counted = imp.at_load or (through_functions and not imp.type_only)
        if counted and imp.target in modules and imp.target != imp.source:
            graph[imp.source].add(imp.target)
    # Loading a.b.c runs a/b/__init__.py first, but that implicit edge is left out: a package
    # re-exporting its own modules would otherwise put every module in one loop.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:  # iterative, so deep graphs cannot hit the recursion limit
        nonlocal counter
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))

    for m in sorted(modules):
        if m not in index:
            visit(m)
    return found


@pytest.fixture(scope="module")
def graph() -> tuple[set[str], list[Import]]:
    return collect(PACKAGE)


# -- the rules ----------------------------------------------------------------------------


def test_no_import_points_up_a_layer(graph: tuple[set[str], list[Import]]) -> None:
    modules, imports = graph
    unknown = {area(m) for m in modules} - LAYERS.keys()
    assert not unknown, f"give these packages a layer in LAYERS: {sorted(unknown)}"
    assert upward_imports(imports, modules) == []


def test_front_ends_import_only_the_engine_facade(graph: tuple[set[str], list[Import]]) -> None:
    assert front_end_reaches(*reversed(graph)) == []


def test_no_import_cycles(graph: tuple[set[str], list[Import]]) -> None:
    modules, imports = graph
    assert cycles(imports, modules) == [], "a loop among the imports that run when modules load"
    assert cycles(imports, modules, through_functions=True) == [], (
        "a loop closed only by an import inside a function: move the shared piece down instead"
    )


def test_agents_never_import_memory(graph: tuple[set[str], list[Import]]) -> None:
    """Not at load, not in a function, not for a type (memory/builder.py imports agents)."""
    _, imports = graph
    wrong = [
        f"{imp.source}:{imp.line} imports {imp.target}"
        for imp in imports
        if area(imp.source) == "agents" and area(imp.target) == "memory"
    ]
    assert wrong == []


def test_ui_libraries_only_in_front_ends(graph: tuple[set[str], list[Import]]) -> None:
    _, imports = graph
    wrong = [
        f"{imp.source}:{imp.line} imports {imp.target}"
        for imp in imports
        if imp.target.split(".")[0] in UI_LIBRARIES and area(imp.source) not in FRONT_ENDS
    ]
    assert wrong == []


def test_engine_facade_lists_its_surface() -> None:
    import qualia_cli.engine as engine

    assert engine.__all__, "qualia_cli.engine needs an __all__"
    missing = [name for name in engine.__all__ if not hasattr(engine, name)]
    assert missing == []
    # a public name that is also a module's name would turn into the module once it is loaded
    modules = {p.stem for p in (PACKAGE / "engine").rglob("*.py")} - {"events", "__init__"}
    modules |= {p.name for p in (PACKAGE / "engine").iterdir() if p.is_dir()}
    assert sorted(set(engine.__all__) & modules) == []


def test_help_loads_no_heavy_module() -> None:
    """A child process, so modules other tests loaded do not count."""
    code = (
        "import contextlib, io, sys\n"
        "sys.argv = ['qualia', '--help']\n"
        "from qualia_cli.cli.app import app\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n        app()\n    except SystemExit:\n        pass\n"
        f"print(','.join(m for m in {HEAVY_FOR_HELP!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == ""


# -- errors ---------------------------------------------------------------------------------


def test_error_root_imports_nothing() -> None:
    tree = ast.parse((PACKAGE / "errors.py").read_text(encoding="utf-8"))
    assert [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)] == []


BUILTIN_BASES = frozenset({"Exception", "ValueError", "RuntimeError", "LookupError", "OSError"})
INTERNAL_ERRORS = {
    # raised and caught inside one package, never shown as they are
    "qualia_cli.llm.parsing.ParseError",  # -> LLMError(ErrorCode.BAD_OUTPUT) by the caller
    "qualia_cli.llm.errormap.BadResponse",  # -> LLMError by errormap
    "qualia_cli.scenario.safe_read._Refused",  # -> ScenarioError
    "qualia_cli.scenario.file_errors.LocatedError",  # pydantic validator -> ScenarioError
    "qualia_cli.scenario.condition_tokens.ConditionError",  # pydantic validator -> ScenarioError
    "qualia_cli.scenario.lore_keys.KeyTimeout",  # a regex guard's timer
}


def test_every_error_class_derives_from_qualia_error() -> None:
    """A new exception class deriving straight from a builtin would exit as "unexpected"
    (code 1) in the CLI: it must derive from QualiaError or be listed as internal here."""
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path, PACKAGE)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ClassDef):
                continue
            bases = {b.id for b in node.bases if isinstance(b, ast.Name)}
            name = f"{module}.{node.name}"
            builtin_only = bases & BUILTIN_BASES and "QualiaError" not in bases
            if builtin_only and name not in INTERNAL_ERRORS | {"qualia_cli.errors.QualiaError"}:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name}")
    assert wrong == []


def test_user_errors_are_qualia_errors() -> None:
    import qualia_cli.engine.errors as errors
    from qualia_cli.engine.errors import USER_ERRORS
    from qualia_cli.engine.errors import __all__ as names
    from qualia_cli.errors import QualiaError

    assert (QualiaError,) == USER_ERRORS
    for name in names:
        value = getattr(errors, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, QualiaError), name


# -- the checker catches what it should (a planted package in tmp_path) ---------------------


def _plant(root: Path, files: dict[str, str]) -> tuple[set[str], list[Import]]:
    for name, text in files.items():
        path = root / "qualia_cli" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return collect(root / "qualia_cli")


def test_checker_sees_a_planted_cycle(tmp_path: Path) -> None:
    modules, imports = _plant(
        tmp_path,
        {
            "__init__.py": "",
            "agents/__init__.py": "",
            "agents/base.py": "from qualia_cli.memory.builder import build\n",
            "memory/__init__.py": "",
            "memory/builder.py": "from qualia_cli.agents import base\n",
            "memory/lazy.py": "def f():\n    from qualia_cli.memory import builder\n",
        },
    )
    assert cycles(imports, modules) == [["qualia_cli.agents.base", "qualia_cli.memory.builder"]]


def test_checker_sees_a_loop_through_a_function_level_import(tmp_path: Path) -> None:
    modules, imports = _plant(
        tmp_path,
        {
            "__init__.py": "",
            "llm/__init__.py": "",
            "llm/embeddings.py": "def make():\n    from qualia_cli.llm import cassette\n",
            "llm/cassette.py": (
                "from qualia_cli.llm.embeddings import parse\nfrom qualia_cli.llm import typed\n"
            ),
            "llm/typed.py": (  # a type-only import closes no loop
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from qualia_cli.llm import cassette\n"
            ),
        },
    )
    assert cycles(imports, modules) == []  # at load, the loop is not closed
    loop = ["qualia_cli.llm.cassette", "qualia_cli.llm.embeddings"]
    assert cycles(imports, modules, through_functions=True) == [loop]


def test_checker_sees_an_upward_and_a_reaching_import(tmp_path: Path) -> None:
    modules, imports = _plant(
        tmp_path,
        {
            "__init__.py": "",
            "engine/__init__.py": "",
            "engine/turn.py": "",
            "store/__init__.py": "",
            "store/db.py": "def f():\n    from qualia_cli.engine import turn\n",
            "tui/__init__.py": "",
            "tui/app.py": "from qualia_cli.engine.turn import X\nfrom qualia_cli.engine import Y\n",
        },
    )
    assert upward_imports(imports, modules) == [
        "qualia_cli.store.db:2 imports qualia_cli.engine.turn (a layer up)",
    ]
    assert front_end_reaches(imports, modules) == [
        "qualia_cli.tui.app:1 imports qualia_cli.engine.turn: use qualia_cli.engine"
    ]
