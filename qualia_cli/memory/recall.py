"""Recall: what to search the past for this turn (the player's words, then the scene)."""

from __future__ import annotations

import re

from qualia_cli.agents.context import StoryContext

MAX_TERMS = 12
SCENE_TERMS = 6

_WORD = re.compile(r"[^\W_]{3,}", re.UNICODE)

# words that match everything and so say nothing (BM25 would weigh them low anyway, but every
# extra OR term costs a posting-list scan)
STOPWORDS = frozenset(
    """
    about above after again against all also and any are aren because been before being
    below between both but can cannot could did didn does doesn doing don down during each
    else ever few for from further had hadn has hasn have haven having her here hers herself
    him himself his how into isn its itself just let like more most much must mustn myself
    nor not now off once only other ought our ours ourselves out over own same shan she
    should shouldn some such than that the their theirs them themselves then there these
    they this those through too under until very was wasn way well were weren what when
    where which while who whom why will with won would wouldn yes yet you your yours
    yourself yourselves okay tell said say says know think really maybe something thing
    things going come came get got one two
    """.split()  # noqa: SIM905 - a word list reads better as text
)


def terms(text: str, limit: int = MAX_TERMS) -> list[str]:
    """Distinct, lower-cased content words of ``text`` (three letters or more), in order."""
    out: list[str] = []
    for word in _WORD.findall(text.lower()):
        if word not in STOPWORDS and word not in out:
            out.append(word)
            if len(out) >= limit:
                break
    return out


def recall_terms(ctx: StoryContext) -> tuple[list[str], list[str]]:
    """(the player's words, the scene's words): the first are searched first; the scene (her
    location and her last line) fills the remaining places."""
    own = terms(ctx.player_text)
    last = next((m for m in reversed(ctx.history) if m.sender == "partner"), None)
    scene = " ".join([ctx.state.location, last.text if last else ""])
    return own, [t for t in terms(scene, SCENE_TERMS) if t not in own]
