"""The chat screen's entries in the command palette (ctrl+p): every action, by name."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from textual.app import SystemCommand

if TYPE_CHECKING:
    from qualia_cli.tui.screens.chat import ChatScreen


def chat_commands(screen: ChatScreen) -> Iterator[SystemCommand]:
    s = screen
    rows = [
        ("Regenerate", "Run the last turn again (a new alternative)", s.action_regenerate),
        (
            "Previous alternative",
            "Show the previous alternative of the last turn",
            s.action_previous_alternative,
        ),
        (
            "Next alternative",
            "Show the next alternative of the last turn",
            s.action_next_alternative,
        ),
        ("Rewind", "Undo the last turn (it stays in the story tree)", s.action_rewind),
        (
            "Edit last message",
            "Change what you said last and run the turn again",
            s.action_edit_last,
        ),
        ("Branch", "Continue the story from an earlier message", s.action_branch),
        ("Story tree", "Every branch and alternative; continue from any turn", s.action_story_tree),
        ("Redo", "Go forward again after a rewind", s.action_redo),
        ("Help", "Every key", s.action_help),
        ("Search", "Find words in every branch of this story", s.action_search),
        ("First message", "Jump to the start of this branch", s.action_story_start),
        ("Latest message", "Jump to the newest message", s.action_story_end),
        ("Cancel turn", "Stop the running turn; nothing is saved", s.action_cancel),
        ("Turn trace", "Why did she say that: the plan and every agent's output", s.action_trace),
        ("Switch models", "Choose the model of each agent for this session", s.action_options),
        ("Pace and rating", "Change the narrative pace and content rating", s.action_options),
        (
            "Export transcript",
            "Save the story: Markdown, HTML or JSON, branch or tree",
            s.action_export,
        ),
        ("Reroll image", "Draw the current scene again with a new seed", s.action_reroll_image),
        ("Toggle image pane", "Show or hide the scene pane", s.action_toggle_image),
        ("Sessions", "Back to the list of sessions and scenarios", s.app.action_show_start),  # type: ignore[attr-defined]
    ]
    for title, help_text, callback in rows:
        yield SystemCommand(title, help_text, callback)
