"""The user-facing error of authoring: one line naming the file it is about."""

from __future__ import annotations

from qualia_cli.errors import QualiaError


class AuthoringError(QualiaError):
    """A scenario or card file that cannot be read or written; ``str()`` is one line."""

    def __init__(self, source: str, message: str) -> None:
        self.source = source
        self.message = message
        super().__init__(f"{source}: {message}" if source else message)
