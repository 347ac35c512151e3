"""Cassette files: recorded model calls as readable YAML (or JSON), secrets scrubbed.

One interaction per model call: who asked (provider, model, agent), the request (messages,
schema name and digest, sampling parameters) and the answer (text, how it was streamed,
usage, finish reason) or the error. `key` is the digest the replay looks calls up by.

    version: 1
    interactions:
    - key: 5d0c…
      provider: local
      model: smollm2
      agent: partner
      request:
        params: {max_tokens: 260, temperature: 0.7, frequency_penalty: 0.5, seed: 1234}
        schema_name: partner
        schema_sha: 0b9e…
        messages:
        - role: system
          content: |-
            You are Maren Voss, …
      response:
        text: '{"dialogue": "…"}'
        chunks: [1, 3, 2, …]        # sizes of the streamed pieces; null if not streamed
        finish_reason: stop
        usage: {prompt_tokens: 512, completion_tokens: 40, cost_usd: null}
        model: smollm2
        latency_ms: 812.5
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from qualia_cli.llm.errors import ErrorCode
from qualia_cli.logs import KEY_ENV_VARS, KEY_PATTERNS, redact
from qualia_cli.scenario.errors import Problem, ScenarioError
from qualia_cli.scenario.file_errors import DocumentError, LocatedError, validate_document
from qualia_cli.scenario.safe_read import check_data, parse_json, read_text
from qualia_cli.scenario.yaml_source import Doc, parse_yaml

FORMAT_VERSION = 1
MAX_CASSETTE_BYTES = 64_000_000
# keys that must never appear in a cassette (we never write them; lint looks for them)
FORBIDDEN_KEYS = ("headers", "authorization", "api_key", "api-key", "x-api-key")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RecordedMessage(_Strict):
    role: Literal["system", "user", "assistant"]
    content: str


class RecordedRequest(_Strict):
    params: dict[str, float | int | None] = Field(default_factory=dict)
    schema_name: str | None = None
    schema_sha: str | None = None
    messages: list[RecordedMessage]


class RecordedUsage(_Strict):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None


class RecordedResponse(_Strict):
    text: str
    chunks: list[int] | None = None
    finish_reason: str | None = None
    usage: RecordedUsage = Field(default_factory=RecordedUsage)
    model: str = ""
    latency_ms: float = 0.0

    @model_validator(mode="after")
    def _chunks_cover_text(self) -> RecordedResponse:
        if self.chunks is not None and (
            sum(self.chunks) != len(self.text) or any(c <= 0 for c in self.chunks)
        ):
            raise LocatedError(
                f"chunk sizes add up to {sum(self.chunks)}, the text has {len(self.text)} "
                "characters (edit the text and the chunks together, or re-record)",
                ("chunks",),
            )
        return self

    def pieces(self) -> list[str]:
        if not self.chunks:
            return [self.text] if self.text else []
        out, at = [], 0
        for size in self.chunks:
            out.append(self.text[at : at + size])
            at += size
        return out


class RecordedError(_Strict):
    code: ErrorCode
    message: str


class Interaction(_Strict):
    key: str = Field(pattern=r"^[0-9a-f]{16,64}$")
    provider: str
    model: str
    agent: str = ""
    request: RecordedRequest
    response: RecordedResponse | None = None
    error: RecordedError | None = None

    @model_validator(mode="after")
    def _one_outcome(self) -> Interaction:
        if (self.response is None) == (self.error is None):
            raise LocatedError("an interaction needs exactly one of 'response' or 'error'")
        return self


class CassetteData(_Strict):
    version: Literal[1] = FORMAT_VERSION
    recorded_with: str = ""
    interactions: list[Interaction] = Field(default_factory=list)


# --------------------------------------------------------------------------- reading


def _read(path: Path) -> str:
    try:
        return read_text(path, limit=MAX_CASSETTE_BYTES, what="cassette")
    except ScenarioError as err:
        if err.problems[0].message == "file not found":
            raise DocumentError(
                Problem(str(path), 0, 0, "cassette not found (record it with --record)")
            ) from None
        raise DocumentError(err.problems) from None


def _parse(text: str, shown: str, suffix: str) -> Doc:
    try:
        if suffix == ".json":
            return Doc(parse_json(text, shown), text=text)
        return parse_yaml(text, shown)
    except ScenarioError as err:
        raise DocumentError(err.problems) from None


_TAG = re.compile(r"(?:^|[\s\[{,:-])!")  # maybe an explicit tag: take the careful path


def _fast(text: str, suffix: str, shown: str) -> Any:
    """The data without node marks (C loader or json): ten times faster on big cassettes.

    Anything the careful loader would refuse (tags, deep nesting, alias bombs, huge numbers)
    makes this raise ValueError, and the careful path then names the line."""
    if suffix == ".json":
        data = json.loads(text)
    elif _TAG.search(text):
        raise ValueError("may hold a tag")
    else:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        data = yaml.load(text, Loader=loader)
    try:
        check_data(data, shown)
    except ScenarioError as err:
        raise ValueError(str(err)) from None
    return data


def load_cassette(path: Path) -> CassetteData:
    """Read and validate a cassette; problems are `file:line:col: message`.

    The fast path parses without positions; a file that does not parse or validate is parsed
    again with the position-aware loader, which names the line and column of each problem
    (and rejects duplicate keys)."""
    shown = str(path)
    text = _read(path)
    suffix = path.suffix.lower()
    try:
        data = _fast(text, suffix, shown)
        if isinstance(data, dict):
            return CassetteData.model_validate(data)
    except (yaml.YAMLError, ValueError, RecursionError):
        pass
    doc = _parse(text, shown, suffix)  # JSON is located on demand, if it fails to validate
    try:
        check_data(doc.data, shown)  # what the careful loader cannot see: e.g. YAML merge keys
    except ScenarioError as err:
        raise DocumentError(err.problems) from None
    return validate_document(CassetteData, doc, shown, what="cassette")


# --------------------------------------------------------------------------- writing


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _list(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.Node:
    flow = bool(value) and all(isinstance(v, int | float) for v in value)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flow)


def _dict(dumper: yaml.SafeDumper, value: dict[str, Any]) -> yaml.Node:
    flat = bool(value) and all(isinstance(v, int | float | type(None)) for v in value.values())
    return dumper.represent_mapping("tag:yaml.org,2002:map", value.items(), flow_style=flat)


_Dumper.add_representer(str, _str)
_Dumper.add_representer(list, _list)
_Dumper.add_representer(dict, _dict)


def scrub_value(value: Any) -> Any:
    """Every string inside `value` with key-shaped text and configured keys' values masked."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [scrub_value(v) for v in value]
    if isinstance(value, dict):
        return {k: scrub_value(v) for k, v in value.items()}
    return value


