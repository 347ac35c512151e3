"""What a card's own format states about a character: PList and W++ attribute lists.

Community cards write structured traits in two common notations, inside free text:

- PList: ``[Seraphina's Personality= "caring", "protective"]`` or
  ``[Seraphina's body: pink hair, amber eyes]`` (one bracket per attribute);
- W++: ``[character("Seraphina") { Personality("caring" + "protective") Body("pink hair") }]``.

Only what these notations state is read; prose is never split into "traits" (a prose
personality stays whole). Every reader is a bounded regular expression over bounded text.
"""

from __future__ import annotations

import re

from qualia_cli.authoring.text import clip, dedupe

MAX_SCAN = 40_000
MAX_ITEMS = 40

PERSONALITY_WORDS = ("personality", "traits", "persona", "mind", "nature")
APPEARANCE_WORDS = ("body", "appearance", "features", "looks", "clothes", "outfit", "attire")

# [Name's attribute= a, b] / [Name's attribute: a, b] / [attribute: a, b]
_PLIST = re.compile(r"\[(?:[^\[\]\n=:]{1,60}?'s\s+)?([A-Za-z ]{2,30})\s*[=:]\s*([^\[\]]{1,4000})\]")
# Attribute("a" + "b") inside a W++ block
_WPP = re.compile(r"\b([A-Za-z]{2,30})\s*\(\s*(\"[^()]{0,4000}?\")\s*\)")
_QUOTED = re.compile(r'"([^"\n]{1,200})"')


def _items(text: str) -> list[str]:
    quoted = _QUOTED.findall(text)
    parts = quoted if quoted else re.split(r"[,;]", text)
    items = [clip(p.strip(" .-*'\t\r\n"), 80) for p in parts]
    return dedupe(i for i in items if i)[:MAX_ITEMS]


def stated(text: str, words: tuple[str, ...]) -> list[str]:
    """The items of every PList / W++ attribute in ``text`` named one of ``words``."""
    text = text[:MAX_SCAN]
    found: list[str] = []
    for attr, body in _PLIST.findall(text):
        if attr.strip().lower() in words:
            found += _items(body)
    for attr, body in _WPP.findall(text):
        if attr.lower() in words:
            found += _items(body)
    return dedupe(found)[:MAX_ITEMS]


def stated_traits(*texts: str) -> list[str]:
    """Personality traits the card states in PList / W++ form (empty if it only has prose)."""
    return stated("\n".join(texts), PERSONALITY_WORDS)


def stated_appearance(*texts: str) -> list[str]:
    """Appearance items (usable as image tags) the card states in PList / W++ form."""
    return stated("\n".join(texts), APPEARANCE_WORDS)


def stated_scenario(text: str) -> str:
    """``Scenario: …`` inside a PList bracket (``[Genre: fantasy; Scenario: You were …]``)."""
    m = re.search(r"\[[^\[\]]{0,400}?\bScenario\s*:\s*([^\[\]]{1,2000})\]", text[:MAX_SCAN])
    return m.group(1).strip() if m else ""
