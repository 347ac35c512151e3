"""The chat screen driven by Pilot on the scripted model: send, stream, suggestions, the tree
actions, cancel, errors and retry."""

from __future__ import annotations

from typing import Any

import pytest
from fakes import ScriptedProvider, failing
from support.engine import Engines, make_engine
from support.tui import wait_for

from qualia_cli.engine import Engine
from qualia_cli.llm.base import Request
from qualia_cli.tui.app import QualiaApp
from qualia_cli.tui.screens.chat import ChatScreen
from qualia_cli.tui.widgets.chat_input import ChatInput
from qualia_cli.tui.widgets.log import AltSwitch, ChatLog, MessageView, RetryBox, TypingView
from qualia_cli.tui.widgets.panel import PartnerPanel

SIZE = (100, 30)


def seeded_partner(request: Request) -> dict[str, Any]:
    return {
        "dialogue": f"Reply number {request.seed}, about the ledgers and the fire.",
        "action": "nods",
        "mood": "happy",
        "stat_deltas": {"trust": 3, "affection": -1},
    }


@pytest.fixture
def provider() -> ScriptedProvider:
    return ScriptedProvider(answers={"partner": seeded_partner})


@pytest.fixture
async def engine(provider: ScriptedProvider) -> Any:
    e = make_engine(provider)
    yield e
    await e.aclose()


def chat(app: QualiaApp) -> ChatScreen:
    screen = app.screen
    assert isinstance(screen, ChatScreen)
    return screen


def last(app: QualiaApp, sender: str) -> MessageView:
    views = [v for v in chat(app).query_one(ChatLog).views() if v.entry.sender == sender]
    return views[-1]


async def opened(pilot: Any, app: QualiaApp) -> None:
    await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen), what="chat screen")
    await wait_for(pilot, lambda: chat(app).session_view is not None, what="session view")


async def turn_done(pilot: Any, app: QualiaApp) -> None:
    """The whole turn: her reply and its extras (suggestions, picture prompt)."""
    await wait_for(
        pilot,
        lambda: (
            not chat(app).busy and not chat(app).extras_pending and not chat(app).query(TypingView)
        ),
        timeout=30,
        what="the turn to finish",
    )


async def say(pilot: Any, app: QualiaApp, text: str) -> None:
    chat(app).query_one(ChatInput).focus()
    await pilot.press(*text)
    await pilot.press("enter")
    await turn_done(pilot, app)


async def test_send_streams_the_reply_and_moves_the_bars(
    engine: Engine, provider: ScriptedProvider
) -> None:
    provider.delays = {"director": 0.4, "partner": 1.0}
    s = engine.new_session("fogbound_archive")
    app = QualiaApp(engine, session_id=s.id)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        assert last(app, "partner").entry.text.startswith("You'll be the insurance man")
        await pilot.press(*"Hello")
        await pilot.press("enter")
        log = chat(app).query_one(ChatLog)
        await wait_for(pilot, lambda: log.typing is not None, what="typing indicator")
        typing = log.typing
        assert typing is not None and typing.text == ""
        assert "planning the scene…" in str(typing.render())  # what the turn is doing
        assert last(app, "player").entry.text == "Hello"
        await wait_for(pilot, lambda: log.typing and log.typing.text, what="first words")
        partial = log.typing.text if log.typing else ""
        await turn_done(pilot, app)
        final = last(app, "partner").entry
        assert final.id is not None, "the committed message replaced the live one"
        assert final.text.startswith("Reply number")
        assert final.text.startswith(partial) and len(partial) < len(final.text), "streamed"
        panel = chat(app).query_one(PartnerPanel)
        assert panel.bar("trust").stat.value == 23 and panel.bar("trust").stat.delta == 3
        assert panel.bar("affection").stat.value == 24
        assert "−1" in str(panel.bar("affection").query_one(".stat-label").render())
        assert chat(app).query_one(ChatInput).text == ""
    stored = engine.open_session(s.id).history(10)
    assert [m.sender for m in stored[-3:]] == ["player", "narrator", "partner"]
    assert stored[-1].text == final.text


async def test_press_2_sends_the_second_suggestion(
    engine: Engine, provider: ScriptedProvider
) -> None:
    s = engine.new_session("fogbound_archive")
    app = QualiaApp(engine, session_id=s.id)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        await say(pilot, app, "Hello")
        assert [c.text for c in chat(app).query(".chip")][1] == "Offer to help."  # type: ignore[attr-defined]
        await pilot.press("2")
        await turn_done(pilot, app)
        assert last(app, "player").entry.text == "Offer to help."
        partner_requests = [r for r in provider.requests if r.agent == "partner"]
        assert "Offer to help." in partner_requests[-1].messages[-1]["content"]
        # clicking a suggestion sends it too
        await pilot.click(".chip")
        await turn_done(pilot, app)
        assert last(app, "player").entry.text == "Ask about the rain."


