"""The start screen: recent sessions to resume, scenarios to start a new story from."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, OptionList, Static
from textual.widgets.option_list import Option

from qualia_cli.tui import messages as msg
from qualia_cli.tui.service import StartService
from qualia_cli.tui.view import when

if TYPE_CHECKING:
    from qualia_cli.engine import Engine


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
        Binding("enter", "open", "Open", show=True),
        Binding("n", "new", "New story"),
        Binding("d", "archive", "Archive"),
        Binding("ctrl+q", "app.quit", "Quit"),
    ]

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.service = StartService(self, engine)
        self.sessions: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield Header(icon="❖")
        with Vertical(id="start"):
            yield Static("Continue a story", classes="section-title")
            yield DataTable(id="sessions", cursor_type="row", zebra_stripes=True)
            yield Static("No saved stories yet: start one below.", id="no-sessions")
            yield Static("Start a new story", classes="section-title")
            yield OptionList(id="scenarios")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "qualia"
        self.sub_title = "interactive fiction"
        table = self.query_one("#sessions", DataTable)
        table.add_column("Title", key="title")
        table.add_column("Scenario", key="scenario")
        table.add_column("Turns", key="turns")
        table.add_column("Last played", key="when")
        self.service.load()

    def on_start_data(self, message: msg.StartData) -> None:
        self.sessions = message.sessions
        table = self.query_one("#sessions", DataTable)
        table.clear()
        for s in message.sessions:
            table.add_row(
                s["title"], s["scenario"], str(s["turns"]), when(s["updated_at"]), key=s["id"]
            )
        has = bool(message.sessions)
        table.display = has
        self.query_one("#no-sessions").display = not has
        scenarios = self.query_one("#scenarios", OptionList)
        highlighted = scenarios.highlighted
        scenarios.clear_options()
        scenarios.add_options([scenario_option(s) for s in message.scenarios])
        if scenarios.option_count:
            scenarios.highlighted = min(highlighted or 0, scenarios.option_count - 1)
        (table if has else scenarios).focus()

    def _session_id(self) -> str | None:
        table = self.query_one("#sessions", DataTable)
        if not self.sessions or not table.display:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return str(row_key.value) if row_key.value is not None else None

    def _scenario_path(self) -> str | None:
        scenarios = self.query_one("#scenarios", OptionList)
        if scenarios.highlighted is None:
            return None
        option = scenarios.get_option_at_index(scenarios.highlighted)
        return None if option.disabled else option.id

    def action_open(self) -> None:
        if self.focused is self.query_one("#scenarios"):
            self.action_new()
        elif (session_id := self._session_id()) is not None:
            self.app.open_session(session_id)  # type: ignore[attr-defined]

    def action_new(self) -> None:
        scenarios = self.query_one("#scenarios", OptionList)
        if self.focused is not scenarios:
            scenarios.focus()
            return
        path = self._scenario_path()
        if path:
            self.notify("Starting a new story…")
            self.service.new_session(path)

    def action_archive(self) -> None:
        if self.focused is not self.query_one("#sessions"):
            return
        session_id = self._session_id()
        if session_id:
            self.service.archive(session_id)
            self.notify(f"Archived: qualia sessions list --archived shows it ({session_id}).")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.app.open_session(str(event.row_key.value))  # type: ignore[attr-defined]

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id and not event.option.disabled:
            self.notify("Starting a new story…")
            self.service.new_session(event.option.id)

    def on_session_ready(self, message: msg.SessionReady) -> None:
        self.app.open_session(message.session_id)  # type: ignore[attr-defined]

    def on_action_failed(self, message: msg.ActionFailed) -> None:
        self.notify(message.error, title=f"Could not {message.what}", severity="error")
