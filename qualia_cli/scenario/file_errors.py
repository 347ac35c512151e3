"""User files with positions, and the one translator of Pydantic errors to `file:line:col` lines.

Every YAML or JSON file a user gives us (scenarios, config, playthrough scripts, eval specs,
cassettes, workflow sidecars, cards, lorebooks, session exports) is read through
:mod:`qualia_cli.scenario.safe_read`, parsed here with node positions (:func:`read_document`),
validated against a Pydantic model, and any :class:`pydantic.ValidationError` becomes one
:class:`~qualia_cli.scenario.errors.Problem` per mistake through :func:`validation_problems` /
:func:`validation_error`, in the house format::

    file:line:col: <field path>: what is wrong; what to do

The field path is dotted (``partner.appearance``, ``tests.a.turns[0]``); the position is the
offending node (the key itself for an unknown key, the mapping for a missing one). Without
positions (already-parsed data) the line reads ``source: <field path>: what is wrong``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin

from pydantic import BaseModel, ValidationError

from qualia_cli.errors import QualiaError
from qualia_cli.scenario.errors import Problem, ScenarioError
from qualia_cli.scenario.safe_read import MAX_FILE_BYTES, parse_json, read_text
from qualia_cli.scenario.yaml_source import Doc, Loc, Locator, NoLocator, parse_yaml

__all__ = [
    "DocumentError",
    "LocatedError",
    "describe_value",
    "dotted",
    "json_positions",
    "load_document",
    "problem_at",
    "problem_for",
    "read_document",
    "unknown_key_message",
    "validate_document",
    "validation_error",
    "validation_problems",
]

M = TypeVar("M", bound=BaseModel)

# JSON is located through the YAML loader (JSON is YAML) only when it fails to validate, and
# only up to this size (about 3 s on a busy machine): past it a problem names the file and the
# field path (`interactions[812].request`), not the line.
MAX_LOCATED_JSON_CHARS = MAX_FILE_BYTES

# what a regular-expression constraint means, in words (keyed by the pattern)
PATTERN_HINTS: dict[str, str] = {
    r"^[a-z][a-z0-9_]{0,31}$": (
        "must be a lowercase name: a letter, then letters, digits or '_' (at most 32 characters)"
    ),
    "^(good|bad|neutral)$": "must be one of: good, bad, neutral",
}


class DocumentError(ScenarioError):
    """A user file (playthrough script, cassette, eval spec, …) that cannot be used."""


class LocatedError(ValueError):
    """A validator error that names the key it is about (relative to the model), and
    optionally a character offset inside that scalar."""

    def __init__(self, message: str, loc: Loc = (), offset: int | None = None) -> None:
        super().__init__(message)
        self.loc = loc
        self.offset = offset


# --------------------------------------------------------------------------- wording


def dotted(loc: Loc) -> str:
    """``("tests", "a", "turns", 0)`` -> ``tests.a.turns[0]``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def unknown_key_message(key: object, allowed: list[str], noun: str = "key") -> str:
    """``unknown key 'x' (allowed: a, b); did you mean 'a'?`` (the hint when one is close)."""
    message = f"unknown {noun} '{key}'"
    if allowed:
        message += f" (allowed: {', '.join(allowed)})"
        close = difflib.get_close_matches(str(key), allowed, n=1)
        if close:
            message += f"; did you mean '{close[0]}'?"
    return message


