"""Parse model text into a validated value: extract → strip backticks → repair → validate.

Also `partial_field`, which reads a top-level string field out of an unfinished JSON prefix
so a front end can show the partner's line while it is being generated.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import json_repair
from pydantic import TypeAdapter, ValidationError

T = TypeVar("T")

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\r?\n?(.*?)(?:```|$)", re.DOTALL)


class ParseError(ValueError):
    """Model text that could not be turned into the expected value; `str()` is short."""


@dataclass
class Parsed(Generic[T]):
    value: T
    repaired: bool  # json_repair had to change the text


def extract_json_text(text: str) -> str:
    """The JSON part of a model answer: a ```json fence, else the first {...} / [...] block."""
    for match in _FENCE.finditer(text):
        lang, body = match.group(1).lower(), match.group(2).strip()
        if lang in ("json", "json5", "jsonc") or body[:1] in ("{", "["):
            return _strip_backticks(body)
    stripped = _strip_backticks(text.strip())
    start = _first_opening(stripped)
    if start is None:
        return stripped
    end = _matching_close(stripped, start)
    return stripped[start : end + 1] if end is not None else stripped[start:]


def _strip_backticks(text: str) -> str:
    text = text.strip().strip("`").strip()
    if text[:4].lower() == "json" and text[4:5] in ("\n", "\r", " ", "{", "["):
        text = text[4:].strip()
    return text


def _first_opening(text: str) -> int | None:
    """Where the JSON starts: the first `{`, or an earlier `[` that opens a real JSON array."""
    brace = text.find("{")
    for match in re.finditer(r"\[\s*([\[{\"\]])?", text):
        if brace >= 0 and match.start() > brace:
            break
        if match.group(1):
            return match.start()
    return brace if brace >= 0 else None


def _matching_close(text: str, start: int) -> int | None:
    """Index of the bracket closing the one at `start` (string-aware), None if truncated."""
    depth = 0
    in_string = False
    escaped = False
    for i in range(start, len(text)):
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return i
    return None


def load_json(text: str) -> tuple[Any, bool]:
    """Decode JSON, repairing it with json_repair if needed; returns (value, repaired)."""
    candidate = extract_json_text(text)
    if not candidate:
        raise ParseError("the answer is empty")
    try:
        return json.loads(candidate), False
    except ValueError:
        pass
    try:
        value = json_repair.loads(candidate)
    except Exception as exc:  # json_repair is defensive, but never trust a repair tool
        raise ParseError(f"not JSON and not repairable: {exc}") from None
    if value in ("", None) or not isinstance(value, dict | list):
        raise ParseError("the answer contains no JSON object")
    return value, True


def parse_as(text: str, output_type: type[T] | Any) -> Parsed[T]:
    """Parse model text and validate it as `output_type` (a Pydantic model or any type)."""
    value, repaired = load_json(text)
    _require_some_field(value, output_type)
    try:
        result = TypeAdapter(output_type).validate_python(value)
    except ValidationError as exc:
        raise ParseError(short_validation_error(exc)) from None
    return Parsed(result, repaired)


def _require_some_field(value: Any, output_type: Any) -> None:
    """An object with none of the model's fields is not an answer, even if every field has
    a default (``{"foo": 1}`` for the Visual Director would pass as an all-default scene)."""
    fields = getattr(output_type, "model_fields", None)
    if not fields or not isinstance(value, dict):
        return
    names = set(fields) | {f.alias for f in fields.values() if f.alias}
    if not names & set(value):
        expected = ", ".join(sorted(fields)[:6])
        raise ParseError(f"the answer has none of the expected fields ({expected})")


def short_validation_error(exc: ValidationError, limit: int = 3) -> str:
    """`mood: Input should be 'calm' or 'angry'; line: Field required` (at most `limit`)."""
    parts = []
    errors = exc.errors(include_url=False)
    for err in errors[:limit]:
        loc = ".".join(str(p) for p in err.get("loc", ())) or "value"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    more = f" (+{len(errors) - limit} more)" if len(errors) > limit else ""
    return "; ".join(parts) + more


# -- streaming: one field out of a JSON prefix ----------------------------------------------

_HEX = frozenset("0123456789abcdefABCDEF")
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def partial_field(raw_json_prefix: str, field: str) -> str | None:
    """The (possibly unfinished) string value of top-level `field`, or None if not there yet.

    Works on any prefix of a JSON object, with or without leading prose or a code fence.
    An escape sequence cut in the middle is left out until it is complete.
    """
    text = raw_json_prefix
    i = text.find("{")
    if i < 0:
        return None
    i += 1
    n = len(text)
    while True:
        i = _skip_ws(text, i, ",")
        if i >= n or text[i] != '"':
            return None  # end of prefix, closing brace, or not JSON
        key, i, done = _read_string(text, i)
        if not done:
            return None
        i = _skip_ws(text, i)
        if i >= n or text[i] != ":":
            return None
        i = _skip_ws(text, i + 1)
        if i >= n:
            return None
        if key == field:
            if text[i] != '"':
                return None
            return _read_string(text, i)[0]
        end = _skip_value(text, i)
        if end is None:
            return None
        i = end


def _skip_ws(text: str, i: int, extra: str = "") -> int:
    while i < len(text) and (text[i].isspace() or text[i] in extra):
        i += 1
    return i


def _read_string(text: str, i: int) -> tuple[str, int, bool]:
    """Decode the string whose opening quote is at `i`: (value so far, next index, closed)."""
    out: list[str] = []
    i += 1
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            return "".join(out), i + 1, True
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        if i + 1 >= n:
            break  # a lone backslash at the end: wait for the rest
        esc = text[i + 1]
        if esc != "u":
            out.append(_ESCAPES.get(esc, esc))
            i += 2
            continue
        code = _hex4(text, i + 2)
        if code is None:
            digits = text[i + 2 : i + 6]
            if len(digits) < 4 and all(c in _HEX for c in digits):
                break  # \u with fewer than 4 hex digits so far
            out.append("\ufffd")  # an invalid escape: show a placeholder, move on
            i += 2
            continue
        i += 6
        if 0xD800 <= code < 0xDC00:  # high surrogate: needs its low half
            rest = text[i : i + 6]
            low = _hex4(text, i + 2) if rest.startswith("\\u") else None
            if low is None and (rest in ("", "\\") or (rest.startswith("\\u") and len(rest) < 6)):
                break  # the low half may still come
            if low is not None and 0xDC00 <= low < 0xE000:
                out.append(chr(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)))
                i += 6
                continue
            out.append("\ufffd")
            continue
        out.append(chr(code) if not 0xDC00 <= code < 0xE000 else "\ufffd")
    return "".join(out), n, False


def _hex4(text: str, i: int) -> int | None:
    digits = text[i : i + 4]
    if len(digits) < 4 or any(c not in _HEX for c in digits):
        return None
    return int(digits, 16)


def _skip_value(text: str, i: int) -> int | None:
    """Index after the JSON value starting at `i`, or None if the prefix ends inside it."""
    ch = text[i]
    if ch == '"':
        _, end, done = _read_string(text, i)
        return end if done else None
    if ch in "{[":
        end = _matching_close(text, i)
        return end + 1 if end is not None else None
    j = i
    while j < len(text) and text[j] not in ",}]" and not text[j].isspace():
        j += 1
    return j if j < len(text) else None
