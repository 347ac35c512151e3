"""Is a partner reply usable? Copy and junk detection for the quality gate and the metrics.

Pure text functions (no model, no I/O): the engine's quality gate
(engine/turn/profile_steps.py, `review_partner`) regenerates a reply these flag, and
`qualia eval` / benchmarks/story_quality.py count them.

- a *copy* repeats a long run of words from a text the player has already read (the opening,
  the partner's first message, one of her recent replies): COPY_NGRAM words in a row, or most of
  a short reply;
- *junk* is not speech: empty, almost no letters, JSON field names or prompt headers
  ("dialogue", "stat_deltas", "Lore:"), brackets, bare numbers such as "3/100".
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable

COPY_NGRAM = 6  # this many words in a row from an earlier text make a copy
_WORD = re.compile(r"[a-z0-9']+")
_FIELD_WORDS = re.compile(
    r"\b(stat_deltas|dialogue|partner_guidance|scene_tags|world_updates|intent)\b\s*[:=\"]"
    r"|(^|\n)\s*(Lore|Long-term memory|Story so far|Director's note|Player|Narrator|Recalled)"
    r"\s*:",
    re.IGNORECASE,
)
_BRACKETS = re.compile(r"[\[\]{}<>]")
_FRACTION = re.compile(r"\b\d+\s*/\s*\d+\b")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _ngrams(tokens: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def junk_reason(text: str) -> str | None:
    """Why ``text`` is not speech, or None when it reads like speech."""
    stripped = text.strip()
    if not stripped:
        return "empty"
    letters = sum(ch.isalpha() for ch in stripped)
    if letters < 4 or len(words(stripped)) < 2:
        return "almost no words"
    if letters / max(1, len(stripped.replace(" ", ""))) < 0.6:
        return "almost no letters"
    if _FIELD_WORDS.search(stripped):
        return "field names or prompt headers"
    if _BRACKETS.search(stripped):
        return "brackets"
    if _FRACTION.search(stripped):
        return "bare numbers"
    return None


def copy_reason(text: str, earlier: dict[str, str], n: int = COPY_NGRAM) -> str | None:
    """Which earlier text ``text`` copies (``{label: text}``), or None."""
    mine = words(text)
    if not mine:
        return None
    size = min(n, len(mine)) if len(mine) >= 3 else n  # a short reply copied whole also counts
    grams = _ngrams(mine, size)
    if not grams:
        return None
    for label, other in earlier.items():
        theirs = words(other)
        if len(theirs) < size:
            continue
        if grams & _ngrams(theirs, size):
            return label
    return None


def distinct_2(texts: Iterable[str]) -> float:
    """Distinct bigrams over all bigrams of ``texts`` (1.0: no repetition)."""
    grams: list[tuple[str, str]] = []
    for t in texts:
        w = words(t)
        grams += list(itertools.pairwise(w))
    return len(set(grams)) / len(grams) if grams else 1.0


def reply_score(text: str, earlier: dict[str, str], player_text: str = "") -> float:
    """Higher is better: 0 for junk, 1 for a copy, 2 + a little for a reply that engages."""
    if junk_reason(text):
        return 0.0
    if copy_reason(text, earlier):
        return 1.0
    mine = set(words(text))
    theirs = {w for w in words(player_text) if len(w) > 3}
    return 2.0 + min(1.0, len(mine & theirs) / 3) + min(1.0, len(mine) / 20) / 2


def is_echo(suggestion: str, player_text: str, prompt_texts: Iterable[str] = ()) -> bool:
    """A suggestion that repeats the player's line or a text of the Strategist's own prompt."""
    mine = " ".join(words(suggestion))
    if not mine:
        return True
    for other in (player_text, *prompt_texts):
        theirs = " ".join(words(other))
        if theirs and (mine == theirs or (len(mine) > 12 and mine in theirs)):
            return True
    return False


_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*(?=\s|$)")


def complete_sentences(text: str) -> str:
    """``text`` without a trailing fragment cut off mid-sentence (a small model stopped by
    ``max_tokens``): kept whole when it ends a sentence or has no complete sentence at all."""
    stripped = text.rstrip()
    ends = list(_SENTENCE_END.finditer(stripped))
    if not ends or ends[-1].end() == len(stripped):
        return stripped
    return stripped[: ends[-1].end()]
