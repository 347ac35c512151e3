"""Workflows as SillyTavern users write them (avatar uploads, custom find/replace placeholders),
a configured workflow that cannot load, and validation that lists every problem in one pass."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from support.comfy_stub import ComfyStub, shared_comfyui
from support.engine import Engines

from qualia_cli.engine import Engine
from qualia_cli.engine import events as ev
from qualia_cli.images.errors import WorkflowError
from qualia_cli.images.workflows import load_workflow
from qualia_cli.paths import get_paths

ROOT = Path(__file__).resolve().parent.parent
TINY = "tiny_random_sd15.safetensors"
SIDECAR = f"""name: img2img from an avatar
defaults:
  model: {TINY}
  denoise: 0.6
placeholders:
  - find: "%style%"
    replace: watercolor, soft light
  - find: lora_strength
    replace: 0.8
"""


def avatar_graph(avatar: str = "%char_avatar%") -> dict[str, Any]:
    """sd15_txt2img turned into SillyTavern's img2img-from-avatar shape."""
    graph = json.loads((ROOT / "workflows" / "sd15_txt2img.json").read_text())
    graph["11"] = {"class_type": "LoadImage", "inputs": {"image": avatar}}
    graph["5"] = {"class_type": "VAEEncode", "inputs": {"pixels": ["11", 0], "vae": ["4", 2]}}
    graph["6"]["inputs"]["text"] = "%prompt%, %style%"
    return graph


def write_workflow(name: str, graph: dict[str, Any], sidecar: str = SIDECAR) -> Path:
    folder = get_paths().workflows_dir
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(graph, indent=2))
    (folder / f"{name}.yaml").write_text(sidecar)
    return folder / f"{name}.json"


async def opening_events(engine: Engine, scenario: str) -> list[ev.Event]:
    session = engine.new_session(scenario)
    return [e async for e in engine.pictures.follow("opening", session.id)]


def test_custom_placeholders_from_the_sidecar_are_replaced() -> None:
    write_workflow("avatar", avatar_graph())
    wf = load_workflow("avatar")
    values = wf.values() | {"prompt": "a cat", "negative_prompt": "", "seed": 1}
    graph = wf.resolve(values | {"char_avatar": "qualia/x.png"})
    assert graph["6"]["inputs"]["text"] == "a cat, watercolor, soft light"
    assert graph["11"]["inputs"]["image"] == "qualia/x.png"
    assert wf.values()["lora_strength"] == 0.8  # keeps the type it was given


def test_an_undefined_custom_placeholder_is_refused_with_a_hint() -> None:
    write_workflow("avatar", avatar_graph(), sidecar=f"defaults:\n  model: {TINY}\n  look: x\n")
    with pytest.raises(WorkflowError) as err:
        load_workflow("avatar")
    lines = err.value.lines()
    assert len(lines) == 2  # the sidecar's unknown default and the graph's unknown placeholder
    assert (
        "defaults.look: unknown placeholder (your own placeholders go under placeholders:"
        in lines[0]
    )
    assert "unknown placeholder %style%" in lines[1]


async def test_an_avatar_workflow_uploads_the_partners_portrait(
    engines: Engines, tmp_path: Path
) -> None:
    scenario = tmp_path / "fog.yaml"
    shutil.copy(ROOT / "scenarios" / "fogbound_archive.yaml", scenario)
    portrait = (shared_comfyui() / "captures" / "view_basic.png").read_bytes()
    scenario.with_suffix(".png").write_bytes(portrait)
    write_workflow("avatar", avatar_graph())
    with ComfyStub(delay_s=0.02) as stub:
        engine = engines(comfyui_url=stub.url, workflow="avatar")
        events = await opening_events(engine, str(scenario))
        await engine.aclose()
    assert isinstance(events[-1], ev.ImageReady), events[-1]
    (name,) = stub.uploads
    assert stub.uploads[name] == portrait and name[0] == "qualia"
    sent = stub.submitted[0]
    assert sent["11"]["inputs"]["image"] == f"qualia/{name[1]}"
    assert sent["6"]["inputs"]["text"].endswith(", watercolor, soft light")


async def test_user_avatar_without_config_is_an_image_failed_event(engines: Engines) -> None:
    write_workflow("me", avatar_graph("%user_avatar%"))
    with ComfyStub(delay_s=0.02) as stub:
        engine = engines(comfyui_url=stub.url, workflow="me")
        events = await opening_events(engine, "fogbound_archive")
        await engine.aclose()
    assert [e.type for e in events] == ["image_failed"]
    assert "set images.user_avatar in config.yaml" in events[0].message  # type: ignore[attr-defined]
    assert stub.submitted == []


async def test_a_configured_workflow_that_cannot_load_is_an_image_failed_event(
    engines: Engines,
) -> None:
    engine = engines(comfyui_url="http://127.0.0.1:9", workflow="sd15_txt2imgg")
    queue = engine.pictures.subscribe()
    events = await opening_events(engine, "fogbound_archive")
    assert [e.type for e in events] == ["image_failed"]
    failed = events[0]
    assert isinstance(failed, ev.ImageFailed) and failed.code == "workflow"
    assert "workflow 'sd15_txt2imgg' not found; did you mean 'sd15_txt2img'?" in failed.message
    assert queue.get_nowait() is failed  # the TUI's image pane hears it too


async def test_doctor_checks_the_configured_workflow_even_with_the_server_down(
    engines: Engines,
) -> None:
    write_workflow("broken", avatar_graph(), sidecar="defaults:\n  modle: x\n")
    engine = engines(comfyui_url="http://127.0.0.1:9", workflow="broken")
    row = await engine.pictures.check()
    assert row["ok"] is False
    assert "defaults.modle: unknown placeholder; did you mean 'model'?" in row["detail"]


async def test_validation_lists_every_problem_in_one_pass(engines: Engines) -> None:
    graph = json.loads((ROOT / "workflows" / "sd15_txt2img.json").read_text())
    graph["99"] = {"class_type": "NoSuchNode", "inputs": {}}
    graph["3"]["inputs"]["steps"] = 100000
    path = write_workflow("several", graph, sidecar="name: several\n")
    engine = engines()
    check = await engine.pictures.validate_workflow(
        str(path), object_info=shared_comfyui() / "object_info.json"
    )
    messages = [p.message for p in check.problems]
    assert any("%model% has no value" in m for m in messages)
    assert any("node class 'NoSuchNode' is not installed" in m for m in messages)
    assert any("steps 100000 is above the maximum" in m for m in messages)
    assert not any("'%model%'" in m for m in messages)  # not reported twice
