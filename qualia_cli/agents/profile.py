"""Agent profiles: what a tiny local model can do, and the rules that do the rest.

``full`` is the design as written: every agent asks its model. ``small`` (chosen automatically
for embedded ``local/*`` models, or with ``profile: small`` in config.yaml) asks the model only
for what a 135M model does acceptably and fills in the rest by rules:

- the Partner gets the story as real chat turns, no voice example, lore and memories in a
  labelled note after the story, and a closed set of *reactions* instead of free stat deltas
  (``reaction_deltas`` maps them to changes);
- the Director is not called (the scene stays where the player and the scenario put it);
- the Visual Director is composed from the scene (``visual_from_scene``) when no ComfyUI
  server would use its tags (images off, or the sketch renderer);
- llama.cpp samples with DRY (repetition of whole phrases is penalised), and each agent role
  keeps its own server slot so its prompt prefix stays cached (``local_extras``).

Suggestions are checked in every profile (``usable_suggestions``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

from qualia_cli.agents.quality import (
    COPY_NGRAM,
    complete_sentences,
    copy_reason,
    is_echo,
    junk_reason,
    words,
)

if TYPE_CHECKING:
    from qualia_cli.agents.context import StoryContext
    from qualia_cli.agents.visual import VisualPlan
    from qualia_cli.config import Settings
    from qualia_cli.scenario.models import Scenario

ProfileName = Literal["small", "full"]

# llama.cpp server slot per agent role (n_parallel must be at least 3; see config.local)
SLOTS: dict[str, int] = {"partner": 0, "strategist": 1}
SHARED_SLOT = 2
MIN_SLOTS = 3

# DRY ("don't repeat yourself") sampling: penalise continuing any phrase seen in the prompt
DRY = {"dry_multiplier": 0.8, "dry_base": 1.75, "dry_allowed_length": 2, "dry_penalty_last_n": 4096}
DRY_STRONG = {**DRY, "dry_multiplier": 1.6, "dry_allowed_length": 1}

# the closed set of reactions the small profile's Partner picks from, and what they do:
# (change to trust-like stats, change to affection-like stats, change to any other stat)
REACTIONS: dict[str, tuple[int, int, int]] = {
    "opens up": (2, 1, 1),
    "warms": (1, 2, 0),
    "amused": (0, 1, 0),
    "intrigued": (0, 0, 1),
    "neutral": (0, 0, 0),
    "guarded": (-1, 0, 0),
    "annoyed": (-1, -1, 0),
    "hurt": (-2, -2, 0),
}
TRUST_LIKE = frozenset({"trust", "respect", "loyalty", "confidence", "honesty"})
AFFECTION_LIKE = frozenset(
    {"affection", "friendship", "love", "fondness", "comfort", "intimacy", "warmth", "romance"}
)

# "Maren Voss: …" is a line of the story; "1. You are the Strategist…" echoes the prompt
SPEAKER = re.compile(r"^\s*[\w .'-]{2,40}:\s|^\s*\d+[.)]\s|\bstrategist\b", re.IGNORECASE)
GENERIC_SUGGESTIONS = (
    "Ask what she thinks we should do next.",
    "Tell her something honest about yourself.",
    "Look around and describe what you notice.",
    "Ask how she is really feeling.",
)


def profile_for(settings: Settings, partner_model: str) -> ProfileName:
    """``settings.profile`` unless it is ``auto``: then small for embedded models."""
    if settings.profile != "auto":
        return settings.profile
    return "small" if partner_model.startswith("local/") else "full"


def is_small(ctx: StoryContext) -> bool:
    return ctx.extras.get("profile") == "small"


def local_extras(role: str, model_name: str, ctx: StoryContext, *, stronger: bool = False) -> dict:
    """llama.cpp request fields for an embedded model: its slot, prompt cache, DRY sampling."""
    if not model_name.startswith("local/"):
        return {}
    extra: dict[str, Any] = {"cache_prompt": True}
    if int(ctx.extras.get("local_slots", 0)) >= MIN_SLOTS:
        extra["id_slot"] = SLOTS.get(role, SHARED_SLOT)
    if is_small(ctx) and role == "partner":
        extra.update(DRY_STRONG if stronger else DRY)
    return extra


# moods that say plainly whether she liked what she heard (the rest say nothing either way)
WARM_MOODS = frozenset({"happy", "playful", "affectionate", "excited"})
COLD_MOODS = frozenset({"sad", "angry", "annoyed", "worried"})


def agreed_reaction(reaction: str, mood: str) -> str:
    """Her reaction, unless her mood says the opposite ("annoyed" while "affectionate"): a tiny
    model that contradicts itself moves no stat, rather than a status line that reads
    "affectionate · affection −1"."""
    trust, affection, other = REACTIONS.get(reaction, (0, 0, 0))
    sign = trust + affection + other
    if (sign < 0 and mood in WARM_MOODS) or (sign > 0 and mood in COLD_MOODS):
        return "neutral"
    return reaction


def reaction_deltas(scenario: Scenario, reaction: str, max_delta: int) -> dict[str, int]:
    """A reaction as a change of every stat (clamped to ``max_delta``)."""
    trust, affection, other = REACTIONS.get(reaction, (0, 0, 0))
    out: dict[str, int] = {}
    for stat in scenario.stats:
        name = stat.name.lower()
        value = trust if name in TRUST_LIKE else affection if name in AFFECTION_LIKE else other
        out[stat.name] = max(-max_delta, min(max_delta, value))
    return out


def visual_from_scene(
    ctx: StoryContext,
    *,
    location: str,
    time: str,
    mood: str,
    action: str,
    scene_changed: bool,
) -> VisualPlan:
    """The Visual Director's answer composed by rules (for the sketch renderer or no images)."""
    from qualia_cli.agents.visual import VisualPlan

    framing = "wide shot" if scene_changed else "upper body"
    tags = [f"{mood} expression"] if mood and mood != "neutral" else []
    gesture = " ".join(words(action)[:4])
    if gesture:
        tags.append(gesture[:30])
    if location:
        tags.append(location[:30])
    changed_mood = mood != ctx.state.mood
    return VisualPlan(
        generate=scene_changed or changed_mood,
        framing=framing,
        scene_tags=tags[:8],
        negative_tags=[],
    )


