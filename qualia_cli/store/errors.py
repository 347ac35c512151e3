"""The store's user-facing error."""

from __future__ import annotations


class StoreError(Exception):
    """A one-line, user-facing problem with stored data (unknown session, stale head, …)."""
