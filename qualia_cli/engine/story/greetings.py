"""How a session opens: the scenario's opening, or one of an imported card's alternate greetings.

Greeting 0 is the scenario's own opening (narration, then the partner's first message);
greeting N (1..K) keeps the opening narration and has the partner say the card's Nth
alternate greeting instead, like choosing a swipe of the first message in SillyTavern.
``{{char}}`` / ``{{user}}`` in these texts become the partner's and the player's names.
"""

from __future__ import annotations

from qualia_cli.errors import QualiaError
from qualia_cli.roles import Sender
from qualia_cli.scenario.macros import fill_macros
from qualia_cli.scenario.models import Scenario
from qualia_cli.store.content import PartnerLine, text_content
from qualia_cli.store.records import NewMessage


class GreetingError(QualiaError, ValueError):
    """A greeting number the scenario does not have."""


def alternate_greetings(sc: Scenario) -> list[str]:
    return list(sc.card.alternate_greetings) if sc.card else []


def greeting_text(sc: Scenario, greeting: int = 0) -> str:
    """The partner's first line for ``greeting`` (macros filled); raises GreetingError."""
    others = alternate_greetings(sc)
    if not 0 <= greeting <= len(others):
        if not others:
            raise GreetingError(
                f"greeting {greeting}: {sc.id} has no alternate greetings (only 0, its opening)"
            )
        raise GreetingError(
            f"greeting {greeting}: {sc.id} has {len(others)} alternate greeting"
            f"{'s' if len(others) != 1 else ''} (choose 1..{len(others)}, or 0 for its opening)"
        )
    text = sc.first_message if greeting == 0 else others[greeting - 1]
    return _fill(sc, text)


def opening_messages(sc: Scenario, greeting: int = 0) -> list[NewMessage]:
    """The messages a new session starts with."""
    first = greeting_text(sc, greeting)
    opening = [NewMessage(sender=Sender.NARRATOR, content=text_content(_fill(sc, sc.opening)))]
    if first:
        line = PartnerLine(dialogue=first, mood=sc.starting_mood)
        opening.append(NewMessage(sender=Sender.PARTNER, content=line.to_json()))
    return opening


def _fill(sc: Scenario, text: str) -> str:
    return fill_macros(text, sc.partner.name, sc.player.name)