async def test_regenerate_and_flip_between_alternatives(engine: Engine) -> None:
    s = engine.new_session("fogbound_archive")
    app = QualiaApp(engine, session_id=s.id)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        await say(pilot, app, "Hello")
        first = last(app, "partner").entry.text
        assert not chat(app).query(AltSwitch)
        await pilot.press("ctrl+r")
        await turn_done(pilot, app)
        second = last(app, "partner").entry.text
        assert second != first
        assert chat(app).query_one(AltSwitch).label == "2/2"
        assert [v.entry.text for v in chat(app).query_one(ChatLog).views()].count("Hello") == 1
        await pilot.press("left")  # empty input: previous alternative
        await wait_for(
            pilot,
            lambda: chat(app).query(AltSwitch) and chat(app).query_one(AltSwitch).label == "1/2",
        )
        assert last(app, "partner").entry.text == first
        await pilot.press("right")
        await wait_for(
            pilot,
            lambda: chat(app).query(AltSwitch) and chat(app).query_one(AltSwitch).label == "2/2",
        )
        assert last(app, "partner").entry.text == second
    assert engine.open_session(s.id).alternatives().label == "2/2"


async def test_rewind_one_turn(engine: Engine) -> None:
    s = engine.new_session("fogbound_archive")
    app = QualiaApp(engine, session_id=s.id)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        await say(pilot, app, "one")
        await say(pilot, app, "two")
        panel = chat(app).query_one(PartnerPanel)
        assert panel.bar("trust").stat.value == 26
        await pilot.press("ctrl+b")
        await wait_for(pilot, lambda: last(app, "player").entry.text == "one", what="rewind")
        assert panel.bar("trust").stat.value == 23
    assert engine.open_session(s.id).history(10)[-3].text == "one"


async def test_esc_before_her_first_word_cancels_and_commits_nothing(
    engine: Engine, provider: ScriptedProvider
) -> None:
    provider.delays = {"director": 3.0}
    s = engine.new_session("fogbound_archive")
    before = engine.store.count_messages(s.id)
    head = s.record.head_message_id
    app = QualiaApp(engine, session_id=s.id)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        await pilot.press(*"Hello")
        await pilot.press("enter")
        log = chat(app).query_one(ChatLog)
        await wait_for(pilot, lambda: log.typing is not None, what="typing indicator")
        await pilot.pause(0.2)
        await pilot.press("escape")
        await turn_done(pilot, app)
        assert not [v for v in log.views() if v.entry.id is None], "live messages removed"
        assert last(app, "partner").entry.text.startswith("You'll be the insurance man")
        assert chat(app).query_one(ChatInput).text == "Hello", "the typed text is restored"
        assert any("nothing was saved" in n.message for n in app._notifications)
        await pilot.pause(0.3)
    assert engine.store.count_messages(s.id) == before
    assert engine.open_session(s.id).record.head_message_id == head


async def test_esc_mid_reply_keeps_what_she_said(
    engine: Engine, provider: ScriptedProvider
) -> None:
    provider.delays = {"partner": 4.0}
    s = engine.new_session("fogbound_archive")
    stats = s.state.stats
    app = QualiaApp(engine, session_id=s.id)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        await pilot.press(*"Hello")
        await pilot.press("enter")
        log = chat(app).query_one(ChatLog)
        await wait_for(pilot, lambda: log.typing and len(log.typing.text) > 10, what="words")
        await pilot.press("escape")
        await turn_done(pilot, app)
        kept = last(app, "partner").entry
        assert kept.id is not None and kept.text.startswith("Reply number")
        assert len(kept.text) < len(seeded_partner(provider.requests[-1])["dialogue"])
        assert chat(app).query_one(ChatInput).text == "", "the line was said: not given back"
        assert any("kept" in n.message for n in app._notifications)
    stored = engine.open_session(s.id)
    assert stored.history()[-1].text == kept.text and stored.history()[-1].content["stopped"]
    assert stored.state.stats == stats, "a cut answer moves no stat"


