"""Small terminals, help, the story tree and redo, driven by Pilot on the scripted model."""

from __future__ import annotations

from typing import Any

import pytest
from support.engine import make_engine, play_lines
from support.tui import wait_for

from qualia_cli.engine import Engine
from qualia_cli.engine.story.tree import story_tree
from qualia_cli.tui.app import QualiaApp
from qualia_cli.tui.screens.chat import ChatScreen
from qualia_cli.tui.widgets.log import ChatLog


@pytest.fixture
async def engine() -> Any:
    e = make_engine(enabled=False)
    yield e
    await e.aclose()


async def opened(pilot: Any, app: QualiaApp) -> ChatScreen:
    await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen), what="chat screen")
    screen: Any = app.screen
    await wait_for(pilot, lambda: screen.session_view is not None, what="session view")
    return screen


def inside(app: QualiaApp, widget: Any) -> bool:
    """Is all of ``widget`` on the terminal?"""
    return app.screen.region.contains_region(widget.region) and widget.region.area > 0


@pytest.mark.parametrize("size", [(80, 24), (60, 20)])
async def test_narrow_terminal_folds_the_panel_into_one_line(
    engine: Engine, size: tuple[int, int]
) -> None:
    s = engine.new_session("fogbound_archive")
    app = QualiaApp(engine, session_id=s.id)
    async with app.run_test(size=size) as pilot:
        chat = await opened(pilot, app)
        side, brief = chat.query_one("#side"), chat.query_one("#brief")
        assert not side.display and brief.display
        line = str(brief.render())
        assert "Maren" in line and "trust 20" in line and "archive reading room" in line
        assert chat.query_one("#story").region.width == size[0]  # the story gets the width
        await pilot.press("ctrl+g")  # the whole panel on demand…
        assert side.display and not brief.display
        await pilot.press("ctrl+g")  # …and away again
        assert not side.display and brief.display


async def test_wide_terminal_shows_the_panel_and_ctrl_g_hides_all_of_it(engine: Engine) -> None:
    s = engine.new_session("fogbound_archive")
    app = QualiaApp(engine, session_id=s.id)
    async with app.run_test(size=(120, 40)) as pilot:
        chat = await opened(pilot, app)
        assert chat.query_one("#side").display and not chat.query_one("#brief").display
        await pilot.press("ctrl+g")
        assert not chat.query_one("#side").display and chat.query_one("#brief").display


async def test_footer_shows_help_and_quit_first_at_80_columns(engine: Engine) -> None:
    from textual.widgets import Footer

    s = engine.new_session("fogbound_archive")
    app = QualiaApp(engine, session_id=s.id)
    async with app.run_test(size=(80, 24)) as pilot:
        chat = await opened(pilot, app)
        await pilot.pause(0.2)
        keys = [k for k in chat.query_one(Footer).query("FooterKey") if inside(app, k)]
        shown = [k.description for k in keys]
        assert shown[:2] == ["Help", "Quit"], shown


async def test_f1_and_question_mark_open_the_help_with_every_game_key(engine: Engine) -> None:
    from qualia_cli.tui.screens.help import HelpScreen

    s = engine.new_session("fogbound_archive")
    app = QualiaApp(engine, session_id=s.id)
    async with app.run_test(size=(80, 24)) as pilot:
        chat = await opened(pilot, app)
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        text = str(app.screen.query_one("#help-keys").render())
        for key in ("enter", "shift+enter", "1 2 3 4", "← →", "↑ ↓", "esc", "ctrl+q", "ctrl+y"):
            assert key in text, key
        box = app.screen.query_one(".dialog").content_region
        assert box.contains_region(app.screen.query_one("#close").region)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is chat)
        chat.query_one(ChatLog).focus()  # "?" is a key of its own outside the input
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help by ?")


async def test_options_fit_80x24_with_the_first_field_focused(engine: Engine) -> None:
    from textual.widgets import Input

    from qualia_cli.tui.screens.dialogs import OptionsScreen

    s = engine.new_session("fogbound_archive")
    app = QualiaApp(engine, session_id=s.id)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot, app)
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, OptionsScreen), what="options")
        await pilot.pause(0.2)
        dialog = app.screen
        box = dialog.query_one(".dialog").content_region
        for button in ("#save", "#cancel"):
            assert box.contains_region(dialog.query_one(button).region), f"{button} is cut"
        first = dialog.query(Input).first()
        assert app.focused is first
        await pilot.press(*"fake/other")  # typing lands in the field at once
        assert first.value == "fake/other"
        await pilot.click(f"#reset-{first.id.removeprefix('model-')}")
        assert first.value == ""


