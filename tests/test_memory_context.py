"""The context builder: every agent's prompt within its budget, parts in priority order."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from qualia_cli.agents.context import StoryContext
from qualia_cli.agents.director import Director
from qualia_cli.agents.partner import Partner
from qualia_cli.agents.strategist import Strategist
from qualia_cli.agents.summarizer import Summarizer
from qualia_cli.agents.visual import Visual
from qualia_cli.config import MemoryConfig
from qualia_cli.engine.turn.state import initial_state
from qualia_cli.llm.base import ChatMessage
from qualia_cli.llm.tokens import ESTIMATE, LlamaServerCounter
from qualia_cli.memory.builder import build_prompt, prompt_messages
from qualia_cli.memory.view import MemoryView
from qualia_cli.paths import bundled_scenarios_dir
from qualia_cli.scenario import load_scenario
from qualia_cli.store.memory import MemoryRecord, RecallHit
from qualia_cli.store.records import Message

SCENARIO = load_scenario(bundled_scenarios_dir() / "fogbound_archive.yaml")
AGENTS = [Director, Partner, Visual, Strategist, Summarizer]
INPUTS: dict[str, Any] = {"guidance": "be kind", "dialogue": "Hm. The harbour master lied."}


def message(i: int, text: str | None = None) -> Message:
    sender = ("player", "narrator", "partner")[i % 3]
    body = text or f"line {i} about the tide tables and a brass key " + "words " * (i % 7)
    content = {"dialogue": body} if sender == "partner" else {"text": body}
    return Message(
        i, "s", i - 1 or None, f"t{i // 3}", sender, content, "", None, None, None, None, 0, 0
    )


def memory(i: int, pinned: bool = False) -> MemoryRecord:
    return MemoryRecord(
        i,
        "s",
        i * 3,
        None,
        i,
        i,
        "fact",
        f"Fact number {i}: the player owns a red boat.",
        pinned,
        "summarizer",
        "",
        "",
    )


def ctx(
    history: int = 0, memories: int = 0, recalls: int = 0, player: str = "Hello"
) -> StoryContext:
    scenario = SCENARIO
    msgs = [message(i) for i in range(1, history + 1)]
    view = MemoryView(
        settings=MemoryConfig(),
        memories=[memory(i, pinned=i == 1) for i in range(1, memories + 1)],
        recalled=[
            RecallHit(
                "message", i, f"recalled message {i} about the harbour master", -5.0 + i, "player"
            )
            for i in range(1, recalls + 1)
        ],
    )
    return StoryContext(
        scenario=scenario,
        state=initial_state(scenario),
        world_state={"facts": {"weather": "fog"}},
        history=msgs,
        player_text=player,
        turn=len(msgs) // 3 + 1,
        pace="medium",
        rating="general",
        extras={"max_stat_delta": 5},
        memory=view,
    )


class PessimisticCounter:
    """Counts a whole prompt higher than the sum of its pieces (as a real tokenizer may)."""

    name = "pessimistic"

    def count(self, text: str) -> int:
        return len(text) // 5 + 1 if text else 0

    def count_messages(self, messages: list[ChatMessage]) -> int:
        return sum(len(m["content"]) // 3 + 9 for m in messages)


@pytest.mark.parametrize("agent", AGENTS, ids=lambda a: a.role)
def test_context_never_exceeds_the_budget(agent: Any) -> None:
    for budget, history, memories, recalls, counter in itertools.product(
        (350, 500, 800, 1200, 2000, 4000),
        (0, 4, 60, 300),
        (0, 3, 80),
        (0, 6),
        (ESTIMATE, PessimisticCounter()),
    ):
        c = ctx(history, memories, recalls, player="What did the harbour master say?")
        assert c.memory is not None
        c.memory.counters = {agent.role: counter}
        fold = c.history[:40]
        built = build_prompt(agent, c, c.memory, budget, fold=fold, **INPUTS)
        total = counter.count_messages(built.messages)
        assert built.trace.total == total
        where = f"budget={budget} history={history} memories={memories} counter={counter.name}"
        if built.trace.parts["essentials"] <= budget:
            assert total <= budget, where
            assert not built.trace.over_budget
        else:  # the essentials alone do not fit: nothing optional is added
            assert built.trace.over_budget
            assert sum(v for k, v in built.trace.parts.items() if k != "essentials") == 0


def test_parts_fill_in_priority_order() -> None:
    c = ctx(history=300, memories=40, recalls=6, player="What did the harbour master say?")
    roomy = build_prompt(Partner, c, c.memory, 4000, **INPUTS).trace
    assert all(roomy.parts[p] > 0 for p in ("memory", "recall", "lore", "history"))
    essentials = roomy.parts["essentials"]
    # a budget that only leaves room for part of the memory: recall, lore, turns are left out
    tight = build_prompt(Partner, c, c.memory, essentials + 60, **INPUTS).trace
    assert tight.parts["memory"] > 0
    assert tight.parts["recall"] == tight.parts["lore"] == tight.parts["history"] == 0
    # more room: memory full, then recall, then lore, and the turns get the rest
    mid = build_prompt(
        Partner,
        c,
        c.memory,
        essentials + roomy.parts["memory"] + roomy.parts["recall"] + 5,
        **INPUTS,
    )
    assert mid.trace.parts["memory"] == roomy.parts["memory"]
    assert mid.trace.parts["recall"] == roomy.parts["recall"]
    assert mid.trace.parts["history"] == 0
    # the turns kept are always the newest ones
    assert roomy.history["last_id"] == 300 and roomy.history["omitted"] > 0


def test_memory_part_keeps_pinned_and_newest() -> None:
    c = ctx(history=3, memories=80)
    built = build_prompt(Partner, c, c.memory, 2000, **INPUTS)
    ids = [m["id"] for m in built.trace.memories]
    assert ids[0] == 1, "the pinned memory comes first, however old"
    assert 80 in ids and 2 not in ids, "then the newest ones"
    assert ids[1:] == sorted(ids[1:]), "rendered oldest to newest"
    text = built.messages[1]["content"]
    assert text.index("Fact number 1:") < text.index("Fact number 80:")


def test_recall_skips_what_the_prompt_already_shows() -> None:
    c = ctx(history=300, memories=3, recalls=0)
    assert c.memory is not None
    c.memory.recalled = [
        RecallHit("message", 299, "already in the recent turns", -9.0, "player"),
        RecallHit("memory", 2, "already in the memory part", -8.0),
        RecallHit("message", 2, "an old line about the ferry", -7.0, "partner"),
    ]
    built = build_prompt(Partner, c, c.memory, 2000, **INPUTS)
    assert [(r["kind"], r["id"]) for r in built.trace.recalled] == [("message", 2)]
    assert "- Maren Voss: an old line about the ferry" in built.messages[1]["content"]
    # agents that do not recall never show it
    assert build_prompt(Strategist, c, c.memory, 2000, **INPUTS).trace.recalled == []


def test_summarizer_reads_the_oldest_turns_to_fold_first() -> None:
    c = ctx(history=120)
    fold = c.history[:90]
    built = build_prompt(Summarizer, c, c.memory, 700, fold=fold)
    h = built.trace.history
    assert h["first_id"] == 1 and 0 < h["messages"] < 90 and h["omitted"] == 90 - h["messages"]
    assert built.history_ids == list(range(1, h["messages"] + 1))
    user = built.messages[1]["content"]
    assert "line 1 about" in user and "line 119 about" not in user
    assert (
        build_prompt(Summarizer, c, c.memory, 700, fold=[])
        .messages[1]["content"]
        .endswith("(nothing to fold)")
    )


def test_agent_messages_still_work_without_memory() -> None:
    c = ctx(history=10)
    c.memory = None
    for agent in AGENTS:
        messages = prompt_messages(agent, c, c.memory, 1500, **INPUTS)
        assert [m["role"] for m in messages] == ["system", "user"]
        assert ESTIMATE.count_messages(messages) <= 1500


def test_tokenizer_counter_degrades_to_the_estimate() -> None:
    counter = LlamaServerCounter("http://127.0.0.1:9", timeout_s=0.5)  # nothing listens there
    try:
        text = "The archive smells of dust and lamp oil."
        assert counter.count(text) == ESTIMATE.count(text)
        messages: list[ChatMessage] = [{"role": "user", "content": text}]
        assert counter.count_messages(messages) == ESTIMATE.count_messages(messages)
        assert counter.degraded
    finally:
        counter.close()


def test_summarizer_schema_is_tight_and_its_output_forgiving() -> None:
    from qualia_cli.agents.summarizer import MemoryNotes

    schema = Summarizer.schema(ctx())
    props = schema["properties"]
    assert props["summary"]["maxLength"] == 300
    assert props["facts"]["maxItems"] == 5 and props["facts"]["items"]["maxLength"] == 140
    notes = MemoryNotes.model_validate(
        {"summary": "x " * 400, "facts": [f"fact {i} " + "y" * 200 for i in range(8)]}
    )
    assert len(notes.summary) <= 300 and len(notes.facts) == 5
    assert all(len(f) <= 140 for f in notes.facts)
    single = MemoryNotes.model_validate({"summary": "s", "facts": "Her name is Maren."})
    assert single.facts == ["Her name is Maren."]
    dupes = MemoryNotes.model_validate({"summary": "s", "facts": ["a", "a", " ", "b"]})
    assert dupes.facts == ["a", "b"]


async def test_under_a_cassette_prompts_are_counted_by_the_estimate() -> None:
    """A replay starts no model; if its recording had counted with the model's tokenizer, the
    two would trim long prompts differently and the replay would miss (story_quality eval)."""
    from qualia_cli.config import load_settings
    from qualia_cli.llm.router import ModelRouter
    from qualia_cli.memory.service import MemoryService

    settings = load_settings()
    router = ModelRouter(settings)
    started: list[str] = []

    def wrapper(provider: str, model: str, create: Any) -> Any:
        started.append(model)
        raise AssertionError("a cassette run must not start the model to count tokens")

    router.wrap_providers(wrapper)
    service = MemoryService(store=None, settings=settings, router=router)  # type: ignore[arg-type]
    counters = await service.counters({"partner": "local/smollm2", "director": "local/smollm2"})
    assert set(counters.values()) == {ESTIMATE} and not started
