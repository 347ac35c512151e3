"""Names defined once: the agents' roles, who sends a message, and how a speaker is shown.

Plain strings (they are stored, logged, dumped to YAML and JSON as they are), named here so
that no other module spells them out as a list or a mapping.
"""

from __future__ import annotations

from typing import Final


class Role:
    """An agent's role: the key of its model, budget, trace and agent call."""

    DIRECTOR: Final = "director"
    PARTNER: Final = "partner"
    VISUAL: Final = "visual"
    STRATEGIST: Final = "strategist"
    SUMMARIZER: Final = "summarizer"
    GENERATOR: Final = "generator"  # writes scenarios (authoring)
    JUDGE: Final = "judge"  # grades turns (eval)
    PLAYER: Final = "player"  # plays the player's side (autoplay)


# the agents of one turn, in the order they are stored and reported; the extras run in phase two
EXTRAS_AGENTS: tuple[str, ...] = (Role.VISUAL, Role.STRATEGIST, Role.SUMMARIZER)
TURN_AGENTS: tuple[str, ...] = (Role.DIRECTOR, Role.PARTNER, *EXTRAS_AGENTS)
# every role a model can be configured for (config.yaml's `models:` keys besides `default`)
AGENT_ROLES: tuple[str, ...] = (*TURN_AGENTS, Role.GENERATOR, Role.JUDGE, Role.PLAYER)


class Sender:
    """Who a stored message is from."""

    PLAYER: Final = "player"
    PARTNER: Final = "partner"
    NARRATOR: Final = "narrator"
    SYSTEM: Final = "system"


def speaker_name(sender: str, partner: str, player: str = "You") -> str:
    """The name shown before a message: the player's ("You" unless the scenario names them),
    hers, none for the narrator, "System"; an unknown sender shows as itself."""
    if sender == Sender.PLAYER:
        return "You" if not player or player.lower() == "you" else player
    if sender == Sender.PARTNER:
        return partner
    if sender == Sender.NARRATOR:
        return ""
    if sender == Sender.SYSTEM:
        return "System"
    return sender