async def test_tree_reaches_an_abandoned_branch_and_continues_from_it(engine: Engine) -> None:
    from textual.widgets import Tree

    from qualia_cli.tui.screens.tree import StoryTreeScreen

    s = engine.new_session("fogbound_archive")
    await play_lines(s, "one", "two", "three", "four")
    s.branch_at(story_tree(s).root or 0)  # back to the opening
    await play_lines(s, "other one")  # turns one–four are now off the path
    app = QualiaApp(engine, session_id=s.id)
    async with app.run_test(size=(80, 24)) as pilot:
        chat = await opened(pilot, app)
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: isinstance(app.screen, StoryTreeScreen), what="tree")
        tree: Tree[Any] = app.screen.query_one(Tree)
        await pilot.pause(0.1)
        head = tree.cursor_node
        assert head is not None and "other one" in str(head.label)
        await pilot.press("space")  # open the alternatives of this turn
        await wait_for(pilot, lambda: bool(head.children), what="alternatives")
        (alt,) = head.children
        assert "alternative 1/2" in str(alt.label) and "You: one" in str(alt.label)
        await pilot.press("down", "space")  # the old branch: one, two, three, four
        await wait_for(pilot, lambda: len(alt.children) == 4, what="the old branch")
        assert "You: three" in str(alt.children[2].label)
        await pilot.press("down", "down", "down", "enter")  # continue after "three"
        await wait_for(
            pilot,
            lambda: [v.entry.text for v in chat.query_one(ChatLog).views()][-3] == "three",
            what="the story at turn three",
        )
        assert chat.session_view is not None and chat.session_view.alternatives == (0, 1)


async def test_ctrl_y_redoes_what_ctrl_b_undid(engine: Engine) -> None:
    s = engine.new_session("fogbound_archive")
    await play_lines(s, "one", "two")
    app = QualiaApp(engine, session_id=s.id)
    async with app.run_test(size=(100, 30)) as pilot:
        chat = await opened(pilot, app)
        log = chat.query_one(ChatLog)

        def last_player() -> str:
            said = [v.entry.text for v in log.views() if v.entry.sender == "player"]
            return said[-1] if said else ""

        await pilot.press("ctrl+b")
        await wait_for(pilot, lambda: last_player() == "one", what="rewind")
        await pilot.press("ctrl+b")
        await wait_for(pilot, lambda: last_player() == "", what="back at the opening")
        await pilot.press("ctrl+y")
        await wait_for(pilot, lambda: last_player() == "one", what="redo")
        await pilot.press("ctrl+y")
        await wait_for(pilot, lambda: last_player() == "two", what="redo again")


async def test_options_check_each_model_inline_and_keep_every_value(engine: Engine) -> None:
    from textual.widgets import Input, Select, Static

    from qualia_cli.tui.screens.dialogs import OptionsScreen

    s = engine.new_session("fogbound_archive")
    app = QualiaApp(engine, session_id=s.id)
    async with app.run_test(size=(80, 24)) as pilot:
        chat = await opened(pilot, app)
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, OptionsScreen), what="options")
        dialog: Any = app.screen
        assert "fake/model" in str(dialog.query_one(".hint", Static).render())  # configured
        dialog.query_one("#model-partner", Input).value = "nosuch/model"
        dialog.query_one("#model-director", Input).value = "fake/other"
        dialog.query_one("#pace", Select).value = "fast"
        await pilot.click("#save")
        error = dialog.query_one("#error-partner", Static)
        await wait_for(pilot, lambda: "nosuch" in str(error.render()), what="inline error")
        assert app.screen is dialog, "a bad name keeps the dialog open"
        box = dialog.query_one(".dialog").content_region
        assert box.contains_region(dialog.query_one("#save").region), "still visible"
        assert app.focused is dialog.query_one("#model-partner", Input)
        assert not str(dialog.query_one("#error-director", Static).render())
        assert dialog.query_one("#model-director", Input).value == "fake/other"  # kept
        assert dialog.query_one("#pace", Select).value == "fast"
        assert engine.open_session(s.id).agent_models() == {}, "nothing saved yet"
        await pilot.click("#reset-partner")
        await pilot.click("#save")
        await wait_for(pilot, lambda: app.screen is chat, what="saved")
        await wait_for(
            pilot,
            lambda: engine.open_session(s.id).agent_models() == {"director": "fake/other"},
            what="the models stored",
        )
        assert engine.open_session(s.id).record.narrative_pace == "fast"


