"""Data shown in the TUI goes through the one terminal sanitiser (qualia_cli/textsafe.py).

Model answers, card fields, session titles and file names reach many widgets (log, panel,
tree, trace, start screen, dialogs). Textual and Rich already pass every string a widget
shows through a control-code table (`Content` / `Text` creation), but that table only drops
BEL, BS, VT, FF and CR: ESC, OSC and CSI sequences would reach the terminal and be obeyed
(window title, clear screen, clipboard writes). `install()` adds the rest of `textsafe`'s
rule to those tables, so every widget shows such characters as visible escapes (``\\x1b``).
Textual's own output (styles, cursor moves) is not text and is not affected.
"""

from __future__ import annotations

from qualia_cli.textsafe import visible_controls


def install() -> None:
    """Extend Textual's and Rich's control-code tables (idempotent; entries they already
    drop stay dropped)."""
    import rich.control
    import textual.content

    table = visible_controls()
    for target in (textual.content._CONTROL_STRIP_TRANSLATE, rich.control._CONTROL_STRIP_TRANSLATE):
        for code, shown in table.items():
            target.setdefault(code, shown)  # type: ignore[index]
