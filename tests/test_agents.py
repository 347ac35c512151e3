"""Agents: templates checked at load time, tight schemas, prompts within budget."""

from __future__ import annotations

from typing import Any

import pytest

from qualia_cli.agents.context import StoryContext
from qualia_cli.agents.director import Director
from qualia_cli.agents.partner import Partner, PartnerReply
from qualia_cli.agents.strategist import Strategist
from qualia_cli.agents.template import TemplateError, parse_template
from qualia_cli.agents.visual import Visual, VisualPlan, compose_prompt
from qualia_cli.engine.turn.state import apply_deltas, initial_state
from qualia_cli.llm.tokens import estimate_tokens
from qualia_cli.memory.builder import prompt_messages
from qualia_cli.paths import bundled_scenarios_dir
from qualia_cli.scenario import load_scenario
from qualia_cli.store.records import Message

AGENTS = [Director, Partner, Visual, Strategist]


def make_ctx(history_len: int = 0) -> StoryContext:
    scenario = load_scenario(bundled_scenarios_dir() / "fogbound_archive.yaml")
    history = [
        Message(
            id=i,
            session_id="s",
            parent_id=i - 1 or None,
            turn_id=None,
            sender="player" if i % 2 else "partner",
            content={"text": f"line {i} " + "words " * 30} if i % 2 else {"dialogue": f"reply {i}"},
            created_at="",
            processing_time_ms=None,
            model=None,
            image_prompt=None,
            partner_state_snapshot=None,
            prompt_tokens=0,
            completion_tokens=0,
        )
        for i in range(1, history_len + 1)
    ]
    return StoryContext(
        scenario=scenario,
        state=initial_state(scenario),
        world_state={"facts": {}},
        history=history,
        player_text="Which ledgers survived?",
        turn=3,
        pace="medium",
        rating="general",
        extras={"max_stat_delta": 4},
    )


def test_template_rejects_unknown_and_unused_variables() -> None:
    text = "[system]\nHello {{name}}\n[user]\n{{question}}\n"
    parse_template("t", text, frozenset({"name", "question"}))
    with pytest.raises(TemplateError, match="unknown variable question"):
        parse_template("t", text, frozenset({"name"}))
    with pytest.raises(TemplateError, match="never uses extra"):
        parse_template("t", text, frozenset({"name", "question", "extra"}))
    with pytest.raises(TemplateError, match=r"\[system\] and a \[user\]"):
        parse_template("t", "no sections {{name}}", frozenset({"name"}))
    template = parse_template("t", text, frozenset({"name", "question"}))
    with pytest.raises(TemplateError, match="no value for question"):
        template.render({"name": "x"})


@pytest.mark.parametrize("agent", AGENTS, ids=lambda a: a.role)
def test_every_bundled_template_loads_and_renders(agent: Any) -> None:
    messages = prompt_messages(agent, make_ctx(4), None, 2000, dialogue="Hi.", guidance="be kind")
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "{{" not in messages[0]["content"] + messages[1]["content"]


def _walk(schema: dict[str, Any], path: str = "$") -> list[str]:
    """Every string without maxLength/enum and every array without maxItems."""
    loose = []
    t = schema.get("type")
    if t == "string" and "maxLength" not in schema and "enum" not in schema:
        loose.append(path)
    if t == "array":
        if "maxItems" not in schema:
            loose.append(path)
        loose += _walk(schema.get("items", {}), path + "[]")
    if t == "integer" and not {"minimum", "maximum"} <= schema.keys():
        loose.append(path)
    for name, sub in (schema.get("properties") or {}).items():
        loose += _walk(sub, f"{path}.{name}")
    return loose


@pytest.mark.parametrize("agent", AGENTS, ids=lambda a: a.role)
def test_schemas_are_tight(agent: Any) -> None:
    schema = agent.schema(make_ctx())
    assert _walk(schema) == []
    assert schema.get("additionalProperties") is False


def test_partner_schema_names_each_stat_with_a_bounded_delta() -> None:
    props = Partner.schema(make_ctx())["properties"]
    deltas = props["stat_deltas"]
    assert deltas["required"] == ["trust", "affection", "clues"]
    assert deltas["properties"]["trust"] == {"type": "integer", "minimum": -4, "maximum": 4}
    assert "curious" in props["mood"]["enum"]


