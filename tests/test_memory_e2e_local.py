"""Memory on the real embedded model: prompts counted by its own tokenizer, a real Summarizer."""

from __future__ import annotations

from fakes import ScriptedProvider
from story_gen import StoryScript
from support.engine import Engines

from qualia_cli.config import load_settings
from qualia_cli.engine import Engine
from qualia_cli.engine.turn.summary import TurnSummary
from qualia_cli.llm.base import ChatMessage, Request
from qualia_cli.llm.local import LocalServer
from qualia_cli.llm.openai_compat import OpenAICompatProvider
from qualia_cli.llm.router import ModelRouter
from qualia_cli.llm.tokens import ESTIMATE, LlamaServerCounter, llama_counter


async def test_the_tokenizer_counts_the_prompt_the_model_reads(local_server: LocalServer) -> None:
    counter = LlamaServerCounter(local_server.address, local_server.api_key)
    provider = OpenAICompatProvider("local", local_server.base_url, local_server.api_key)
    messages: list[ChatMessage] = [
        {"role": "system", "content": "You are Maren Voss, the town archivist of Greyhaven."},
        {"role": "user", "content": "Player: Which ledgers survived the fire? Be brief."},
    ]
    try:
        counted = counter.count_messages(messages)
        done = await provider.complete(
            Request(messages=messages, model="smollm2", max_tokens=2, temperature=0.0)
        )
        assert counted == done.usage.prompt_tokens
        assert counter.count("Greyhaven") > 0 and not counter.degraded
        assert counter.name == "tokenizer"
        # many lines counted in one request agree with counting them one by one
        lines = [
            "Player: My name is Edmund Harlow, by the way.",
            "Maren Voss: (taps the ledger) Hm. Somebody hid the tide tables at dawn.",
            "- (memory) The player's name is Edmund Harlow.",
            "Narrator: Rain… on ünïcode windows ✓",
        ]
        batched = LlamaServerCounter(local_server.address, local_server.api_key)
        batched.prefetch(lines)
        single = [counter.count(line) for line in lines]
        assert [batched._cache.get(line) for line in lines] == single
        batched.close()
    finally:
        counter.close()
        await provider.aclose()


async def test_the_router_hands_out_the_embedded_models_tokenizer(
    local_server: LocalServer,
) -> None:
    router = ModelRouter(load_settings())
    try:
        counter = await router.token_counter("local/smollm2")
        assert isinstance(counter, LlamaServerCounter)
        assert counter is llama_counter(local_server.address, local_server.api_key)
        assert counter.count("Greyhaven") > 0 and counter.name == "tokenizer"
        assert await router.token_counter("ollama/llama3") is ESTIMATE
        router.wrap_providers(lambda provider, model, create: create())  # a cassette
        assert await router.token_counter("local/smollm2") is ESTIMATE
    finally:
        await router.aclose()


async def test_partner_and_summarizer_on_the_embedded_model(
    engines: Engines, qualia_home: object, local_server: LocalServer
) -> None:
    script = StoryScript(name="Edmund Harlow")
    memory = {"window_turns": 2, "summarize_every": 3}
    # a story written by a scripted model...
    fake = load_settings(models={"default": "fake/m"}, memory=memory)
    router = ModelRouter(fake)
    router.register("fake", ScriptedProvider(answers=script.answers()))
    scripted = engines.keep(Engine(fake, router=router))
    session = scripted.new_session("fogbound_archive")
    for n in range(1, 5):
        async for _ in scripted.open_session(session.id).turn(script.player(n)):
            pass
    assert scripted.memory.show(session.id)["memories"] == []  # not due yet
    await scripted.aclose()

    # ...continued with the Partner and the Summarizer on the embedded model
    budget = 700
    settings = load_settings(
        models={"default": "fake/m", "partner": "local/smollm2", "summarizer": "local/smollm2"},
        memory=memory,
        agents={"partner": {"context_tokens": budget, "max_tokens": 120}},
    )
    router = ModelRouter(settings)
    router.register("fake", ScriptedProvider(answers=script.answers()))
    engine = engines.keep(Engine(settings, router=router))
    summary = TurnSummary()
    async for event in engine.open_session(session.id).turn("What was in the sealed letter?"):
        summary.add(event)
    assert summary.ok, summary.failure
    agents = {a["agent"]: a for a in summary.agents}
    partner = agents["partner"]
    assert partner["context"]["counter"] == "tokenizer"
    assert partner["context"]["total"] <= budget
    assert partner["context"]["history"]["omitted"] > 0, "the budget forced older turns out"
    if partner["ok"] and partner["retries"] == 0 and "quality_gate" not in partner["context"]:
        assert partner["prompt_tokens"] == partner["context"]["total"]
    # the fake agents are counted with the estimate, side by side
    assert agents["strategist"]["context"]["counter"] == ESTIMATE.name

    summarizer = agents["summarizer"]
    assert summarizer["ok"], summarizer["error"]
    assert summarizer["context"]["counter"] == "tokenizer"
    assert summary.memories and summary.memories[0]["kind"] == "summary"
    assert summary.memories[0]["text"].strip()
    stored = engine.memory.show(session.id)["memories"]
    assert [m["id"] for m in stored] == [m["id"] for m in summary.memories]
