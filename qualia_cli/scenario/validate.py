"""Validate any user YAML/JSON file against a Pydantic model, with `file:line:col` problems.

The scenario loader has its own, scenario-specific messages; this is the same idea for the
other user files (playthrough scripts, cassettes, eval specs): parse with the position-aware
loader of :mod:`qualia_cli.scenario.yaml_source`, validate, and walk every error's ``loc``
back to the YAML node that caused it.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin

from pydantic import BaseModel, ValidationError

from qualia_cli.scenario.errors import Problem, ScenarioError
from qualia_cli.scenario.yaml_source import Doc, Loc, Locator, parse_yaml

__all__ = ["DocumentError", "dotted", "load_document", "problem_at", "validate_document"]

M = TypeVar("M", bound=BaseModel)


class DocumentError(ScenarioError):
    """A user file (playthrough script, cassette, eval spec) that cannot be used."""


class LocatedError(ValueError):
    """A validator error that names the key it is about (relative to the model), and
    optionally a character offset inside that scalar."""

    def __init__(self, message: str, loc: Loc = (), offset: int | None = None) -> None:
        super().__init__(message)
        self.loc = loc
        self.offset = offset


def dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _model_at(root: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
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
            field = next(
                (f for f in current.model_fields.values() if f.alias == part),
                None,
            )
        if field is None:
            return None
        current = field.annotation
    if get_args(current):
        models = [a for a in get_args(current) if isinstance(a, type)]
        current = next((a for a in models if issubclass(a, BaseModel)), None)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def unknown_key_message(key: object, allowed: list[str]) -> str:
    """``unknown key 'x' (allowed: a, b); did you mean 'a'?`` (the hint when one is close)."""
    message = f"unknown key '{key}'"
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
    line, col = locator.at(loc, offset=offset, key=key)
    where = dotted(loc)
    return Problem(path, line, col, f"{where}: {message}" if where else message)


def _clean_loc(data: Any, loc: Loc, keep_last: bool) -> Loc:
    """Drop the parts Pydantic adds for union members ('str', 'CheckSpec', ...): a part that
    is not in the data is one, unless it is the missing key an error is about."""
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


def _problem(
    err: Mapping[str, Any], root: type[BaseModel], data: Any, path: str, locator: Locator
) -> Problem:
    kind: str = err["type"]
    loc = _clean_loc(data, tuple(err["loc"]), keep_last=kind == "missing")
    ctx: Mapping[str, Any] = err.get("ctx") or {}
    message: str = err["msg"]
    if kind == "extra_forbidden":
        parent, key = loc[:-1], loc[-1]
        model = _model_at(root, parent)
        allowed = [f.alias or name for name, f in model.model_fields.items()] if model else []
        message = unknown_key_message(key, allowed)
        line, col = locator.at(loc, key=True)
        where = dotted(parent)
        return Problem(path, line, col, f"{where}: {message}" if where else message)
    if kind == "missing":
        return problem_at(path, locator, loc[:-1], f"missing required key '{loc[-1]}'")
    offset = None
    if kind == "value_error" and isinstance(ctx.get("error"), ValueError):
        error = ctx["error"]
        if isinstance(error, LocatedError):
            loc, offset = loc + error.loc, error.offset
        message = str(error)
    elif kind in ("model_type", "model_attributes_type", "dict_type"):
        message = f"expected a mapping of keys, found {describe_value(err.get('input'))}"
    elif kind == "list_type":
        message = f"expected a list, found {describe_value(err.get('input'))}"
    elif kind == "string_type":
        message = f"expected text, found {describe_value(err.get('input'))}"
    return problem_at(path, locator, loc, message, offset=offset)


def validate_document(model: type[M], doc: Doc, path: str, *, what: str = "file") -> M:
    """Validate `doc.data` as `model`; raises DocumentError listing every problem."""
    locator = Locator(doc)
    if not isinstance(doc.data, Mapping):
        found = "is empty" if doc.data is None else f"holds {describe_value(doc.data)}"
        raise DocumentError(Problem(path, 1, 1, f"the {what} {found}: expected a mapping of keys"))
    try:
        return model.model_validate(dict(doc.data))
    except ValidationError as e:
        problems = [_problem(err, model, doc.data, path, locator) for err in e.errors()]
    problems = list(dict.fromkeys(problems))
    problems.sort(key=lambda p: (p.line, p.col))
    raise DocumentError(problems)


def load_document(path: Path, model: type[M], *, what: str = "file") -> tuple[M, Doc]:
    """Read and validate a YAML (or JSON: YAML is a superset) file as `model`."""
    from qualia_cli.scenario.yaml_source import read_text

    shown = str(path)
    try:
        text = read_text(path)
    except ScenarioError as err:
        raise DocumentError(err.problems) from None
    try:
        doc = parse_yaml(text, shown)
    except ScenarioError as err:
        raise DocumentError(err.problems) from None
    return validate_document(model, doc, shown, what=what), doc
