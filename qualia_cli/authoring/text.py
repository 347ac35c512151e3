"""Small text helpers for authoring: ids from titles, card macros, trimming."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from qualia_cli.scenario.macros import fill_macros

__all__ = ["clip", "dedupe", "fill_macros", "first_paragraph", "slug", "unique"]


def slug(text: str, fallback: str = "scenario", limit: int = 32) -> str:
    """A scenario/ending id: lowercase ASCII letters, digits and '_', starting with a letter."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    while words and words[0][0].isdigit():
        words.pop(0)
    out = ""
    for word in words:  # whole words while they fit
        candidate = f"{out}_{word}" if out else word
        if len(candidate) > limit:
            break
        out = candidate
    if not out and words:
        out = words[0][:limit]
    return out or fallback


def unique(name: str, taken: Iterable[str], limit: int = 32) -> str:
    used = set(taken)
    if name not in used:
        return name
    for n in range(2, 10_000):
        suffix = f"_{n}"
        candidate = name[: limit - len(suffix)] + suffix
        if candidate not in used:
            return candidate
    raise ValueError("no free name")  # pragma: no cover


def clip(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a word boundary when possible."""
    text = " ".join(text.split()) if "\n" not in text else text.strip()
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(",;:")
    return (cut or text[:limit]).rstrip()


def first_paragraph(text: str) -> str:
    for part in re.split(r"\n\s*\n", text.strip()):
        if part.strip():
            return part.strip()
    return ""


def dedupe(items: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for item in items:
        key = item.strip().lower()
        if key and key not in seen:
            seen[key] = item.strip()
    return list(seen.values())
