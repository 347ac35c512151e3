"""`qualia new/say` with pictures and `qualia images list|preview|batch|reroll`, as run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.cli import qualia
from support.comfy_stub import ComfyStub
from support.openai_stub import StubServer

TINY = "tiny_random_sd15.safetensors"


@pytest.fixture
def model_env() -> Iterator[dict[str, str]]:
    """A real HTTP model (the OpenAI-compatible stub) for every agent."""
    with StubServer(delay_s=0.0) as stub:
        yield {
            "QUALIA_MODELS__DEFAULT": "stub/m",
            "QUALIA_ENDPOINTS": json.dumps({"stub": {"base_url": stub.base_url}}),
        }


def new_session(env: dict[str, str], *extra: str) -> tuple[str, dict]:
    out = qualia("new", "fogbound_archive", "--json", *extra, env=env)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    return data["session"]["id"], data


def test_without_comfyui_a_turn_gets_a_sketch(model_env: dict[str, str], qualia_home: Path) -> None:
    session_id, created = new_session(model_env)
    assert created["images"][0]["type"] == "image_ready"  # the opening
    events = qualia_home / "turn.jsonl"
    out = qualia("say", session_id, "Hello", "--json", "--events", str(events), env=model_env)
    assert out.returncode == 0, out.stderr
    turn = json.loads(out.stdout)
    image = turn["image"]
    assert image["status"] == "ready" and image["backend"] == "sketch"
    path = Path(image["path"])
    assert path.is_file() and path.is_relative_to(qualia_home / "data" / "images")
    types = [json.loads(line)["type"] for line in events.read_text().splitlines()]
    assert types.index("turn_committed") < types.index("image_queued") < types.index("image_ready")
    plain = qualia("say", session_id, "And the lamp?", env=model_env)
    assert plain.returncode == 0, plain.stderr
    assert "picture: " in plain.stdout and ".webp" in plain.stdout
    listed = json.loads(qualia("images", "list", session_id, "--json").stdout)
    assert [r["status"] for r in listed] == ["ready", "ready", "ready"]
    assert listed[1]["path"] == image["path"] and listed[1]["seed"] == image["seed"]


def test_say_with_no_images_draws_nothing(model_env: dict[str, str]) -> None:
    session_id, created = new_session(model_env, "--no-images")
    assert created["images"] == []
    out = qualia("say", session_id, "Hello", "--json", "--no-images", env=model_env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["image"] is None
    assert json.loads(qualia("images", "list", session_id, "--json").stdout) == []


def test_with_comfyui_the_turn_uses_the_workflow(model_env: dict[str, str]) -> None:
    with ComfyStub(delay_s=0.1) as comfy:
        env = {
            **model_env,
            "QUALIA_COMFYUI_URL": comfy.url,
            "QUALIA_IMAGES__WORKFLOW": "sd15_txt2img",
            "QUALIA_IMAGES__MODEL": TINY,
            "QUALIA_IMAGES__FORMAT": "png",
        }
        session_id, _ = new_session(env)
        out = qualia("say", session_id, "Hello", "--json", env=env)
        submitted = len(comfy.submitted)
    assert out.returncode == 0, out.stderr
    image = json.loads(out.stdout)["image"]
    assert image["backend"] == "comfyui" and image["path"].endswith(".png")
    assert submitted == 2  # the opening and this turn
    row = json.loads(qualia("images", "list", session_id, "--json").stdout)[-1]
    assert row["server"] == comfy.url and row["workflow"] == "sd15_txt2img"


def test_a_broken_image_server_leaves_the_turn_intact(model_env: dict[str, str]) -> None:
    with ComfyStub() as comfy:
        env = {
            **model_env,
            "QUALIA_COMFYUI_URL": comfy.url,
            "QUALIA_IMAGES__MODEL": "x.safetensors",
        }
        session_id, _ = new_session(env)
        out = qualia("say", session_id, "Hello", env=env)
    assert out.returncode == 0
    assert (
        "picture unavailable: node 4 CheckpointLoaderSimple: ckpt_name 'x.safetensors'"
        in out.stderr
    )


def test_preview_a_file_or_a_session(model_env: dict[str, str]) -> None:
    session_id, created = new_session(model_env)
    out = qualia("images", "preview", session_id, "--width", "20")
    assert out.returncode == 0, out.stderr
    assert created["images"][0]["path"] in out.stdout
    assert "▀" in out.stdout  # half-blocks when the output is not a graphics terminal
    missing = qualia("images", "preview", "nope")
    assert missing.returncode == 2 and "no session id starts with 'nope'" in missing.stderr


def test_batch_over_two_servers_resumes_and_dry_runs(model_env: dict[str, str]) -> None:
    session_id, _ = new_session(model_env, "--no-images")
    for text in ("Hello", "Tell me about the lamp."):
        assert qualia("say", session_id, text, "--no-images", env=model_env).returncode == 0
    with ComfyStub(delay_s=0.1) as one, ComfyStub(delay_s=0.1) as two:
        env = {"QUALIA_IMAGES__WORKFLOW": "sd15_txt2img", "QUALIA_IMAGES__MODEL": TINY}
        servers = ["--server", one.url, "--server", two.url]
        dry = qualia("images", "batch", session_id, *servers, "--dry-run", "--json", env=env)
        assert dry.returncode == 0, dry.stderr
        plan = json.loads(dry.stdout)
        assert (
            plan[0]["label"] == "opening"
            and plan[0]["resolved"]["4"]["inputs"]["ckpt_name"] == TINY
        )
        assert one.submitted == [] and two.submitted == []

        out = qualia("images", "batch", session_id, *servers, "--variants", "2", "--json", env=env)
        assert out.returncode == 0, out.stderr
        result = json.loads(out.stdout)
        made = len(one.submitted) + len(two.submitted)
        assert result["counts"] == {"done": len(plan) * 2} and made == len(plan) * 2
        assert one.submitted and two.submitted  # both servers were used
        again = qualia(
            "images", "batch", session_id, *servers, "--variants", "2", "--json", env=env
        )
        assert json.loads(again.stdout)["counts"] == {"skipped": len(plan) * 2}
        assert len(one.submitted) + len(two.submitted) == made  # the second run submitted nothing
        table = qualia("images", "batch", session_id, *servers, env=env)
    assert table.returncode == 0
    assert "skipped" in table.stdout and "servers" in table.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process")
def test_an_interrupted_batch_resumes_where_it_stopped() -> None:
    import signal
    import time

    with ComfyStub(delay_s=0.3) as one, ComfyStub(delay_s=0.3) as two:
        env = {
            **os.environ,
            "QUALIA_IMAGES__WORKFLOW": "sd15_txt2img",
            "QUALIA_IMAGES__MODEL": TINY,
        }
        args = [sys.executable, "-m", "qualia_cli", "images", "batch"]
        args += ["scenarios/fogbound_archive.yaml", "--server", one.url, "--server", two.url]
        args += ["--variants", "4", "--concurrency", "1"]
        child = subprocess.Popen(args, env=env, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while len(one.submitted) + len(two.submitted) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)  # a few images are under way
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=120)
        assert child.returncode == 130
        assert "Traceback" not in err
        line = next(x for x in err.splitlines() if x.startswith("interrupted:"))
        saved, total = (int(w) for w in line.split()[1:4:2])
        assert total > 0 and saved < total

        again = subprocess.run([*args, "--json"], env=env, capture_output=True, text=True)
        assert again.returncode == 0, again.stderr
        counts = json.loads(again.stdout)["counts"]
        # what was saved is skipped (an image finishing as ctrl+c lands may be saved too)
        assert counts.get("skipped", 0) >= saved and counts.get("failed", 0) == 0
        assert counts.get("skipped", 0) + counts.get("done", 0) == total


def test_batch_of_a_scenario_file_with_the_sketch_renderer() -> None:
    out = qualia("images", "batch", "scenarios/fogbound_archive.yaml", "--json")
    assert out.returncode == 0, out.stderr
    items = json.loads(out.stdout)["items"]
    assert items[0]["label"] == "opening" and len(items) >= 3
    assert all(i["status"] == "done" and Path(i["path"]).is_file() for i in items)
    assert len({Path(i["path"]).parent for i in items}) == 1


def test_reroll_from_the_command_line(model_env: dict[str, str]) -> None:
    session_id, created = new_session(model_env)
    out = qualia("images", "reroll", session_id, "--json")
    assert out.returncode == 0, out.stderr
    ready = json.loads(out.stdout)
    assert ready["type"] == "image_ready" and ready["path"] != created["images"][0]["path"]
