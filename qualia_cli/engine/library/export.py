"""A session's story as Markdown (the branch from the opening to the head)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qualia_cli.store.records import Message


def slug(text: str) -> str:
    """A file-name-safe version of a title."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "session"


def transcript_markdown(
    *,
    title: str,
    scenario_title: str,
    session_id: str,
    partner_name: str,
    player_name: str,
    messages: Iterable[Message],
) -> str:
    lines = [f"# {title}", "", f"*{scenario_title}* — session `{session_id}`", ""]
    for m in messages:
        c = m.content
        if m.sender == "narrator":
            lines += [f"*{_oneline(c.get('text'))}*", ""]
        elif m.sender == "player":
            who = "You" if player_name.lower() == "you" else player_name
            lines += [f"**{who}:** {_oneline(c.get('text'))}", ""]
        elif m.sender == "partner":
            action = _oneline(c.get("action"))
            said = _oneline(c.get("dialogue"))
            lines += [f"**{partner_name}:** " + (f"*({action})* " if action else "") + said, ""]
        else:
            lines += [f"> {_oneline(c.get('text'))}", ""]
        if m.ending:
            lines += [f"**— Ending reached: {m.ending} —**", ""]
    return "\n".join(lines).rstrip() + "\n"


def _oneline(value: object) -> str:
    return " ".join(str(value or "").split())
