"""End to end on the real embedded model (SmolLM2-135M through xllamacpp), real SQLite file."""

from __future__ import annotations

import sqlite3

from support.engine import Engines

from qualia_cli.config import load_settings
from qualia_cli.engine import Engine
from qualia_cli.engine import events as ev
from qualia_cli.engine.turn.summary import TurnSummary
from qualia_cli.store import Store


async def test_one_full_turn_on_the_embedded_model(
    engines: Engines, qualia_home: object, local_server: object
) -> None:
    engine = engines.keep(Engine(load_settings()))
    session = engine.new_session("fogbound_archive")
    opening_head = session.record.head_message_id
    events = [e async for e in session.turn("Hello. Which ledgers survived the fire?")]

    kinds = [e.type for e in events if not isinstance(e, ev.PartnerDelta)]
    assert kinds[0] == "turn_started" and kinds[1] == "director_planned"
    assert kinds.index("partner_message") < kinds.index("state_changed")
    assert kinds[-1] == "extras_committed", [e.to_dict() for e in events if e.type == "agent_error"]
    assert kinds.index("turn_committed") < kinds.index("extras_committed")
    summary = TurnSummary()
    for e in events:
        summary.add(e)
    assert summary.reply.strip()
    assert {a["agent"] for a in summary.agents} == {"director", "partner", "visual", "strategist"}
    # the embedded model runs the small profile: the Director and Visual Director are rules
    models = {a["agent"]: a["model"] for a in summary.agents}
    assert models == {
        "director": "rules",
        "partner": "local/smollm2",
        "visual": "rules",
        "strategist": "local/smollm2",
    }
    assert all(a["completion_tokens"] > 0 for a in summary.agents if a["model"] != "rules")

    # What the turn wrote, read back from the SQLite file by a fresh connection.
    store = Store(engine.store.path)
    record = store.get_session(session.id)
    assert record is not None and record.head_message_id != opening_head
    branch = store.branch(record.head_message_id)
    assert [m.sender for m in branch][-1] == "partner"
    assert branch[-1].content["dialogue"] == summary.reply
    assert store.get_partner_state(session.id).stats == summary.state_after["stats"]
    store.close()
    con = sqlite3.connect(engine.store.path)
    rows = con.execute("select agent, ok, prompt_tokens, model from agent_calls").fetchall()
    con.close()
    assert sorted(r[0] for r in rows) == ["director", "partner", "strategist", "visual"]
    assert all(r[2] > 0 for r in rows if r[1] and r[3] != "rules")