async def test_input_is_free_as_soon_as_her_reply_is_saved(
    engine: Engine, provider: ScriptedProvider
) -> None:
    provider.delays = {"visual": 3.0, "strategist": 3.0}
    s = engine.new_session("fogbound_archive")
    app = QualiaApp(engine, session_id=s.id)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        screen = chat(app)
        await pilot.press(*"Hello")
        await pilot.press("enter")
        await wait_for(pilot, lambda: not screen.busy and screen.extras_pending, what="reply")
        assert last(app, "partner").entry.id is not None, "her reply is saved and shown"
        assert not screen.query(".chip"), "the suggestions are not there yet"
        # the input takes the next line at once
        await pilot.press(*"Next")
        await pilot.press("enter")
        await wait_for(pilot, lambda: last(app, "player").entry.text == "Next", what="sent")
        await turn_done(pilot, app)
        players = [v.entry.text for v in screen.query_one(ChatLog).views()]
        assert "Hello" in players and "Next" in players
        chips = [c.text for c in screen.query(".chip")]  # type: ignore[attr-defined]
        assert chips and chips[0] == "Ask about the rain.", "the newest turn's suggestions"
    calls = engine.store.agent_calls(s.id)
    assert any(c["agent"] == "strategist" and c["error_code"] == "cancelled" for c in calls)


async def test_suggestions_appear_after_the_reply_when_ready(
    engine: Engine, provider: ScriptedProvider
) -> None:
    provider.delays = {"strategist": 1.5, "visual": 5.0}
    s = engine.new_session("fogbound_archive")
    app = QualiaApp(engine, session_id=s.id)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        screen = chat(app)
        await pilot.press(*"Hello")
        await pilot.press("enter")
        await wait_for(pilot, lambda: not screen.busy and screen.extras_pending, what="reply")
        assert not screen.query(".chip") and not screen.query_one(ChatInput).disabled
        await wait_for(pilot, lambda: screen.query(".chip"), what="suggestions")
        assert screen.extras_pending, "the Visual Director is still at work"
        await pilot.press("2")  # a number picks one as soon as they are shown
        await wait_for(pilot, lambda: last(app, "player").entry.text == "Offer to help.")
        await turn_done(pilot, app)
        assert screen.session_view is not None
        assert screen.session_view.suggestions[0]["text"] == "Ask about the rain."


async def test_agent_error_shows_retry_and_restores_input(
    engine: Engine, provider: ScriptedProvider
) -> None:
    provider.answers["partner"] = failing(message="the partner model is down")
    s = engine.new_session("fogbound_archive")
    before = engine.store.count_messages(s.id)
    app = QualiaApp(engine, session_id=s.id)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        await say(pilot, app, "Hello there")
        retry = chat(app).query_one(RetryBox)
        assert "partner model is down" in retry.error
        assert chat(app).query_one(ChatInput).text == "Hello there"
        assert not any(n.severity == "error" for n in app._notifications), "one place only"
        assert engine.store.count_messages(s.id) == before
        # the model recovers; the inline retry runs the same turn
        provider.answers["partner"] = seeded_partner
        await pilot.click("#retry")
        await turn_done(pilot, app)
        assert not chat(app).query(RetryBox)
        assert last(app, "player").entry.text == "Hello there"
        assert last(app, "partner").entry.id is not None
        assert chat(app).query_one(ChatInput).text == ""


async def test_edit_last_message_and_rerun(engine: Engine, provider: ScriptedProvider) -> None:
    s = engine.new_session("fogbound_archive")
    app = QualiaApp(engine, session_id=s.id)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        await say(pilot, app, "Helo")
        await pilot.press("f2")
        box = chat(app).query_one(ChatInput)
        assert box.text == "Helo" and box.has_class("-editing")
        await pilot.press("end", "backspace", "backspace", *"llo")
        await pilot.press("enter")
        await turn_done(pilot, app)
        players = [
            v.entry.text for v in chat(app).query_one(ChatLog).views() if v.entry.sender == "player"
        ]
        assert players == ["Hello"]
        assert chat(app).query_one(AltSwitch).label == "2/2"
        assert not box.has_class("-editing")
    assert (
        "Hello"
        in [r for r in provider.requests if r.agent == "partner"][-1].messages[-1]["content"]
    )


async def test_input_history_and_multiline(engine: Engine, provider: ScriptedProvider) -> None:
    s = engine.new_session("fogbound_archive")
    app = QualiaApp(engine, session_id=s.id)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        await pilot.press(*"first", "shift+enter", *"line")
        box = chat(app).query_one(ChatInput)
        assert box.text == "first\nline"
        await pilot.press("enter")
        await turn_done(pilot, app)
        assert last(app, "player").entry.text == "first\nline"
        await pilot.press(*"draft")
        await pilot.press("up")
        assert box.text == "first\nline"
        await pilot.press("down", "down")
        assert box.text == "draft"