async def test_scene_caption_is_place_and_time_and_a_failure_reads_in_full() -> None:
    from qualia_cli.engine import events as ev
    from qualia_cli.tui import messages as msg
    from qualia_cli.tui.widgets.image_pane import ImagePane

    engine = make_engine()  # the sketch renderer draws the opening's scene
    try:
        s = engine.new_session("fogbound_archive")
        app = QualiaApp(engine, session_id=s.id)
        async with app.run_test(size=(120, 40)) as pilot:
            chat = await opened(pilot, app)
            pane = chat.query_one(ImagePane)
            await wait_for(pilot, lambda: pane.scene is not None, timeout=30, what="the scene")
            caption = str(pane.query_one("#scene-caption").render())
            assert caption.startswith("archive reading room · "), caption
            reason = "ComfyUI rejected the workflow: node 4 (CheckpointLoaderSimple) " + "x" * 200
            failed = ev.ImageFailed(
                turn_id="t9",
                job_id="j9",
                session_id=s.id,
                message_id=None,
                code="rejected",
                message=reason,
            )
            chat.post_message(msg.ImageEvent(failed))
            note = pane.query_one("#image-note")
            await wait_for(pilot, lambda: note.has_class("-active"), what="the note")
            assert note.tooltip == reason, "the whole reason on hover"
    finally:
        await engine.aclose()


async def test_pick_and_copy_a_message_and_typing_in_the_log_reaches_the_input(
    engine: Engine,
) -> None:
    from qualia_cli.tui.widgets.chat_input import ChatInput

    s = engine.new_session("fogbound_archive")
    await play_lines(s, "Is the lamp room open?")
    app = QualiaApp(engine, session_id=s.id)
    async with app.run_test(size=(80, 24)) as pilot:
        chat = await opened(pilot, app)
        log = chat.query_one(ChatLog)
        narration = next(v for v in log.views() if v.entry.sender == "narrator")
        assert "italic" in str(narration.render().spans), "narration is plain, selectable text"
        await pilot.click(log.views()[-1])  # the last reply: picked, the log has the focus
        assert app.focused is log and log.selected is log.views()[-1]
        await pilot.press("up", "up")
        assert log.selected.entry.sender == "player"  # type: ignore[union-attr]
        await pilot.press("c")
        assert app.clipboard == "Is the lamp room open?"
        await pilot.press(*"Hi")  # typing is never lost: it lands in the input
        field = chat.query_one(ChatInput)
        assert app.focused is field and field.text == "Hi"
        from qualia_cli.tui.widgets.suggestions import SuggestionsBar

        wanted = chat.query_one(SuggestionsBar).suggestions[1]["text"]  # the second chip shown
        log.focus()
        await pilot.press("2")  # …but 1–4 still send a suggestion from the log

        def said() -> list[str]:
            return [v.entry.text for v in log.views() if v.entry.sender == "player"]

        await wait_for(pilot, lambda: said()[-1] == wanted, timeout=30, what="suggestion 2")


async def test_placeholder_offers_1_to_4_only_with_suggestions_and_chips_fit_80(
    engine: Engine,
) -> None:
    from qualia_cli.tui.widgets.chat_input import ChatInput
    from qualia_cli.tui.widgets.suggestions import SuggestionChip

    s = engine.new_session("fogbound_archive")
    app = QualiaApp(engine, session_id=s.id)
    async with app.run_test(size=(80, 24)) as pilot:
        chat = await opened(pilot, app)
        field = chat.query_one(ChatInput)
        assert "1–4" not in str(field.placeholder), "the opening has no suggestions to pick"
        field.focus()
        await pilot.press(*"Hello", "enter")
        await wait_for(pilot, lambda: not chat.busy and chat.query(SuggestionChip), timeout=30)
        await pilot.pause(0.2)
        assert "1–4" in str(field.placeholder)
        chips = list(chat.query(SuggestionChip))
        assert len({c.region.y for c in chips}) == len(chips), "one chip per line"
        for chip in chips:
            assert chip.region.width >= 70 and chip.tooltip and chip.text in str(chip.tooltip)
