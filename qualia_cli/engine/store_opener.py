"""The database of an Engine, opened on first use and shared by its services.

`Engine` hands the opener (a callable) to the services it composes (library, memory…), so
they reach the one store without holding the Engine; nothing touches disk before a call.
"""

from __future__ import annotations

from pathlib import Path

from qualia_cli.paths import get_paths
from qualia_cli.store import Store


class StoreOpener:
    def __init__(self, store: Store | None = None, db_path: Path | None = None) -> None:
        """`store`: one already open; `db_path`: another file than the user's database
        (headless runs keep their sessions out of it)."""
        self._store = store
        self._db_path = db_path

    def __call__(self) -> Store:
        if self._store is None:
            if self._db_path is not None:
                self._db_path.parent.mkdir(parents=True, exist_ok=True)
            self._store = Store(self._db_path or get_paths().ensure().db_path)
        return self._store

    def close(self) -> None:
        """Close the store if it was opened."""
        if self._store is not None:
            self._store.close()
