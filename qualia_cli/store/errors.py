"""The store's user-facing error."""

from __future__ import annotations

from qualia_cli.errors import QualiaError


class StoreError(QualiaError):
    """A one-line, user-facing problem with stored data (unknown session, stale head, …)."""
