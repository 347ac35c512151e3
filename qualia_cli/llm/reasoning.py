"""Keep a reasoning model's thinking out of the dialogue and out of the JSON parser.

Reasoning arrives three ways:
- a separate field on the message / stream delta: `reasoning` (OpenRouter, vLLM ≥ 0.11) or
  `reasoning_content` (vLLM, llama.cpp server with `--reasoning-format`, DeepSeek);
- `<think>…</think>` (or `<thinking>…</thinking>`) inline in the content, when the server
  does not split it out;
- the tail of an unopened block: some templates put `<think>` in the prompt, so the answer
  starts with thinking and only `</think>` shows.
"""

from __future__ import annotations

import re
from typing import Any

_TAGS = ("think", "thinking")
_BLOCK = re.compile(r"<(think|thinking)>(.*?)(?:</\1>|$)", re.DOTALL | re.IGNORECASE)
_CLOSE_ONLY = re.compile(r"^(.*?)</(think|thinking)>", re.DOTALL | re.IGNORECASE)
REASONING_FIELDS = ("reasoning", "reasoning_content")


def split_reasoning(text: str) -> tuple[str, str]:
    """(answer, reasoning) of a complete content string."""
    if not text:
        return "", ""
    thoughts: list[str] = []
    lowered = text.lower()
    if not any(f"<{t}>" in lowered for t in _TAGS):
        m = _CLOSE_ONLY.match(text)
        if m:
            thoughts.append(m.group(1).strip())
            text = text[m.end() :]
    else:

        def keep(match: re.Match[str]) -> str:
            thoughts.append(match.group(2).strip())
            return ""

        text = _BLOCK.sub(keep, text)
    return text.strip() if thoughts else text, "\n\n".join(t for t in thoughts if t)


def reasoning_of(obj: Any) -> str:
    """The reasoning text carried by a message or delta object from the `openai` SDK."""
    if obj is None:
        return ""
    extra = getattr(obj, "model_extra", None) or {}
    for field in REASONING_FIELDS:
        value = extra.get(field, getattr(obj, field, None))
        if isinstance(value, str) and value:
            return value
    details = extra.get("reasoning_details")
    if isinstance(details, list):  # OpenRouter's structured form: [{"type":..., "text":...}]
        texts = [
            str(d.get("text") or d.get("summary") or "") for d in details if isinstance(d, dict)
        ]
        return "".join(t for t in texts if t)
    return ""


class ThinkFilter:
    """Streams content with `<think>` blocks removed, tolerating tags split across chunks.

    `feed(piece)` returns the visible text that is certain so far; `finish()` the rest.
    Everything filtered out is collected in `reasoning`.
    """

    def __init__(self) -> None:
        self._buf = ""
        self._inside = False
        self._tag = ""
        self.reasoning = ""

    def feed(self, piece: str) -> str:
        self._buf += piece
        out: list[str] = []
        while self._buf:
            if self._inside:
                close = f"</{self._tag}>"
                idx = self._buf.lower().find(close)
                if idx < 0:
                    keep = _partial_suffix(self._buf, close)
                    self.reasoning += self._buf[: len(self._buf) - keep]
                    self._buf = self._buf[len(self._buf) - keep :]
                    break
                self.reasoning += self._buf[:idx]
                self._buf = self._buf[idx + len(close) :].lstrip()
                self._inside = False
                continue
            lowered = self._buf.lower()
            hits = [(lowered.find(f"<{t}>"), t) for t in _TAGS]
            hits = [(i, t) for i, t in hits if i >= 0]
            if hits:
                idx, tag = min(hits)
                out.append(self._buf[:idx])
                self._buf = self._buf[idx + len(tag) + 2 :]
                self._inside, self._tag = True, tag
                continue
            keep = max(_partial_suffix(self._buf, f"<{t}>") for t in _TAGS)
            out.append(self._buf[: len(self._buf) - keep])
            self._buf = self._buf[len(self._buf) - keep :]
            break
        return "".join(out)

    def finish(self) -> str:
        rest, self._buf = self._buf, ""
        if self._inside:
            self.reasoning += rest
            return ""
        return rest


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of `tag`."""
    lowered = text.lower()
    for n in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(lowered[-n:]):
            return n
    return 0
