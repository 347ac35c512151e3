"""Reading a file a user or a stranger gives us: bounded in every dimension, errors located.

Every YAML and JSON document that comes from outside (scenarios, config, playthrough scripts,
eval specs, cassettes, workflows, cards, lorebooks, session exports) is read here:

- only regular files (a FIFO or ``/dev/zero`` is refused before it is opened), their size
  checked before reading and never read past the limit;
- UTF-8, with the line and column of the first bad byte;
- JSON without ``NaN``/``Infinity``, integers of at most :data:`MAX_INT_DIGITS` digits,
  nesting at most :data:`MAX_DEPTH` deep (YAML gets the same bounds, plus alias expansion
  and explicit tags: see :mod:`qualia_cli.scenario.yaml_source`).

Problems are :class:`~qualia_cli.scenario.errors.ScenarioError` carrying ``file:line:col``.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from pathlib import Path
from typing import Any

from qualia_cli.scenario.errors import Problem, ScenarioError

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_INT_DIGITS",
    "MAX_VALUES",
    "check_data",
    "decode_utf8",
    "line_col",
    "parse_json",
    "read_bytes",
    "read_text",
]

MAX_FILE_BYTES = 1_000_000
MAX_DEPTH = 64  # nested mappings/lists
MAX_INT_DIGITS = 30  # far above any count, seed or size a file needs (2**64 has 20 digits)
MAX_VALUES = 200_000  # values in one document, counting each alias use in full


def read_bytes(path: Path, *, limit: int = MAX_FILE_BYTES, what: str = "file") -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (``ScenarioError`` otherwise)."""
    shown = str(path)

    def problem(message: str) -> ScenarioError:
        return ScenarioError(Problem(shown, 0, 0, message))

    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise problem(f"is a directory, not a {what}")
        if not stat.S_ISREG(info.st_mode):
            raise problem(f"is not a regular file (a device, pipe or socket), not a {what}")
        if info.st_size > limit:
            raise problem(f"file is too large for a {what} ({info.st_size} bytes, at most {limit})")
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped since the stat above
                raise problem(f"is not a regular file, not a {what}")
            with os.fdopen(fd, "rb", closefd=False) as f:
                raw = f.read(limit + 1)
        finally:
            os.close(fd)
    except FileNotFoundError:
        raise problem("file not found") from None
    except IsADirectoryError:
        raise problem(f"is a directory, not a {what}") from None
    except PermissionError:
        raise problem("permission denied") from None
    except OSError as e:
        raise problem(f"cannot read: {e.strerror or e}") from None
    if len(raw) > limit:
        raise problem(f"file is too large for a {what} (more than {limit} bytes)")
    return raw


def decode_utf8(raw: bytes, shown: str) -> str:
    """UTF-8 text (a BOM is dropped); the line and column of the first bad byte otherwise."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        prefix = raw[: e.start]
        line = prefix.count(b"\n") + 1
        col = len(prefix[prefix.rfind(b"\n") + 1 :].decode("utf-8", errors="replace")) + 1
        bad = raw[e.start : e.start + 1].hex()
        raise ScenarioError(
            Problem(shown, line, col, f"not valid UTF-8 (byte 0x{bad}); save the file as UTF-8")
        ) from None


def read_text(path: Path, *, limit: int = MAX_FILE_BYTES, what: str = "scenario file") -> str:
    return decode_utf8(read_bytes(path, limit=limit, what=what), str(path))


# --------------------------------------------------------------------------- JSON


def line_col(text: str, index: int) -> tuple[int, int]:
    """The 1-based line and column of character `index` of `text`."""
    before = text[:index]
    return before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1


class _Refused(ValueError):
    def __init__(self, token: str, message: str) -> None:
        super().__init__(message)
        self.token = token
        self.message = message


def _int(token: str) -> int:
    if len(token.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refused(token, f"number too large (more than {MAX_INT_DIGITS} digits)")
    return int(token)


def _float(token: str) -> float:
    value = float(token)
    if not math.isfinite(value):
        raise _Refused(token, "number too large")
    return value


def _constant(token: str) -> Any:
    raise _Refused(token, f"'{token}' is not a JSON number; write a number")


def _too_deep_at(text: str) -> int:
    """Index of the first bracket nested deeper than MAX_DEPTH (outside strings), or 0."""
    depth, in_string, escaped = 0, False, False
    for i, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return i
        elif ch in "]}":
            depth -= 1
    return 0


def parse_json(text: str, shown: str) -> Any:
    """JSON data, bounded like YAML; problems are ``file:line:col: JSON …``."""
    deep = _too_deep_at(text)
    if deep:
        line, col = line_col(text, deep)
        raise ScenarioError(
            Problem(shown, line, col, f"JSON is nested too deeply (more than {MAX_DEPTH} levels)")
        )
    try:
        data = json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except json.JSONDecodeError as err:
        raise ScenarioError(
            Problem(shown, err.lineno, err.colno, f"not valid JSON: {err.msg}")
        ) from None
    except _Refused as err:
        pattern = re.escape(err.token) + r"(?![\w.])"
        found = re.search(r"(?<![\w.])" + pattern, text)
        line, col = line_col(text, found.start()) if found else (1, 1)
        raise ScenarioError(Problem(shown, line, col, f"not valid JSON: {err.message}")) from None
    except RecursionError:
        raise ScenarioError(Problem(shown, 1, 1, "JSON is nested too deeply")) from None
    check_data(data, shown)
    return data


# --------------------------------------------------------------------------- parsed data


def check_data(data: Any, shown: str) -> None:
    """Bounds for data parsed elsewhere (a fast C loader, a PNG chunk): depth, size, integers.

    Shared containers (YAML aliases) count once per use, so an alias bomb is refused."""
    count = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        count += 1
        if count > MAX_VALUES:
            raise ScenarioError(
                Problem(shown, 0, 0, f"document holds more than {MAX_VALUES} values")
            )
        if isinstance(value, dict):
            children: Any = list(value.values()) + list(value.keys())
        elif isinstance(value, list | tuple):
            children = value
        else:
            if isinstance(value, int) and not isinstance(value, bool):
                if value.bit_length() > MAX_INT_DIGITS * 4:  # ~ MAX_INT_DIGITS decimal digits
                    raise ScenarioError(Problem(shown, 0, 0, "a number is too large"))
            elif isinstance(value, float) and not math.isfinite(value):
                raise ScenarioError(Problem(shown, 0, 0, "a number is not finite (NaN or inf)"))
            continue
        if depth > MAX_DEPTH:
            raise ScenarioError(
                Problem(shown, 0, 0, f"nested too deeply (more than {MAX_DEPTH} levels)")
            )
        stack.extend((c, depth + 1) for c in children)