def dump_cassette(data: CassetteData, path: Path) -> None:
    """Write `data` (scrubbed) as YAML, or JSON if the file name ends in .json."""
    raw = scrub_value(data.model_dump(mode="json"))
    for item in raw["interactions"]:  # leave out what an interaction does not have
        for key in ("response", "error"):
            if item.get(key) is None:
                item.pop(key, None)
        if item.get("response") and item["response"].get("chunks") is None:
            item["response"].pop("chunks")
    if path.suffix.lower() == ".json":
        text = json.dumps(raw, indent=1, ensure_ascii=False) + "\n"
    else:
        text = yaml.dump(
            raw, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100, indent=2
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


# --------------------------------------------------------------------------- lint


def lint_cassette(path: Path, extra_secrets: tuple[str, ...] = ()) -> list[Problem]:
    """Possible leaks in a cassette: key-shaped strings, values of the configured key
    variables, and keys like `headers` or `authorization`. Also validates the file."""
    import os

    shown = str(path)
    text = _read(path)
    load_cassette(path)  # a file that does not validate is an error, not a lint finding
    findings: list[Problem] = []

    def at(index: int) -> tuple[int, int]:
        before = text[:index]
        return before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1

    for pattern in KEY_PATTERNS:
        for m in pattern.finditer(text):
            line, col = at(m.start())
            findings.append(Problem(shown, line, col, "key-shaped string (scrub it or re-record)"))
    for name in sorted(KEY_ENV_VARS):
        value = os.environ.get(name, "")
        if len(value) >= 6:
            for m in re.finditer(re.escape(value), text):
                line, col = at(m.start())
                findings.append(Problem(shown, line, col, f"the value of ${name}"))
    for secret in extra_secrets:
        if len(secret) >= 6:
            for m in re.finditer(re.escape(secret), text):
                line, col = at(m.start())
                findings.append(Problem(shown, line, col, "a configured secret"))
    key_re = re.compile(
        r"^\s*-?\s*[\"']?(" + "|".join(map(re.escape, FORBIDDEN_KEYS)) + r")[\"']?\s*:",
        re.IGNORECASE | re.MULTILINE,
    )
    for m in key_re.finditer(text):
        line, col = at(m.start(1))
        findings.append(Problem(shown, line, col, f"'{m.group(1)}' must not be recorded"))
    return sorted(set(findings), key=lambda p: (p.line, p.col))
