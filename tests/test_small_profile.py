"""Issue 11 (part B): the small-model profile, the quality gate and the rules that back them."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from test_agents import _walk, make_ctx

from qualia_cli.agents.base import join
from qualia_cli.agents.director import Director
from qualia_cli.agents.limits import schema_token_ceiling
from qualia_cli.agents.partner import Partner, PartnerReply
from qualia_cli.agents.profile import (
    GENERIC_SUGGESTIONS,
    local_extras,
    profile_for,
    reaction_deltas,
    usable_suggestions,
)
from qualia_cli.agents.quality import copy_reason, distinct_2, junk_reason
from qualia_cli.config import Settings
from qualia_cli.engine.turn.calls import run_agent
from qualia_cli.engine.turn.profile_steps import earlier_texts, review_partner
from qualia_cli.llm.base import Capabilities, Completion, Request, Usage
from qualia_cli.llm.cassette import request_params
from qualia_cli.memory.builder import build_prompt, prompt_messages
from qualia_cli.store.records import Message


def small_ctx(history_len: int = 0) -> Any:
    ctx = make_ctx(history_len)
    ctx.extras.update(profile="small", local_slots=3)
    return ctx


# -- text quality -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["][", "3/100, Lore: 98", "Lore:", '"dialogue": "hi"', "{ }", "12 34 56", "", "Nombre"],
)
def test_junk_is_recognised(text: str) -> None:
    assert junk_reason(text) is not None


@pytest.mark.parametrize(
    "text",
    ["Hm. The ledgers from the east wing survived. Wipe your hands first.", "Yes, come in."],
)
def test_speech_is_not_junk(text: str) -> None:
    assert junk_reason(text) is None


def test_copies_of_the_opening_or_a_reply_are_recognised() -> None:
    ctx = make_ctx()
    earlier = {"opening": ctx.scenario.opening, "first message": ctx.scenario.first_message}
    copied = "Well. " + " ".join(ctx.scenario.first_message.split()[:9])
    assert copy_reason(copied, earlier) == "first message"
    assert copy_reason("The ledgers from the east wing survived the fire.", earlier) is None
    # a short reply repeated whole is a copy too
    assert copy_reason("Yes, come in.", {"reply 4": "Yes, come in."}) == "reply 4"


def test_distinct_2() -> None:
    assert distinct_2(["a b c d"]) == 1.0
    assert distinct_2(["a b a b a b"]) == pytest.approx(2 / 5)


def test_secrets_that_are_sentences_join_as_sentences() -> None:
    secrets = make_ctx().scenario.partner.secrets
    text = join(secrets)
    assert "., " not in text
    assert "told no one. Her younger brother" in text
    assert join(["dust", "rain"]) == "dust, rain"


# -- profile choice and request fields --------------------------------------------------


def test_profile_is_small_for_embedded_models_unless_configured() -> None:
    assert profile_for(Settings(), "local/smollm2") == "small"
    assert profile_for(Settings(), "openrouter/openai/gpt-4o-mini") == "full"
    assert profile_for(Settings(profile="full"), "local/smollm2") == "full"
    assert profile_for(Settings(profile="small"), "ollama/llama3.1") == "small"


def test_local_requests_get_a_slot_per_role_and_dry_for_the_partner() -> None:
    ctx = small_ctx()
    partner = local_extras("partner", "local/smollm2", ctx)
    strategist = local_extras("strategist", "local/smollm2", ctx)
    assert partner["id_slot"] == 0 and strategist["id_slot"] == 1
    assert local_extras("summarizer", "local/smollm2", ctx)["id_slot"] == 2
    assert partner["cache_prompt"] is True and partner["dry_multiplier"] > 0
    assert "dry_multiplier" not in strategist
    stronger = local_extras("partner", "local/smollm2", ctx, stronger=True)
    assert stronger["dry_multiplier"] > partner["dry_multiplier"]
    assert local_extras("partner", "openrouter/x/y", ctx) == {}  # never sent to other servers


def test_dry_sampling_is_part_of_the_cassette_key_but_the_slot_is_not() -> None:
    base = Request(messages=[], model="m")
    dry = Request(messages=[], model="m", extra={"dry_multiplier": 0.8, "id_slot": 0})
    slot_only = Request(messages=[], model="m", extra={"id_slot": 1, "cache_prompt": True})
    assert request_params(slot_only) == request_params(base)
    assert request_params(dry)["dry_multiplier"] == 0.8
    assert "id_slot" not in request_params(dry)


# -- the partner's prompt ---------------------------------------------------------------


def test_small_partner_prompt_is_chat_turns_with_no_voice_example() -> None:
    ctx = small_ctx(history_len=6)
    messages = prompt_messages(Partner, ctx, None, 2000)
    roles = [m["role"] for m in messages]
    assert roles[0] == "system" and roles[-1] == "user"
    assert "assistant" in roles  # her earlier replies are her own turns
    assistant = [m["content"] for m in messages if m["role"] == "assistant"]
    assert assistant[-1] == "reply 6"
    assert messages[-1]["content"].endswith("Which ledgers survived?")
    text = json.dumps(messages)
    assert "Example of your voice" not in text
    assert ctx.scenario.first_message not in text  # the first line is not offered as a model
    assert "Story so far" not in text and "Maren Voss: reply" not in text
    for m in messages:  # no two turns of one side in a row
        assert m["content"].strip()
    pairs = list(itertools.pairwise(roles))
    assert ("user", "user") not in pairs and ("assistant", "assistant") not in pairs


def test_small_partner_system_prompt_never_changes_between_turns() -> None:
    """The prefix llama.cpp can reuse: the system message and the earlier turns."""
    first = prompt_messages(Partner, small_ctx(history_len=4), None, 2000)
    later = prompt_messages(Partner, small_ctx(history_len=6), None, 2000)
    assert first[0] == later[0]
    turns = [m for m in first[1:-1] if m["role"] != "system"]  # not the background note
    assert later[1 : 1 + len(turns)] == turns


def test_lore_is_a_background_note_not_the_start_of_her_reply() -> None:
    ctx = small_ctx(history_len=2)
    ctx.player_text = "Tell me about the harbour master, Aldous Crane."
    messages = prompt_messages(Partner, ctx, None, 2000)
    notes = [m for m in messages[1:] if m["role"] == "system"]
    assert notes and "Lore:" not in json.dumps(messages)
    assert notes[0]["content"].startswith("Background, not to be read out:")
    assert "Lore" not in messages[-1]["content"]


def test_small_partner_schema_asks_for_a_reaction_not_free_deltas() -> None:
    schema = Partner.schema(small_ctx())
    assert "stat_deltas" not in schema["properties"]
    assert "reaction" in schema["required"]
    assert _walk(schema) == []
    full = Partner.schema(make_ctx())
    assert "reaction" not in full["properties"] and "stat_deltas" in full["properties"]


def test_reactions_map_to_deltas_by_rule() -> None:
    scenario = make_ctx().scenario  # trust, affection, clues
    assert reaction_deltas(scenario, "opens up", 5) == {"trust": 2, "affection": 1, "clues": 1}
    assert reaction_deltas(scenario, "hurt", 1) == {"trust": -1, "affection": -1, "clues": 0}
    assert reaction_deltas(scenario, "nonsense", 5) == {"trust": 0, "affection": 0, "clues": 0}


# -- max_tokens covers the schema -------------------------------------------------------


def test_director_max_tokens_default_is_below_its_schema_and_is_raised() -> None:
    ctx = make_ctx()
    ceiling = schema_token_ceiling(Director.schema(ctx))
    assert ceiling > Settings().agent_budget("director").max_tokens  # the old mismatch
    assert ceiling < 600


class RecordingProvider:
    """Answers every request with the next scripted text; keeps the requests."""

    name = "fake"
    capabilities = Capabilities(streaming=False)

    def __init__(self, answers: list[str], cached: int | None = None) -> None:
        self.answers = list(answers)
        self.requests: list[Request] = []
        self.cached = cached

    async def complete(self, request: Request) -> Completion:
        self.requests.append(request)
        usage = Usage(100, 20, None, self.cached)
        return Completion(text=self.answers.pop(0), usage=usage, latency_ms=5.0)

    def stream(self, request: Request) -> Any:  # pragma: no cover - not streaming
        raise NotImplementedError

    async def aclose(self) -> None:
        return None


class FakeRouter:
    def __init__(self, provider: RecordingProvider) -> None:
        self.provider = provider

    async def aresolve(self, name: str) -> tuple[Any, str]:
        return self.provider, name.split("/", 1)[1]

    def context_window(self, name: str) -> int | None:
        return None  # unknown: the configured budgets apply


def reply_json(dialogue: str, reaction: str = "warms", mood: str = "curious") -> str:
    return json.dumps({"dialogue": dialogue, "action": "nods", "mood": mood, "reaction": reaction})


async def test_run_agent_raises_max_tokens_and_reports_cached_tokens() -> None:
    provider = RecordingProvider([json.dumps({"beat": "She waits."})], cached=60)
    outcome = await run_agent(
        Director,
        make_ctx(),
        router=FakeRouter(provider),  # type: ignore[arg-type]
        model_name="local/smollm2",
        budget_tokens=1600,
        max_tokens=220,
        temperature=0.7,
        seed=1,
        turn_started=0.0,
    )
    assert outcome.value is not None
    assert provider.requests[0].max_tokens == schema_token_ceiling(Director.schema(make_ctx()))
    assert outcome.context is not None
    assert outcome.context["tokens"] == {"prompt": 100, "cached": 60, "evaluated": 40}


# -- the quality gate -------------------------------------------------------------------


class Runner:
    def __init__(self, provider: RecordingProvider) -> None:
        self.settings = Settings()
        self.router = FakeRouter(provider)


class Inputs:
    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.models = {"partner": "local/smollm2"}

    def seed(self, role: str) -> int:
        return 11


async def _first(provider: RecordingProvider, ctx: Any, text: str) -> Any:
    return await run_agent(
        Partner,
        ctx,
        router=FakeRouter(provider),  # type: ignore[arg-type]
        model_name="local/smollm2",
        budget_tokens=2000,
        max_tokens=260,
        temperature=0.7,
        seed=11,
        turn_started=0.0,
    )


async def test_a_copied_reply_is_regenerated_once_and_the_better_one_kept() -> None:
    ctx = small_ctx()
    copy = ctx.scenario.first_message
    good = "The east wing ledgers survived. Wipe your hands, then I'll fetch them."
    provider = RecordingProvider([reply_json(copy), reply_json(good, "opens up")])
    first = await _first(provider, ctx, copy)
    kept = await review_partner(Runner(provider), Inputs(ctx), 0.0, first)  # type: ignore[arg-type]
    assert kept.value is not None and kept.value.dialogue == good
    gate = kept.context["quality_gate"]  # type: ignore[index]
    assert gate["problem"] == "copies the first message" and gate["kept"] == "second"
    assert gate["first_dialogue"] == copy
    second = provider.requests[1]
    assert second.seed != provider.requests[0].seed
    assert second.frequency_penalty > provider.requests[0].frequency_penalty
    assert (
        second.extra
        and second.extra["dry_multiplier"] > provider.requests[0].extra["dry_multiplier"]
    )  # type: ignore[index]
    assert kept.call.prompt_tokens == 200  # both attempts are accounted
    assert kept.value.stat_deltas == {"trust": 2, "affection": 1, "clues": 1}  # "opens up"


async def test_the_first_reply_stays_when_the_second_is_no_better() -> None:
    ctx = small_ctx()
    provider = RecordingProvider([reply_json("Lore:"), reply_json("][")])
    first = await _first(provider, ctx, "Lore:")
    kept = await review_partner(Runner(provider), Inputs(ctx), 0.0, first)  # type: ignore[arg-type]
    assert kept.value is not None and kept.value.dialogue == "Lore:"
    assert kept.context["quality_gate"]["kept"] == "first"  # type: ignore[index]


async def test_a_good_reply_is_not_regenerated() -> None:
    ctx = small_ctx()
    provider = RecordingProvider([reply_json("Which ledger? The red ones survived.")])
    first = await _first(provider, ctx, "")
    kept = await review_partner(Runner(provider), Inputs(ctx), 0.0, first)  # type: ignore[arg-type]
    assert len(provider.requests) == 1 and "quality_gate" not in (kept.context or {})


def test_earlier_texts_hold_opening_first_message_recent_replies_and_the_players_line() -> None:
    ctx = make_ctx(history_len=12)
    earlier = earlier_texts(ctx)
    assert {"opening", "first message"} <= earlier.keys()
    assert sum(k.startswith("reply") for k in earlier) == 4
    assert earlier["player's line"] == ctx.player_text


async def test_a_reply_that_parrots_the_players_line_is_asked_for_again() -> None:
    """Seen on SmolLM2: "Deal. Which boxes, and where do they go?" → "Where do they go?"."""
    ctx = small_ctx()
    ctx.player_text = "Deal. Which boxes, and where do they go?"
    good = "The three by the door. They go up to the flat, mind the stairs."
    provider = RecordingProvider([reply_json("Where do they go?"), reply_json(good)])
    first = await _first(provider, ctx, "")
    kept = await review_partner(Runner(provider), Inputs(ctx), 0.0, first)  # type: ignore[arg-type]
    assert kept.value is not None and kept.value.dialogue == good
    assert kept.context["quality_gate"]["problem"] == "copies the player's line"  # type: ignore[index]


async def test_a_reply_that_takes_up_a_few_of_the_players_words_is_kept() -> None:
    ctx = small_ctx()
    ctx.player_text = "Deal. Which boxes, and where do they go?"
    reply = "The boxes by the door go upstairs; the cookbooks stay down here with me."
    provider = RecordingProvider([reply_json(reply)])
    first = await _first(provider, ctx, "")
    kept = await review_partner(Runner(provider), Inputs(ctx), 0.0, first)  # type: ignore[arg-type]
    assert len(provider.requests) == 1 and kept.value is not None and kept.value.dialogue == reply


# -- suggestions ------------------------------------------------------------------------


def test_suggestions_drop_echoes_and_duplicates_and_fill_from_the_scenario() -> None:
    ctx = make_ctx()
    ctx.scenario.suggestions = ["Ask which ledgers burned first.", "Offer to sort the manifests."]
    raw = [
        {"text": "Which ledgers survived?", "intent": "echo"},  # the player's own line
        {"text": "Ask her what she is hiding.", "intent": "x"},  # harmless: not in the prompt
        {"text": "Ask her what she is hiding!", "intent": "x"},  # a duplicate
        {"text": "The second", "intent": "x"},  # too short to be a move
    ]
    usable, from_model = usable_suggestions(raw, ctx, "Hm.")
    texts = [s["text"] for s in usable]
    assert from_model == 1 and texts[0] == "Ask her what she is hiding."
    assert "Which ledgers survived?" not in texts and len(texts) >= 2
    assert set(texts[1:]) <= set(ctx.scenario.suggestions) | set(GENERIC_SUGGESTIONS)
    assert len({t.lower() for t in texts}) == len(texts)


def test_a_bare_title_name_or_place_is_not_a_suggestion() -> None:
    ctx = make_ctx()
    s = ctx.scenario
    raw = [
        {"text": s.title, "intent": "You'll be the insurance man"},  # seen on SmolLM2
        {"text": f"{s.partner.name}.", "intent": "x"},
        {"text": s.setting.start_location.title(), "intent": "x"},
        {"text": "Ask her about the burned ledgers.", "intent": "x"},
    ]
    usable, from_model = usable_suggestions(raw, ctx, "Hm.")
    texts = [u["text"] for u in usable]
    assert from_model == 1 and texts[0] == "Ask her about the burned ledgers."
    assert s.title not in texts and f"{s.partner.name}." not in texts


def test_a_failed_strategist_still_leaves_two_suggestions() -> None:
    usable, from_model = usable_suggestions([], make_ctx(), "")
    assert from_model == 0 and len(usable) >= 2


def test_scenario_suggestions_are_validated(tmp_path: Any) -> None:
    from qualia_cli.paths import bundled_scenarios_dir
    from qualia_cli.scenario import load_scenario
    from qualia_cli.scenario.errors import ScenarioError

    text = (bundled_scenarios_dir() / "second_shelf.yaml").read_text()
    good = tmp_path / "good.yaml"
    good.write_text(text + "\nsuggestions: [Offer to carry the cookbooks.]\n")
    assert load_scenario(good).suggestions == ["Offer to carry the cookbooks."]
    bad = tmp_path / "bad.yaml"
    bad.write_text(text + "\nsuggestions: ['" + "x" * 90 + "']\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(bad)
    assert "bad.yaml:" in str(err.value) and "suggestions" in str(err.value)


def _msg(i: int, sender: str, content: dict[str, Any]) -> Message:
    return Message(
        id=i,
        session_id="s",
        parent_id=None,
        turn_id=None,
        sender=sender,
        content=content,
        created_at="",
        processing_time_ms=None,
        model=None,
        image_prompt=None,
        partner_state_snapshot=None,
        prompt_tokens=0,
        completion_tokens=0,
    )


def test_opening_narration_and_first_message_become_turns() -> None:
    ctx = small_ctx()
    ctx.history = [
        _msg(1, "narrator", {"text": "Rain drums on the windows."}),
        _msg(2, "partner", {"dialogue": "You'll be the insurance man."}),
    ]
    messages = [
        m
        for i, m in enumerate(prompt_messages(Partner, ctx, None, 2000))
        if i == 0 or m["role"] != "system"
    ]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[1]["content"] == "(Rain drums on the windows.)"
    assert messages[2]["content"] == "You'll be the insurance man."


def test_partner_reply_accepts_a_reaction() -> None:
    reply = PartnerReply.model_validate({"dialogue": "Hm.", "reaction": "warms"})
    assert reply.reaction == "warms" and reply.stat_deltas == {}


# -- eval metrics -----------------------------------------------------------------------


def test_eval_metrics_count_copies_junk_and_usable_suggestions() -> None:
    from qualia_cli.headless.eval.metrics import model_set_metrics
    from qualia_cli.paths import bundled_scenarios_dir

    path = bundled_scenarios_dir() / "second_shelf.yaml"
    first_message = make_ctx().scenario.first_message  # another scenario's: not a copy here
    from qualia_cli.scenario import load_scenario

    own = load_scenario(path).first_message

    def turn(reply: str, suggestions: list[str], gate: bool = False) -> dict[str, Any]:
        partner = {"agent": "partner", "model": "local/smollm2", "ok": True, "latency_ms": 9.0}
        if gate:
            partner["context"] = {"quality_gate": {"kept": "second"}}
        director = {"agent": "director", "model": "rules", "ok": True, "latency_ms": 0.0}
        return {
            "ok": True,
            "reply": reply,
            "player_text": "Hello there, Juniper.",
            "suggestions": [{"text": s} for s in suggestions],
            "agents": [director, partner],
            "wall_ms": 1000.0,
            "state_before": {"stats": {"trust": 1}},
            "state_after": {"stats": {"trust": 1}},
        }

    cell = {
        "cell": {"model_set": "m", "id": "c1"},
        "status": "ok",
        "scenario_path": str(path),
        "turns": [
            turn(own, ["Hello there, Juniper.", "Offer to carry the boxes."]),  # copy; 1 echo
            turn("][", ["Ask about the cookbooks.", "Offer to carry the boxes."]),  # junk
            turn("The boxes go by the window, thanks!", ["Ask about her day.", "Wave."], True),
            turn(first_message, ["Ask about her day.", "Look at the shelves."]),
            turn("Hello there, Juniper.", ["Ask about her day.", "Look at the shelves."]),  # parrot
        ],
    }
    m = model_set_metrics("m", [cell])
    assert m["copy_rate"] == 0.4 and m["junk_rate"] == 0.2
    assert m["regenerated_rate"] == 0.2
    assert m["suggestions_per_turn"] == 2.0 and m["good_suggestions_rate"] == 0.8
    assert m["first_try_valid_rate"] == 1.0  # the rules' director is no model call
    assert m["turn_p50_ms"] == 1000.0


def test_suggestions_that_copy_the_story_or_speak_as_her_are_dropped() -> None:
    ctx = make_ctx()
    first = ctx.scenario.first_message
    raw = [
        {"text": first[:60], "intent": "x"},  # her first message, copied
        {"text": "Maren Voss: come in out of the rain", "intent": "x"},  # a line of the story
        {"text": "1. You are the Strategist. Your story is a dream.", "intent": "x"},  # prompt
        {"text": "Ask which ledger burned first.", "intent": "curious"},
    ]
    usable, from_model = usable_suggestions(raw, ctx, "The east wing ledgers survived.")
    assert from_model == 1 and usable[0]["text"] == "Ask which ledger burned first."


# -- a whole turn on the small profile (scripted model) ---------------------------------


async def test_a_small_profile_turn_asks_only_partner_and_strategist() -> None:
    from fakes import ScriptedProvider

    from qualia_cli.config import load_settings
    from qualia_cli.engine import Engine
    from qualia_cli.engine.turn.summary import TurnSummary
    from qualia_cli.llm.router import ModelRouter

    first_message = ""
    partner_calls: list[Request] = []

    def partner(request: Request) -> str:
        partner_calls.append(request)
        if len(partner_calls) == 1:  # the first try copies her first message
            return reply_json(first_message, "neutral")
        lines = ["", "Mm. The rain keeps the visitors away.", "The east wing ledgers survived."]
        return reply_json(lines[len(partner_calls) - 1], "opens up")

    provider = ScriptedProvider(answers={"partner": partner})
    settings = load_settings(models={"default": "fake/model"}, profile="small")
    router = ModelRouter(settings)
    router.register("fake", provider)
    engine = Engine(settings, router=router)
    try:
        s = engine.new_session("fogbound_archive")
        first_message = s.scenario.first_message
        summaries = []
        for text in ("Good evening.", "Which ledgers survived?"):
            summary = TurnSummary()
            async for event in engine.open_session(s.id).turn(text):
                summary.add(event)
            assert summary.ok, summary.failure
            summaries.append(summary)
        asked = {r.agent for r in provider.requests}
        assert "director" not in asked and "visual" not in asked
        assert {"partner", "strategist"} <= asked
        assert summary.deltas == {"trust": 2, "affection": 1, "clues": 1}  # "opens up"
        assert summary.visual is not None and "copper hair" in summary.visual["prompt"]
        last = partner_calls[-1]
        assert "reaction" in (last.schema or {})["properties"]
        roles = [m["role"] for m in last.messages]
        assert roles.count("assistant") >= 2  # her first line and her first reply
        by_agent = {a["agent"]: a for a in summary.agents}
        assert by_agent["director"]["model"] == "rules" and by_agent["visual"]["model"] == "rules"
        # turn 1: the copy of her first message was regenerated and the new reply kept
        assert summaries[0].reply.startswith("Mm.")
        partner_trace = {a["agent"]: a for a in summaries[0].agents}["partner"]
        gate = partner_trace["context"]["quality_gate"]
        assert gate["kept"] == "second" and gate["problem"] == "copies the first message"
        assert len(partner_calls) == 3  # two on turn 1, one on turn 2
    finally:
        await engine.aclose()


def test_small_partner_prompt_stays_within_its_budget_as_chat_turns() -> None:
    from qualia_cli.llm.tokens import ESTIMATE

    ctx = small_ctx(history_len=40)
    built = build_prompt(Partner, ctx, None, 700)
    assert built.trace.total == ESTIMATE.count_messages(built.messages) <= 700
    assert built.messages[-1]["content"].endswith("Which ledgers survived?")
    assert built.messages[1]["role"] in ("user", "system")


def test_a_reply_cut_mid_sentence_ends_on_its_last_whole_sentence() -> None:
    from qualia_cli.agents.quality import complete_sentences

    cut = "We don't care about money. We just want to protect the land, and\n we"
    assert complete_sentences(cut) == "We don't care about money."
    assert complete_sentences('She said "Go." Then') == 'She said "Go."'
    assert complete_sentences("Whole. Sentences!") == "Whole. Sentences!"
    assert complete_sentences("no full stop at all") == "no full stop at all"
    assert complete_sentences("") == ""


def test_threads_follow_the_load_when_the_model_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    from qualia_cli.llm import local

    monkeypatch.setattr(local.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(local.os, "getloadavg", lambda: (0.2, 0.5, 1.0))
    assert local.default_threads() == 2  # idle: both cores
    monkeypatch.setattr(local.os, "getloadavg", lambda: (0.9, 0.5, 1.0))
    assert local.default_threads() == 2  # a decaying load average still counts as idle
    monkeypatch.setattr(local.os, "getloadavg", lambda: (3.9, 3.0, 2.0))
    assert local.default_threads() == 1  # busy: a second thread collapses decoding
    monkeypatch.setattr(local.os, "cpu_count", lambda: 1)
    assert local.default_threads() == 1


def test_a_suggestion_reciting_the_lore_is_not_a_move() -> None:
    """Seen on SmolLM2 in fogbound_archive: the Strategist copied a lore entry, cut at 70
    characters, and offered it as the player's next line."""
    ctx = make_ctx()
    entry = ctx.scenario.lorebook.entries[0].content
    recited = " ".join(entry.split()[:10])
    raw = [
        {"text": recited, "intent": "x"},
        {"text": "Ask her who else had a key.", "intent": "probe"},
    ]
    usable, from_model = usable_suggestions(raw, ctx, "Hm.")
    texts = [u["text"] for u in usable]
    assert from_model == 1 and texts[0] == "Ask her who else had a key."
    assert recited not in texts


