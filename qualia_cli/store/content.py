"""A message's content, typed: what the turn writes as JSON and every reader reads back.

A partner message's content is a `PartnerLine`; the others (player, narrator, system) hold
`{"text": ...}`. Reading is tolerant, as databases written by older versions must still open:
a missing key reads as its default, a value of the wrong type as empty, and keys this version
does not know are kept (`other`) and written back unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

EXTRAS_PENDING = "pending"  # her reply is saved; the extras' transaction has not attached yet
EXTRAS_DONE = "done"

# the keys a turn writes with her reply, in their stored order (the greeting writes the first 3)
_TURN_KEYS = ("deltas", "suggestions", "plan", "image", "context", "extras")
_KNOWN = frozenset({"dialogue", "action", "mood", *_TURN_KEYS, "stopped", "dropped"})


def _str(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class PartnerLine:
    """Her message: what she said and did, and what the turn attached to it."""

    dialogue: str = ""
    action: str = ""
    mood: str = ""
    deltas: dict[str, int] = field(default_factory=dict)  # stat changes applied this turn
    suggestions: list[dict[str, str]] = field(default_factory=list)  # the player's next moves
    plan: dict[str, Any] | None = None  # the Director's plan (None: the greeting)
    image: dict[str, Any] | None = None  # the Visual Director's prompt (engine/turn/extras.py)
    context: dict[str, Any] = field(default_factory=dict)  # agent -> its prompt's trace
    extras: str | None = None  # EXTRAS_PENDING, EXTRAS_DONE; None: not a turn's reply
    stopped: bool = False  # the player cut her reply: what had streamed was kept
    dropped: list[str] = field(default_factory=list)  # extras cancelled by the next turn
    other: dict[str, Any] = field(default_factory=dict)  # keys this version does not know

    @property
    def is_turn(self) -> bool:
        """Written by a turn (not the scenario's greeting)."""
        return self.extras is not None or self.plan is not None

    def to_json(self) -> dict[str, Any]:
        """The stored JSON: the greeting's three keys, a turn's full set, then unknown keys."""
        out: dict[str, Any] = {"dialogue": self.dialogue, "action": self.action, "mood": self.mood}
        if self.is_turn:
            out.update(
                deltas=dict(self.deltas),
                suggestions=[dict(s) for s in self.suggestions],
                plan=self.plan,
                image=self.image,
                context=dict(self.context),
            )
            if self.extras is not None:
                out["extras"] = self.extras
        else:  # an old or hand-made message: only what it has
            for key in ("deltas", "suggestions", "image", "context"):
                value = getattr(self, key)
                if value:
                    out[key] = value
        if self.stopped:
            out["stopped"] = True
        if self.dropped:
            out["dropped"] = list(self.dropped)
        return {**out, **self.other}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> PartnerLine:
        c = data if isinstance(data, Mapping) else {}
        deltas = {
            str(k): v for k, v in _dict(c.get("deltas")).items() if isinstance(v, int | float)
        }
        suggestions = [dict(s) for s in c.get("suggestions") or [] if isinstance(s, Mapping)]
        image = c.get("image")
        plan = c.get("plan")
        extras = c.get("extras")
        dropped = c.get("dropped")
        return cls(
            dialogue=_str(c.get("dialogue")),
            action=_str(c.get("action")),
            mood=_str(c.get("mood")),
            deltas={k: int(v) for k, v in deltas.items()},
            suggestions=suggestions,
            plan=dict(plan) if isinstance(plan, Mapping) else None,
            image=dict(image) if isinstance(image, Mapping) else None,
            context=_dict(c.get("context")),
            extras=extras if isinstance(extras, str) else None,
            stopped=c.get("stopped") is True,
            dropped=[str(a) for a in dropped] if isinstance(dropped, list) else [],
            other={k: v for k, v in c.items() if k not in _KNOWN},
        )


@dataclass(frozen=True)
class ExtrasUpdate:
    """What the extras' transaction merges into her message (store/extras.py): their results,
    and `extras` marked done. Keys left out keep what the reply's transaction wrote."""

    context: dict[str, Any]  # agent -> trace (merged with the message's own per agent)
    image: dict[str, Any] | None = None
    visual_answered: bool = False  # write `image` (None: the Visual Director failed)
    suggestions: list[dict[str, str]] = field(default_factory=list)  # none: keep []
    dropped: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"extras": EXTRAS_DONE}
        if self.visual_answered:
            out["image"] = self.image
        if self.suggestions:
            out["suggestions"] = [dict(s) for s in self.suggestions]
        out["context"] = dict(self.context)
        if self.dropped:
            out["dropped"] = list(self.dropped)
        return out


def message_text(content: Mapping[str, Any] | None) -> str:
    """Her dialogue, else the text: what any message says (the store's `Message.text`)."""
    c = content if isinstance(content, Mapping) else {}
    return _str(c.get("dialogue") or c.get("text"))


def line_text(sender: str, content: Mapping[str, Any] | None) -> str:
    """What a message says: her dialogue, or the text of any other message."""
    c = content if isinstance(content, Mapping) else {}
    key = "dialogue" if sender == "partner" else "text"
    return _str(c.get(key))


def text_content(text: str) -> dict[str, Any]:
    """The stored JSON of a player's, narrator's or system message."""
    return {"text": text}
