"""SQLite persistence: sessions, the message tree, partner state, the agent call log."""

from qualia_cli.store.db import Store
from qualia_cli.store.errors import StoreError
from qualia_cli.store.records import (
    AgentCall,
    Message,
    NewMessage,
    PartnerState,
    SessionRecord,
    TurnRecord,
)

__all__ = [
    "AgentCall",
    "Message",
    "NewMessage",
    "PartnerState",
    "SessionRecord",
    "Store",
    "StoreError",
    "TurnRecord",
]