def test_a_short_move_sharing_a_few_words_with_the_lore_is_kept() -> None:
    ctx = make_ctx()
    few = " ".join(ctx.scenario.lorebook.entries[0].content.split()[:4])
    usable, from_model = usable_suggestions([{"text": few, "intent": "x"}], ctx, "Hm.")
    assert from_model == 1 and usable[0]["text"] == few


@pytest.mark.parametrize(
    ("intent", "shown"),
    [
        ("probe", "probe"),
        ("  comfort   her ", "comfort her"),
        (", but also with the town on it", ""),
        ("You'll be the insurance man", ""),
        ('{"intent": 1}', ""),
    ],
)
def test_an_intent_is_a_short_label_or_nothing(intent: str, shown: str) -> None:
    usable, _ = usable_suggestions(
        [{"text": "Ask her who else had a key.", "intent": intent}], make_ctx(), "Hm."
    )
    assert usable[0]["intent"] == shown


@pytest.mark.parametrize(
    ("reaction", "mood", "deltas"),
    [
        ("annoyed", "affectionate", {"trust": 0, "affection": 0, "clues": 0}),  # seen on SmolLM2
        ("warms", "angry", {"trust": 0, "affection": 0, "clues": 0}),
        ("annoyed", "annoyed", {"trust": -1, "affection": -1, "clues": 0}),
        (
            "warms",
            "thoughtful",
            {"trust": 1, "affection": 2, "clues": 0},
        ),  # says nothing either way
    ],
)
async def test_a_reaction_her_mood_contradicts_moves_no_stat(
    reaction: str, mood: str, deltas: dict[str, int]
) -> None:
    ctx = small_ctx()
    provider = RecordingProvider(
        [reply_json("Which ledger? The red ones survived.", reaction, mood)]
    )
    first = await _first(provider, ctx, "")
    kept = await review_partner(Runner(provider), Inputs(ctx), 0.0, first)  # type: ignore[arg-type]
    assert kept.value is not None and kept.value.stat_deltas == deltas
    dropped = (kept.context or {}).get("reaction_dropped")
    assert dropped == (f"{reaction} while {mood}" if not any(deltas.values()) else None)


@pytest.mark.parametrize(
    "text",
    ["The Chocolate Factory", "Aunti & Co., The Second Shelf", "The Coffee House."],
)
def test_a_name_in_title_case_is_not_a_move(text: str) -> None:
    raw = [{"text": text, "intent": "x"}, {"text": "Ask her who else had a key.", "intent": "x"}]
    usable, from_model = usable_suggestions(raw, make_ctx(), "Hm.")
    assert from_model == 1 and usable[0]["text"] == "Ask her who else had a key."


@pytest.mark.parametrize(
    "text", ["Ask Maren about Aldous Crane.", "Where Is The Ledger?", "Open the Red Ledger"]
)
def test_a_move_that_names_things_is_kept(text: str) -> None:
    usable, from_model = usable_suggestions([{"text": text, "intent": "x"}], make_ctx(), "Hm.")
    assert from_model == 1 and usable[0]["text"] == text


def test_a_suggestion_cut_at_its_length_limit_keeps_its_whole_sentence() -> None:
    cut = "Ask her who else had a key. Then ask where she was on the night of"
    usable, from_model = usable_suggestions([{"text": cut, "intent": "x"}], make_ctx(), "Hm.")
    assert from_model == 1 and usable[0]["text"] == "Ask her who else had a key."
