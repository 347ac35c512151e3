"""Character cards (SillyTavern / community V1, V2, V3, CHARX): read, map, write.

Cards come from strangers: every reader here is bounded (file size, chunk size, zip member
count and sizes, decompression ratio) and every failure is a one-line :class:`CardError`.
"""

from qualia_cli.authoring.cards.errors import CardError
from qualia_cli.authoring.cards.export import card_from_scenario, write_card
from qualia_cli.authoring.cards.importer import ImportedCard, scenario_from_card
from qualia_cli.authoring.cards.read import LoadedCard, read_card

__all__ = [
    "CardError",
    "ImportedCard",
    "LoadedCard",
    "card_from_scenario",
    "read_card",
    "scenario_from_card",
    "write_card",
]