def test_director_schema_closes_locations_and_endings() -> None:
    props = Director.schema(make_ctx())["properties"]
    assert "basement stacks" in props["location"]["enum"]
    assert props["ending"]["enum"][0] == "none"
    assert "truth_in_the_margins" in props["ending"]["enum"]


def test_budget_below_the_fixed_prompt_keeps_no_history() -> None:
    messages = prompt_messages(Partner, make_ctx(200), None, 100, guidance="x")
    assert "reply" not in messages[1]["content"]
    assert "(earlier story omitted)" in messages[1]["content"]


@pytest.mark.parametrize("budget", [600, 1000, 2000])
def test_history_fills_the_budget_and_no_more(budget: int) -> None:
    ctx = make_ctx(200)
    messages = prompt_messages(Partner, ctx, None, budget, guidance="x")
    used = sum(estimate_tokens(m["content"]) for m in messages)
    assert used <= budget + 8
    assert "reply 200" in messages[1]["content"], "the newest line is always kept"
    assert "line 1 " not in messages[1]["content"], "the oldest lines are dropped first"


def test_remote_overshoot_is_trimmed_not_failed() -> None:
    reply = PartnerReply.model_validate(
        {"dialogue": "word " * 200, "action": "x", "mood": "ecstatic", "stat_deltas": {}}
    )
    assert len(reply.dialogue) <= 240 and reply.mood == "neutral"


def test_visual_prompt_combines_style_appearance_and_scene() -> None:
    ctx = make_ctx()
    plan = VisualPlan(
        generate=True,
        framing="portrait",
        scene_tags=["rainy window", "Copper hair"],
        negative_tags=["blurry", "extra limbs"],
    )
    positive, negative = compose_prompt(plan, ctx, "basement stacks", "night")
    tags = positive.split(", ")
    assert tags[0] == "masterpiece"  # scenario style first
    assert "copper hair" in tags and "Copper hair" not in tags  # deduplicated
    assert tags.index("round glasses") < tags.index("rainy window")
    assert "basement stacks" in tags
    assert negative.split(", ").count("blurry") == 1 and "extra limbs" in negative


def test_deltas_clamped_to_bounds_and_per_turn_maximum() -> None:
    ctx = make_ctx()
    state = ctx.state
    state.stats["clues"] = 2
    new, applied = apply_deltas(
        ctx.scenario,
        state,
        {"trust": 50, "clues": -9, "ghost": 3, "affection": "x"},  # type: ignore[dict-item]
        max_delta=5,
        mood="not-a-mood",
        location="sea wall",
    )
    assert applied == {"trust": 5, "clues": -2}
    assert new.stats == {"trust": 25, "affection": 25, "clues": 0}
    assert new.mood == state.mood and new.location == "sea wall"


def test_agents_describe_their_prompts_without_loading_memory() -> None:
    """Every agent module loads, and an agent describes its prompt (template, values, schema),
    with no `qualia_cli.memory` module loaded: the engine builds prompts (memory/builder.py)."""
    import subprocess
    import sys

    code = (
        "import importlib, pkgutil, sys\n"
        "import qualia_cli.agents as agents\n"
        "for m in pkgutil.iter_modules(agents.__path__):\n"
        "    importlib.import_module(f'qualia_cli.agents.{m.name}')\n"
        "from qualia_cli.agents.context import StoryContext\n"
        "from qualia_cli.agents.partner import Partner\n"
        "from qualia_cli.paths import bundled_scenarios_dir\n"
        "from qualia_cli.scenario import load_scenario\n"
        "from qualia_cli.store.records import PartnerState\n"
        "sc = load_scenario(bundled_scenarios_dir() / 'fogbound_archive.yaml')\n"
        "state = PartnerState(sc.partner.name, {s.name: s.start for s in sc.stats}, 'calm')\n"
        "ctx = StoryContext(sc, state, {}, [], 'Hello', 1, 'medium', 'general')\n"
        "agent = Partner.prompt_agent(ctx)\n"
        "values = {**agent.values(ctx, guidance='go on'), 'memory': '', 'history': ''}\n"
        "assert agent.template().render(values) and agent.schema(ctx)['properties']\n"
        "print(sorted(n for n in sys.modules if n.startswith('qualia_cli.memory')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
