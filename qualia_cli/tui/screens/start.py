"""The start screen: recent sessions to resume, scenarios to start a new story from."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.cells import cell_len, set_cell_size
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Header, OptionList, Static
from textual.widgets.option_list import Option

from qualia_cli.tui import messages as msg
from qualia_cli.tui.service import StartService
from qualia_cli.tui.view import when

if TYPE_CHECKING:
    from qualia_cli.engine import Engine

# (heading, width) of the session list's columns; the title takes what is left
COLUMNS = (("Scenario", 18), ("Turns", 6), ("Last played", 16))
NARROW_COLUMNS = COLUMNS[1:]  # below 80 columns the scenario (already in the title) goes


def fit(text: str, width: int) -> str:
    """``text`` cut or padded to exactly ``width`` cells."""
    if cell_len(text) > width:
        return set_cell_size(text, width - 1) + "…"
    return set_cell_size(text, width)


def session_row(
    s: dict[str, Any], title_width: int, columns: tuple[tuple[str, int], ...] = COLUMNS
) -> Content:
    parts: list[str | tuple[str, str]] = [(fit(s["title"], title_width), "bold")]
    for heading, width in columns:
        if heading == "Scenario":
            parts += [" ", (fit(s["scenario"], width), "dim")]
        elif heading == "Turns":
            parts += [" ", fit(str(s["turns"]).rjust(width - 1), width)]
        else:
            parts += [" ", (when(s["updated_at"]), "dim")]
    return Content.assemble(*parts)


def distinct_titles(sessions: list[dict[str, Any]]) -> None:
    """Sessions sharing a title get their id after it, so they can be told apart."""
    seen: dict[str, int] = {}
    for s in sessions:
        seen[s["title"]] = seen.get(s["title"], 0) + 1
    for s in sessions:
        if seen[s["title"]] > 1:
            s["title"] = f"{s['title']} · {s['id']}"


def scenario_option(s: dict[str, Any]) -> Option:
    if "error" in s:
        label = Content.assemble(("⚠ ", "bold $error"), (s["error"], "dim"))
        return Option(label, id=s["path"], disabled=True)
    label = Content.assemble(
        (s["title"], "bold"),
        (f"  {s['genre']} · with {s['partner']}", "dim"),
        "\n",
        (s["summary"], "italic"),
    )
    return Option(label, id=s["path"])


class StartScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1,question_mark", "help", "Help", key_display="F1"),
        Binding("ctrl+q", "app.quit", "Quit", key_display="^q", priority=True),
        Binding("enter", "open", "Open"),
        Binding("n", "new", "New story"),
        Binding("d", "archive", "Archive"),
        Binding("u", "unarchive", "Undo archive", show=False),
    ]

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.service = StartService(self, engine)
        self.sessions: list[dict[str, Any]] = []
        self.archived: list[str] = []  # archived here, newest last: u brings them back

    def compose(self) -> ComposeResult:
        yield Header(icon="❖")
        with Vertical(id="start"):
            yield Static("Continue a story", classes="section-title")
            yield Static(id="sessions-heading")
            yield OptionList(id="sessions")
            yield Static("No saved stories yet: start one below.", id="no-sessions")
            yield Static("Start a new story", classes="section-title")
            yield OptionList(id="scenarios")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "qualia"
        self.sub_title = "interactive fiction"
        self.service.load()

    def _columns(self) -> tuple[tuple[str, int], ...]:
        return COLUMNS if self.size.width >= 80 else NARROW_COLUMNS

    def _title_width(self) -> int:
        rest = sum(width + 1 for _, width in self._columns())
        return max(12, self.size.width - 10 - rest)

    def on_start_data(self, message: msg.StartData) -> None:
        self.sessions = message.sessions
        distinct_titles(self.sessions)
        width, columns = self._title_width(), self._columns()
        heading = " ".join([fit("Title", width), *(fit(h, w) for h, w in columns)])
        self.query_one("#sessions-heading", Static).update(Content(" " + heading))
        table = self.query_one("#sessions", OptionList)
        table.clear_options()
        table.add_options(
            [Option(session_row(s, width, columns), id=s["id"]) for s in self.sessions]
        )
        has = bool(self.sessions)
        for widget in ("#sessions", "#sessions-heading"):
            self.query_one(widget).display = has
        self.query_one("#no-sessions").display = not has
        scenarios = self.query_one("#scenarios", OptionList)
        highlighted = scenarios.highlighted
        scenarios.clear_options()
        scenarios.add_options([scenario_option(s) for s in message.scenarios])
        if scenarios.option_count:
            scenarios.highlighted = min(highlighted or 0, scenarios.option_count - 1)
        if has:
            table.highlighted = 0
        (table if has else scenarios).focus()

    def _highlighted(self, list_id: str) -> Option | None:
        options = self.query_one(list_id, OptionList)
        if options.highlighted is None or not options.option_count:
            return None
        option = options.get_option_at_index(options.highlighted)
        return None if option.disabled else option

    def action_open(self) -> None:
        if self.focused is self.query_one("#scenarios"):
            self.action_new()
        elif (option := self._highlighted("#sessions")) is not None and option.id:
            self.app.open_session(option.id)  # type: ignore[attr-defined]

    def action_new(self) -> None:
        scenarios = self.query_one("#scenarios", OptionList)
        if self.focused is not scenarios:
            scenarios.focus()
            return
        option = self._highlighted("#scenarios")
        if option is not None and option.id:
            self.notify("Starting a new story…")
            self.service.new_session(option.id)

    def action_archive(self) -> None:
        if self.focused is not self.query_one("#sessions"):
            return
        option = self._highlighted("#sessions")
        if option is not None and option.id:
            self.service.archive(option.id)
            self.archived.append(option.id)
            self.notify(f"Archived {option.id}: u brings it back.")

    def action_unarchive(self) -> None:
        if not self.archived:
            self.notify("Nothing archived here to bring back.")
            return
        session_id = self.archived.pop()
        self.service.archive(session_id, archived=False)
        self.notify(f"{session_id} is back in the list.")

    def action_help(self) -> None:
        from qualia_cli.tui.screens.help import HelpScreen

        if not isinstance(self.app.screen, HelpScreen):
            self.app.push_screen(HelpScreen())

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if not event.option.id or event.option.disabled:
            return
        if event.option_list.id == "sessions":
            self.app.open_session(event.option.id)  # type: ignore[attr-defined]
        else:
            self.notify("Starting a new story…")
            self.service.new_session(event.option.id)

    def on_session_ready(self, message: msg.SessionReady) -> None:
        self.app.open_session(message.session_id)  # type: ignore[attr-defined]

    def on_action_failed(self, message: msg.ActionFailed) -> None:
        self.notify(message.error, title=f"Could not {message.what}", severity="error")
