"""The turn trace shows a reasoning model's thinking apart from its output (80x24 and 120x40)."""

from __future__ import annotations

import pytest

from qualia_cli.engine.turn.trace import TurnTrace, agent_trace


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_trace_shows_reasoning_apart_from_the_output(size: tuple[int, int]) -> None:
    from textual.app import App
    from textual.widgets import Collapsible, Static

    from qualia_cli.tui.screens.trace import TraceScreen

    row = {
        "agent": "director",
        "model": "openrouter/deepseek/deepseek-r1",
        "ok": False,  # failed calls start expanded
        "latency_ms": 900.0,
        "raw_output": '{"beat": "Mira hesitates."}',
        "reasoning": "The player sounds nervous; slow the pace.",
        "output_mode": "json_schema",
        "error": "bad output",
    }
    trace = TurnTrace("t1", "Hello", {"beat": "Mira hesitates."}, 900.0, [agent_trace(row)])
    assert trace.calls[0].reasoning and trace.to_dict()["calls"][0]["output_mode"] == "json_schema"

    class Host(App[None]):
        def on_mount(self) -> None:
            self.push_screen(TraceScreen(trace))

    app = Host()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        shown = [str(w.render()) for w in app.screen.query(Static)]
        thinking = [s for s in shown if "slow the pace" in s]
        assert thinking and all("Mira hesitates" not in s for s in thinking)
        assert any("Mira hesitates" in s and "slow the pace" not in s for s in shown)
        assert app.screen.query(Collapsible)
