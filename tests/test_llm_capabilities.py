"""Model capabilities: the OpenRouter list, config overrides, what servers taught us, budgets
from the window, reasoning kept apart, and `qualia models` / `qualia doctor` showing it all.

OpenRouter's model list fields: https://openrouter.ai/docs/api-reference/list-available-models
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from support.cli import qualia
from support.provider_standins import StandIn, openrouter, openrouter_model

from qualia_cli.config import ModelOverride, load_settings
from qualia_cli.llm.capabilities import (
    LEARNED_FILE,
    CapabilityRegistry,
    caps_from_openrouter,
    save_catalog,
)
from qualia_cli.llm.reasoning import ThinkFilter, split_reasoning
from qualia_cli.llm.router import ModelRouter
from qualia_cli.paths import get_paths

KEY = "sk-or-v1-canary-aa00bb11cc22dd33ee44"


def test_openrouter_entry_to_caps() -> None:
    entry = openrouter_model(
        "deepseek/deepseek-r1",
        context=163840,
        prompt="0.0000004",
        completion="0.000002",
        params=("max_tokens", "reasoning", "response_format"),
    )
    caps = caps_from_openrouter(entry)
    assert caps.known and caps.context_length == 163840
    assert caps.price_per_million() == (0.4, 2.0)
    assert caps.modes == ["json_object", "prompt"] and caps.reasoning
    assert caps.cost(1000, 100) == pytest.approx(1000 * 4e-7 + 100 * 2e-6)
    variable = caps_from_openrouter({"id": "openrouter/auto", "pricing": {"prompt": "-1"}})
    assert variable.prompt_price is None and variable.cost(10, 10) is None


def test_overrides_and_learned_refusals_persist() -> None:
    save_catalog([openrouter_model("a/b")])
    reg = CapabilityRegistry({"openrouter/a/b": ModelOverride(structured_output="prompt")})
    assert reg.caps("openrouter/a/b").modes == ["prompt"]
    assert reg.caps("openrouter/a/b").source == "config"
    reg.learn("vllm/m", json_schema=False)
    again = CapabilityRegistry()  # the next run reads what was learned
    assert again.caps("vllm/m").best_mode == "json_object"
    path = get_paths().cache_dir / LEARNED_FILE
    learned = json.loads(path.read_text())
    assert learned["vllm/m"]["json_schema"] is False
    # a week later the server may have been upgraded: ask again
    learned["vllm/m"]["learned_at"] -= 8 * 24 * 3600
    path.write_text(json.dumps(learned))
    assert CapabilityRegistry().caps("vllm/m").best_mode == "json_schema"
    priced = CapabilityRegistry(
        {"ollama/x": ModelOverride(context_length=8192, prompt_usd_per_m=1, completion_usd_per_m=2)}
    ).caps("ollama/x")
    assert priced.context_length == 8192 and priced.cost(10**6, 0) == pytest.approx(1.0)


def test_context_budget_is_a_share_of_the_window_unless_configured() -> None:
    settings = load_settings()
    # the embedded model's window is its per-slot share of n_ctx
    router = ModelRouter(settings)
    slot = settings.local.n_ctx // settings.local.n_parallel
    assert router.context_window("local/smollm2") == slot == 3072
    assert settings.context_tokens("partner", 4096) == 2000
    assert settings.context_tokens("partner", None) == 2000  # unknown window: the default
    assert settings.context_tokens("partner", 2048) == 1000
    assert settings.context_tokens("partner", 128_000) == 16000  # capped at a 32k window
    assert settings.context_tokens("partner", 500) == 500 - 260  # leaves room to answer
    fixed = load_settings(agents={"partner": {"context_tokens": 2500, "max_tokens": 200}})
    assert fixed.context_tokens("partner", 128_000) == 2500  # config wins
    assert fixed.context_tokens("director", 4096) == 1600  # others keep their defaults


@pytest.mark.parametrize("size", [1, 3, 7, 50])
def test_think_filter_handles_tags_split_across_chunks(size: int) -> None:
    text = 'pre <think>plan: be warm</think>{"a": "<b>"} <thinking>x</thinking>end'
    f = ThinkFilter()
    shown = "".join(f.feed(text[i : i + size]) for i in range(0, len(text), size)) + f.finish()
    assert shown == 'pre {"a": "<b>"} end'
    assert f.reasoning == "plan: be warmx"


def test_split_reasoning_forms() -> None:
    assert split_reasoning('<think>hmm</think>\n{"a": 1}') == ('{"a": 1}', "hmm")
    # a template that opened the block in the prompt: only the closing tag shows
    assert split_reasoning('hmm, ok</think>{"a": 1}') == ('{"a": 1}', "hmm, ok")
    assert split_reasoning('{"a": "no thoughts"}') == ('{"a": "no thoughts"}', "")
    assert split_reasoning("<think>cut off before answering") == ("", "cut off before answering")


def test_migration_adds_reasoning_to_a_new_and_an_old_database(tmp_path: Path) -> None:
    from sqlite_utils import Database

    from qualia_cli.store import Store
    from qualia_cli.store.migrations import migrations

    fresh = tmp_path / "new.db"
    Store(fresh)
    cols = {r[1] for r in sqlite3.connect(fresh).execute("PRAGMA table_info(agent_calls)")}
    assert {"reasoning", "output_mode"} <= cols
    old = tmp_path / "old.db"
    db = Database(old)
    migrations.apply(db, stop_before="m005_issue16_reasoning")
    before = {r[1] for r in sqlite3.connect(old).execute("PRAGMA table_info(agent_calls)")}
    assert "reasoning" not in before
    Store(old)
    after = {r[1] for r in sqlite3.connect(old).execute("PRAGMA table_info(agent_calls)")}
    assert {"reasoning", "output_mode"} <= after


# -- the commands (child processes) -------------------------------------------------------


def _config(server: StandIn, home: Path, partner: str, default: str = "or/vendor/model") -> None:
    cfg = home / "config"
    cfg.mkdir(parents=True, exist_ok=True)
    (cfg / "config.yaml").write_text(
        f"models:\n  default: {default}\n  partner: {partner}\n"
        f"endpoints:\n  or:\n    base_url: {server.base_url}\n"
        "    api_key_env: OR_KEY\n    kind: openrouter\n"
    )


def test_models_available_and_capabilities_columns(qualia_home: Path) -> None:
    models = [
        openrouter_model("vendor/model"),
        openrouter_model("tiny/jsonish", context=8192, params=("response_format",)),
    ]
    env = {"OR_KEY": KEY, "COLUMNS": "160"}
    with StandIn(openrouter(models=models)) as server:
        _config(server, qualia_home, partner="or/nobody/knows")
        out = qualia("models", "--available", "--provider", "or", "--refresh", "--json", env=env)
        assert out.returncode == 0, out.stderr
        listing = json.loads(out.stdout)
        by_name = {m["name"]: m for m in listing["models"]}
        assert by_name["or/tiny/jsonish"]["modes"] == ["json_object", "prompt"]
        assert by_name["or/vendor/model"]["prompt_usd_per_m"] == 0.15
        assert not listing["stale"]
    # the server is gone: the cache still answers
    rows = json.loads(qualia("models", "--json", env=env).stdout)
    director = next(r for r in rows if r["agent"] == "director")
    assert director["model"] == "or/vendor/model"
    assert director["capabilities"]["context_length"] == 131072
    assert director["context_tokens"] == 12800  # 1600 at 4k, scaled to a (capped) 32k window
    table = qualia("models", env=env).stdout
    assert "unknown to the cache" in table and "0.15 · 0.6" in table and KEY not in table
    offline = qualia("models", "--available", "--provider", "or", "--refresh", env=env)
    assert offline.returncode == 0 and "cannot fetch the model list" in offline.stderr


def test_models_available_without_cache_or_network_is_one_line(qualia_home: Path) -> None:
    with StandIn(openrouter()) as server:
        _config(server, qualia_home, partner="or/vendor/model")
    out = qualia("models", "--available", "--provider", "or", "--refresh", env={"OR_KEY": KEY})
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "no cached copy" in out.stderr
    assert "Traceback" not in out.stderr


def test_doctor_says_what_each_agent_loses(qualia_home: Path) -> None:
    json_only = openrouter_model("j/o", params=("response_format",))
    models = [openrouter_model("vendor/model"), json_only]
    with StandIn(openrouter(models=models, reasoning=None), api_key=KEY) as server:
        _config(server, qualia_home, partner="or/j/o")
        out = qualia("doctor", "--json", env={"OR_KEY": KEY})
    assert out.returncode == 0, out.stdout + out.stderr
    checks = {c["check"]: c for c in json.loads(out.stdout)}
    partner = checks["agent partner"]
    assert "json_object" in partner["detail"]
    assert any("without schema" in d for d in partner["degrades"])
    assert checks["agent director"]["degrades"] == []
    assert "nothing degrades" in checks["agent director"]["detail"]