def message_text(m: Any) -> str:
    return str(m.text)


def strategist_examples() -> list[str]:
    """The example lines in the Strategist's own prompt (a suggestion must not copy them)."""
    from qualia_cli.agents.strategist import Strategist

    text = Strategist.template().system
    return re.findall(r'"text":\s*"([^"]+)"', text)


def is_bare_name(text: str) -> bool:
    """Every word capitalised and no question ("The Chocolate Factory", "Aunti & Co., The
    Second Shelf"): the name of a place or a thing, not something the player says or does
    ("Open the Red Ledger" has a word in lower case)."""
    stripped = text.strip()
    if stripped.endswith(("?", "!")):
        return False
    found = re.findall(r"[^\W\d_][\w'’-]*", stripped)
    return bool(found) and all(w[0].isupper() for w in found)


def background_texts(scenario: Scenario) -> dict[str, str]:
    """The scenario's lore, backstory and secrets: what the Partner knows, not what a player
    would say (a suggestion that recites six words of it is a copied fact, not a move)."""
    texts = {f"lore {i}": entry.content for i, entry in enumerate(scenario.lorebook.entries)}
    texts["backstory"] = scenario.partner.backstory
    texts |= {f"secret {i}": secret for i, secret in enumerate(scenario.partner.secrets)}
    return {label: text for label, text in texts.items() if text}


INTENT = re.compile(r"[A-Za-z][A-Za-z' -]{0,29}")


def intent_label(intent: str) -> str:
    """A suggestion's intent as a short label ("probe", "comfort her"), or nothing: a fragment
    of a sentence (", but also with the town on it") is not shown to the player."""
    label = " ".join(intent.split())
    return label if INTENT.fullmatch(label) and len(label.split()) <= 3 else ""


def usable_suggestions(
    suggestions: list[dict[str, str]], ctx: StoryContext, dialogue: str = ""
) -> tuple[list[dict[str, str]], int]:
    """Distinct suggestions that echo neither the player's line, her reply nor the prompt's
    examples, topped up to two from the scenario's ``suggestions`` and then generic ones.

    Returns them and how many came from the model.
    """
    prompt_texts = [*strategist_examples(), dialogue]
    story = {"opening": ctx.scenario.opening, "first message": ctx.scenario.first_message}
    story |= {f"m{m.id}": message_text(m) for m in ctx.history[-8:]}
    story["reply"] = dialogue
    scenario = ctx.scenario
    names = {  # a bare title, name or place is not a move ("The Fogbound Archive")
        " ".join(words(x))
        for x in (
            scenario.title,
            scenario.partner.name,
            scenario.setting.start_location,
            *scenario.setting.locations,
        )
        if x
    }
    known = background_texts(scenario)  # a fact recited from the lore is not a move
    out: list[dict[str, str]] = []
    seen: set[str] = set()

    def add(text: str, intent: str) -> bool:
        key = " ".join(words(text))
        if len(key.split()) < 3 or key in seen or key in names:
            return False
        if junk_reason(text) or SPEAKER.match(text) or is_bare_name(text):
            return False
        if is_echo(text, ctx.player_text, prompt_texts) or copy_reason(text, story):
            return False
        if len(key.split()) >= COPY_NGRAM and copy_reason(text, known):
            return False
        seen.add(key)
        out.append({"text": text.strip(), "intent": intent_label(intent)})
        return True

    for s in suggestions:  # one cut at its length limit keeps its whole sentences
        add(complete_sentences(str(s.get("text", ""))), str(s.get("intent", "")))
    from_model = len(out)
    if len(out) < 2:
        fallbacks = list(ctx.scenario.suggestions) + list(GENERIC_SUGGESTIONS)
        start = ctx.turn % len(fallbacks) if fallbacks else 0  # vary the ones offered
        for text in fallbacks[start:] + fallbacks[:start]:
            if len(out) >= 3:
                break
            add(text, "suggested")
    return out[:4], from_model