async def test_trace_options_export_and_image_pane(
    provider: ScriptedProvider, engines: Engines, qualia_home: Any
) -> None:
    from textual.widgets import DataTable, Input, Static

    from qualia_cli.tui.screens.dialogs import OptionsScreen
    from qualia_cli.tui.screens.trace import TraceScreen

    engine = engines(provider, pictures=False)  # the pane keeps the prompt (see test_tui_images)
    s = engine.new_session("fogbound_archive")
    app = QualiaApp(engine, session_id=s.id)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        await say(pilot, app, "Hello")

        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: isinstance(app.screen, TraceScreen), what="trace")
        table = app.screen.query_one("#trace-calls", DataTable)
        assert [table.get_row_at(i)[0] for i in range(table.row_count)] == [
            "director",
            "partner",
            "visual",
            "strategist",
        ]
        assert "Mira warms to the player." in str(app.screen.query_one("#trace-plan").render())
        # what went into each prompt: tokens used of the budget, and the parts
        partner_row = table.get_row_at(1)
        used, budget = (int(n) for n in str(partner_row[6]).split("/"))
        assert 0 < used <= budget == engine.settings.agent_budget("partner").context_tokens
        shown = " ".join(str(w.render()) for w in app.screen.query(Static))
        assert f"{used} of {budget} tokens" in shown and "history:" in shown
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen))

        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, OptionsScreen), what="options")
        app.screen.query_one("#model-partner", Input).value = "fake/other"
        await pilot.click("#save")
        await wait_for(
            pilot,
            lambda: (
                chat(app).session_view and chat(app).session_view.models["partner"] == "fake/other"
            ),
            what="options saved",
        )
        assert engine.open_session(s.id).models()["partner"] == "fake/other"

        await pilot.press("ctrl+s")  # the export dialog: format first, enter in the path saves
        await wait_for(pilot, lambda: app.screen.query("#export-save"), what="export dialog")
        await pilot.click("#export-save")
        exports = qualia_home / "data" / "exports"
        await wait_for(pilot, lambda: exports.exists() and any(exports.iterdir()), what="export")
        text = next(exports.iterdir()).read_text(encoding="utf-8")
        assert "**You:** Hello" in text

        pane = chat(app).query_one("#image")
        assert "framing" in str(pane.query_one("#image-prompt").render())
        side = chat(app).query_one("#side")
        await pilot.press("ctrl+g")  # the whole side panel, not only the picture
        assert not side.display and chat(app).query_one("#brief").display
        await pilot.press("ctrl+g")
        assert side.display and not chat(app).query_one("#brief").display


async def test_branch_from_an_earlier_turn(engine: Engine) -> None:
    from textual.widgets import Tree

    from qualia_cli.tui.screens.trace import TraceScreen
    from qualia_cli.tui.screens.tree import StoryTreeScreen

    s = engine.new_session("fogbound_archive")
    app = QualiaApp(engine, session_id=s.id)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        await say(pilot, app, "one")
        await say(pilot, app, "two")
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: isinstance(app.screen, StoryTreeScreen), what="tree")
        tree = app.screen.query_one(Tree)
        labels = [str(n.label) for n in tree.root.children]
        assert labels[0].strip().startswith("opening") and "turn 2 · You: two" in labels[-1]
        assert tree.cursor_node is tree.root.children[-1], "the cursor starts where you are"
        await pilot.press("up")  # turn one: its trace, then branch from there
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, TraceScreen), what="turn one trace")
        assert app.screen.trace.player_text == "one"
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen))
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: isinstance(app.screen, StoryTreeScreen), what="tree")
        await pilot.press("up", "enter")
        await wait_for(pilot, lambda: last(app, "player").entry.text == "one", what="branch")
        await say(pilot, app, "another two")
        assert chat(app).query_one(AltSwitch).label == "2/2"


async def test_palette_lists_and_runs_the_chat_actions(engine: Engine) -> None:
    s = engine.new_session("fogbound_archive")
    app = QualiaApp(engine, session_id=s.id)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for wanted in (
            "Regenerate",
            "Rewind",
            "Edit last message",
            "Branch",
            "Cancel turn",
            "Turn trace",
            "Switch models",
            "Pace and rating",
            "Export transcript",
            "Toggle image pane",
            "Quit",
        ):
            assert wanted in titles
        await say(pilot, app, "Hello")
        first = last(app, "partner").entry.text
        await pilot.press("ctrl+p")
        await pilot.press(*"Regenerate")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen), what="palette closed")
        await wait_for(pilot, lambda: chat(app).query(AltSwitch), what="regenerated via palette")
        await turn_done(pilot, app)
        assert last(app, "partner").entry.text != first
