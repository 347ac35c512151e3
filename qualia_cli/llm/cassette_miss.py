"""Why a replayed call is not in the cassette: the nearest recorded call and what differs."""

from __future__ import annotations

import difflib
from pathlib import Path

from qualia_cli.llm.cassette_file import CassetteData, Interaction, RecordedRequest

_SHOW = 160  # most characters of a changed span shown
_CONTEXT = 40  # unchanged characters shown either side of it


def _text(request: RecordedRequest) -> str:
    return "\n".join(m.content for m in request.messages)


def nearest(
    provider: str, model: str, agent: str, request: RecordedRequest, data: CassetteData
) -> tuple[int, Interaction] | None:
    """(index, interaction) of the recorded call most like this one, if any."""
    if not data.interactions:
        return None
    pool = [(i, it) for i, it in enumerate(data.interactions) if it.agent == agent]
    pool = pool or list(enumerate(data.interactions))
    wanted = _text(request)

    def score(entry: tuple[int, Interaction]) -> tuple[int, float]:
        it = entry[1]
        same = (it.provider == provider) + (it.model == model)
        matcher = difflib.SequenceMatcher(None, _text(it.request), wanted, autojunk=False)
        return same, matcher.quick_ratio() if len(wanted) > 20_000 else matcher.ratio()

    return max(pool, key=score)


def _first_difference(old: str, new: str) -> str:
    a, b = old.split("\n"), new.split("\n")
    for k in range(max(len(a), len(b))):
        x = a[k] if k < len(a) else "(nothing)"
        y = b[k] if k < len(b) else "(nothing)"
        if x != y:
            x, y, col = _changed_span(x, y)
            return f"line {k + 1}, column {col}:\n    - {x}\n    + {y}"
    return "whitespace only"


def _changed_span(old: str, new: str, context: int = _CONTEXT) -> tuple[str, str, int]:
    """The part of two differing lines around what changed (``context`` characters of what
    is the same on either side), marked with … where cut; and the 1-based column."""
    start = 0
    limit = min(len(old), len(new))
    while start < limit and old[start] == new[start]:
        start += 1
    end = 0  # length of the common suffix, not overlapping the prefix
    while end < limit - start and old[-1 - end] == new[-1 - end]:
        end += 1
    left = max(0, start - context)

    def cut(line: str) -> str:
        right = min(len(line), len(line) - end + context)
        middle = line[left:right]
        if right - left > _SHOW:  # a long change: its start and end, with context
            half = _SHOW // 2
            middle = middle[:half] + " … " + middle[-half:]
        return ("…" if left > 0 else "") + middle + ("…" if right < len(line) else "")

    return cut(old), cut(new), start + 1


def differences(
    recorded: Interaction, provider: str, model: str, now: RecordedRequest
) -> list[str]:
    """What differs between a recorded call and this one, most telling first."""
    out: list[str] = []
    if (recorded.provider, recorded.model) != (provider, model):
        out.append(f"model: recorded {recorded.provider}/{recorded.model}, now {provider}/{model}")
    old = recorded.request
    for name in sorted(set(old.params) | set(now.params)):
        if old.params.get(name) != now.params.get(name):
            out.append(f"{name}: recorded {old.params.get(name)}, now {now.params.get(name)}")
    if old.schema_sha != now.schema_sha:
        out.append("output schema changed (the agent's schema or the scenario's stats/places)")
    if len(old.messages) != len(now.messages):
        out.append(f"{len(old.messages)} messages recorded, {len(now.messages)} now")
    for k, (a, b) in enumerate(zip(old.messages, now.messages, strict=False)):
        if a.content == b.content and a.role == b.role:
            continue
        what = {
            "system": "system prompt changed (a prompt template, the scenario or a setting)",
            "user": "user message changed (the story so far or the player's text)",
            "assistant": "a corrective retry differs",
        }.get(b.role, "a message differs")
        out.append(f"message {k + 1} ({b.role}): {what}, {_first_difference(a.content, b.content)}")
    return out or ["nothing visible (the cassette was edited by hand?)"]


def explain_miss(
    path: Path, provider: str, model: str, request: RecordedRequest, agent: str, data: CassetteData
) -> str:
    head = f"cassette miss: {path} has no recorded {agent or 'model'} call like this one"
    hint = "re-record with --record (all) or --record-missing (only what is missing)"
    found = nearest(provider, model, agent, request, data)
    if found is None:
        return f"{head}; the cassette is empty: {hint}"
    index, item = found
    diffs = differences(item, provider, model, request)
    stale = any("changed" in d for d in diffs)
    reason = "prompt or scenario changed" if stale else "the call differs"
    lines = [
        f"{head} ({reason}: {hint})",
        f"  nearest recorded call: #{index + 1} (agent {item.agent}, "
        f"{item.provider}/{item.model}); what differs:",
        *(f"  - {d}" for d in diffs[:6]),
    ]
    return "\n".join(lines)
