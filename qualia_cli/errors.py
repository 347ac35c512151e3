"""The one root of every error a user should see as one line (exit code 2).

This module imports nothing, so any layer can derive from it without pulling another in.
Every package's own error (ConfigError, ScenarioError, LLMError, StoreError, …) subclasses
`QualiaError`; the CLI and the TUI catch `QualiaError` alone, so a new error only has to
derive from it to be shown as one clear line instead of "unexpected".
"""


class QualiaError(Exception):
    """A problem the user can fix: shown as one line, never a traceback (unless --debug)."""

    exit_code = 2


class InputError(QualiaError, ValueError):
    """Bad input to an engine call (an empty player line, a bad name); still a ValueError."""


__all__ = ["InputError", "QualiaError"]