def describe_value(value: object) -> str:
    """How a YAML value reads to a person, for error messages."""
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return f"true/false ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"text ({value if len(value) <= 30 else value[:27] + '...'!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def problem_at(
    path: str,
    locator: Locator,
    loc: Loc,
    message: str,
    *,
    offset: int | None = None,
    key: bool = False,
) -> Problem:
    """A problem at `loc`: ``path:line:col: <dotted loc>: message``."""
    line, col = locator.at(loc, offset=offset, key=key)
    where = dotted(loc)
    return Problem(path, line, col, f"{where}: {message}" if where else message)


# --------------------------------------------------------------------------- translating


def _model_at(root: type[BaseModel] | None, loc: Loc) -> type[BaseModel] | None:
    """The model class validating the mapping at `loc` (to list the allowed keys)."""
    current: Any = root
    for part in loc:
        origin = get_origin(current)
        if origin in (list, dict) or (isinstance(part, int) and origin is None):
            args = [a for a in get_args(current) if a is not type(None)]
            current = args[-1] if args else None
            continue
        if get_args(current):  # an Optional[...] or a union: take the model member
            models = [a for a in get_args(current) if isinstance(a, type)]
            current = next((a for a in models if issubclass(a, BaseModel)), None)
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(str(part))
        if field is None:
            field = next((f for f in current.model_fields.values() if f.alias == part), None)
        if field is None:
            return None
        current = field.annotation
    if get_args(current):
        models = [a for a in get_args(current) if isinstance(a, type)]
        current = next((a for a in models if issubclass(a, BaseModel)), None)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _clean_loc(data: Any, loc: Loc, keep_last: bool) -> Loc:
    """Drop the parts Pydantic adds for union members ('str', 'CheckSpec', ...): a part that
    is not in the data is one, unless it is the missing key an error is about."""
    if data is None:
        return loc
    out: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_list or (isinstance(node, Mapping) and part in node):
            node = node[part]  # type: ignore[index]
        elif part == "on" and isinstance(node, Mapping) and True in node:
            node = node[True]  # YAML 1.1 reads the key `on` as true
        elif i == len(loc) - 1 and keep_last:
            pass
        else:
            continue
        out.append(part)
    return tuple(out)


def problem_for(
    err: Mapping[str, Any],
    path: str,
    positions: Locator | None = None,
    *,
    model: type[BaseModel] | None = None,
    data: Any = None,
    base: Loc = (),
    noun: str = "key",
) -> Problem:
    """One error of a ValidationError (an item of ``.errors()``) as a Problem; the
    arguments are those of :func:`validation_problems`."""
    locator = positions or NoLocator()
    kind: str = err["type"]
    loc = base + _clean_loc(data, tuple(err["loc"]), keep_last=kind == "missing")
    ctx: Mapping[str, Any] = err.get("ctx") or {}
    found = describe_value(err.get("input"))
    message: str = err["msg"]
    if kind in ("extra_forbidden", "invalid_key"):
        parent = loc[:-1]
        shown = locator.key_text(loc) or str(loc[-1] if kind == "extra_forbidden" else err["input"])
        if kind == "extra_forbidden":
            found_in = _model_at(model, parent[len(base) :])
            allowed = [f.alias or n for n, f in found_in.model_fields.items()] if found_in else []
            message = unknown_key_message(shown, allowed, noun)
        else:
            message = f"key '{shown}' is not text (YAML reads it as {found}); put it in quotes"
        line, col = locator.at(loc, key=True)  # the key itself, named under its mapping
        where = dotted(parent)
        return Problem(path, line, col, f"{where}: {message}" if where else message)
    if kind == "missing":
        return problem_at(path, locator, loc[:-1], f"missing required {noun} '{loc[-1]}'")
    offset = None
    if kind == "value_error" and isinstance(ctx.get("error"), ValueError):
        error = ctx["error"]
        if isinstance(error, LocatedError):
            loc, offset = loc + error.loc, error.offset
        message = str(error)
    elif kind in ("model_type", "model_attributes_type", "dict_type"):
        message = f"expected a mapping of keys, found {found}"
    elif kind == "list_type":
        message = f"expected a list, found {found}"
    elif kind == "string_type":
        message = f"expected text, found {found}"
    elif kind == "string_pattern_mismatch" and str(ctx.get("pattern")) in PATTERN_HINTS:
        message = f"{PATTERN_HINTS[str(ctx.get('pattern'))]}, found {found}"
    return problem_at(path, locator, loc, message, offset=offset)


def validation_problems(
    path: str,
    err: ValidationError,
    positions: Locator | None = None,
    *,
    model: type[BaseModel] | None = None,
    data: Any = None,
    base: Loc = (),
    noun: str = "key",
) -> list[Problem]:
    """Every mistake in `err`, one :class:`Problem` each, in file order.

    `positions` locates a ``loc`` in the file (None: no line and column); `model` is the class
    validated (to list the allowed keys of an unknown one); `data` what it validated (to drop
    the union-member names Pydantic adds to ``loc``); `base` where that data sits in the file;
    `noun` what a key is called ("setting" in config.yaml)."""
    problems = [
        problem_for(e, path, positions, model=model, data=data, base=base, noun=noun)
        for e in err.errors()
    ]
    problems = list(dict.fromkeys(problems))
    if problems[0].line > 0:
        problems.sort(key=lambda p: (p.line, p.col))
    return problems


def validation_error(
    path: str,
    err: ValidationError,
    positions: Locator | None = None,
    *,
    error: Callable[[list[Problem]], QualiaError] = DocumentError,
    model: type[BaseModel] | None = None,
    data: Any = None,
    base: Loc = (),
    noun: str = "key",
) -> QualiaError:
    """The exception to raise for `err`: `error` (a QualiaError taking the problem list, by
    default :class:`DocumentError`) built from :func:`validation_problems`; ``str()`` is the
    first problem on one line, ``.lines()`` every one."""
    problems = validation_problems(
        path, err, positions, model=model, data=data, base=base, noun=noun
    )
    return error(problems)


# --------------------------------------------------------------------------- documents


def json_positions(text: str, shown: str) -> Locator:
    """Positions for JSON that parsed (JSON is YAML): through the YAML node loader, which is
    slower, so only for a file that failed to validate; none if that loader refuses it."""
    if len(text) > MAX_LOCATED_JSON_CHARS:
        return NoLocator()
    try:
        return Locator(parse_yaml(text, shown))
    except (ScenarioError, ValueError):  # e.g. a JSON duplicate key, a tab YAML refuses
        return NoLocator()


def read_document(
    path: Path, *, what: str = "file", limit: int = MAX_FILE_BYTES, json: bool | None = None
) -> Doc:
    """A user's YAML or JSON file (JSON by its `.json` suffix unless `json` says), bounded and
    with node positions for YAML. Problems raise :class:`DocumentError`."""
    shown = str(path)
    try:
        text = read_text(path, limit=limit, what=what)
        as_json = path.suffix.lower() == ".json" if json is None else json
        return Doc(parse_json(text, shown), text=text) if as_json else parse_yaml(text, shown)
    except DocumentError:
        raise
    except ScenarioError as err:
        raise DocumentError(err.problems) from None


def positions_of(doc: Doc, shown: str) -> Locator:
    """The locator for `doc`: its YAML nodes, or (for JSON) the positions found on demand."""
    if doc.root is None and doc.text:
        return json_positions(doc.text, shown)
    return Locator(doc)


def validate_document(model: type[M], doc: Doc, path: str, *, what: str = "file") -> M:
    """Validate `doc.data` as `model`; raises DocumentError listing every problem."""
    if not isinstance(doc.data, Mapping):
        found = "is empty" if doc.data is None else f"holds {describe_value(doc.data)}"
        raise DocumentError(Problem(path, 1, 1, f"the {what} {found}: expected a mapping of keys"))
    try:
        return model.model_validate(dict(doc.data))
    except ValidationError as e:
        positions = positions_of(doc, path)
        raise validation_error(path, e, positions, model=model, data=doc.data) from None


def load_document(path: Path, model: type[M], *, what: str = "file") -> tuple[M, Doc]:
    """Read and validate a YAML (or JSON) file as `model`."""
    doc = read_document(path, what=what, json=False)
    return validate_document(model, doc, str(path), what=what), doc
