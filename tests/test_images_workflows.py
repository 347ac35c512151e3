"""Workflow templates: loading, placeholder substitution, checks against the real object_info."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.cli import qualia
from support.comfy_stub import object_info, shared_comfyui

from qualia_cli.images.errors import WorkflowError
from qualia_cli.images.validate import check_graph
from qualia_cli.images.workflows import list_workflows, load_workflow

SAMPLE = {"prompt": "a red cube", "negative_prompt": "blurry", "seed": 42}
TINY = "tiny_random_sd15.safetensors"


def write(tmp: Path, name: str, graph: object, sidecar: str | None = None) -> Path:
    path = tmp / f"{name}.json"
    path.write_text(graph if isinstance(graph, str) else json.dumps(graph, indent=2))
    if sidecar is not None:
        (tmp / f"{name}.yaml").write_text(sidecar)
    return path


def test_the_three_shipped_workflows_load_with_their_sidecars() -> None:
    found = {path.stem: wf for path, wf in list_workflows()}
    assert {"sdxl_txt2img", "sdxl_portrait", "sd15_txt2img"} <= set(found)
    for wf in found.values():
        assert not isinstance(wf, Exception), wf
        assert {"prompt", "negative_prompt", "seed", "model"} <= set(wf.uses())
    assert found["sdxl_portrait"].meta.kind == "portrait"
    assert found["sdxl_txt2img"].meta.defaults["model"] == "sd_xl_base_1.0.safetensors"


def test_quoted_placeholders_become_typed_json_values() -> None:
    wf = load_workflow("sd15_txt2img")
    graph = wf.resolve(wf.values({**SAMPLE, "model": TINY, "steps": "7", "seed": "42"}))
    sampler = graph["3"]["inputs"]
    assert sampler["seed"] == 42 and isinstance(sampler["seed"], int)
    assert sampler["steps"] == 7 and isinstance(sampler["steps"], int)
    assert sampler["cfg"] == 7.0 and isinstance(sampler["cfg"], float)
    assert graph["10"]["inputs"]["stop_at_clip_layer"] == -2
    assert graph["4"]["inputs"]["ckpt_name"] == TINY
    assert graph["6"]["inputs"]["text"] == "a red cube"
    assert graph["3"]["inputs"]["model"] == ["4", 0]  # links untouched
    assert "%" not in json.dumps(graph)
    assert wf.graph["3"]["inputs"]["seed"] == "%seed%"  # the template is not modified


def test_a_placeholder_inside_text_is_replaced_as_text() -> None:
    wf = load_workflow("sdxl_portrait")
    graph = wf.resolve(wf.values({**SAMPLE, "prompt": 'she said "hi", 1girl'}))
    text = graph["6"]["inputs"]["text"]
    assert text.startswith("portrait of one person") and text.endswith('she said "hi", 1girl')


def test_a_sillytavern_workflow_without_sidecar_loads_and_needs_only_a_model(
    tmp_path: Path,
) -> None:
    graph = load_workflow("sdxl_txt2img").graph
    wf = load_workflow(write(tmp_path, "mine", graph))
    assert wf.meta.name == "" and wf.title == "mine"
    with pytest.raises(WorkflowError, match=r"%model% has no value.*images\.model"):
        wf.resolve(wf.values(SAMPLE))
    resolved = wf.resolve(wf.values({**SAMPLE, "model": "x.safetensors"}))
    assert resolved["5"]["inputs"]["width"] == 1024  # a built-in default


def test_an_unquoted_placeholder_is_reported_with_line_and_column(tmp_path: Path) -> None:
    path = write(
        tmp_path, "bad", '{\n  "3": {"class_type": "KSampler",\n    "inputs": {"seed": %seed%}}\n}'
    )
    with pytest.raises(WorkflowError) as err:
        load_workflow(path)
    assert str(err.value) == f'{path}:3:24: placeholder %seed% must be quoted: write "%seed%"'


def test_invalid_json_and_ui_format_and_unknown_placeholders(tmp_path: Path) -> None:
    with pytest.raises(WorkflowError, match=r"broken\.json:2:\d+: not valid JSON"):
        load_workflow(write(tmp_path, "broken", '{"1": {"class_type": "X",\n "inputs": {,}}}'))
    with pytest.raises(WorkflowError, match=r"UI workflow.*Save \(API Format\)"):
        load_workflow(write(tmp_path, "ui", {"nodes": [], "links": [], "version": 0.4}))
    graph = {"1": {"class_type": "SaveImage", "inputs": {"filename_prefix": "%seeed%"}}}
    with pytest.raises(
        WorkflowError,
        match=r"unk\.json:\d+:\d+: node 1: unknown placeholder %seeed%; did you mean %seed%\?",
    ):
        load_workflow(write(tmp_path, "unk", graph))
    graph = {"1": {"class_type": "SaveImage", "inputs": {"images": ["9", 0]}}}
    with pytest.raises(WorkflowError, match="images links to node 9, which does not exist"):
        load_workflow(write(tmp_path, "link", graph))


def test_sidecar_errors_point_into_the_yaml(tmp_path: Path) -> None:
    graph = load_workflow("sd15_txt2img").graph
    path = write(tmp_path, "w", graph, "name: W\ndefaults:\n  steps: 20\n  stepz: 3\n")
    with pytest.raises(WorkflowError) as err:
        load_workflow(path)
    assert (
        str(err.value)
        == f"{tmp_path / 'w.yaml'}:4:3: defaults.stepz: unknown placeholder; did you mean 'steps'?"
    )
    write(tmp_path, "w", graph, "name: W\ncolour: red\n")
    with pytest.raises(WorkflowError, match=r"w\.yaml:2:1: unknown key 'colour' \(allowed: name, "):
        load_workflow(path)
    write(tmp_path, "w", graph, "defaults:\n  seed: lots\n")
    with pytest.raises(WorkflowError, match=r"w\.yaml:2:9: %seed% must be int"):
        load_workflow(path)


def test_validation_against_the_real_object_info() -> None:
    info = object_info()
    wf = load_workflow("sd15_txt2img")
    good = wf.resolve(wf.values({**SAMPLE, "model": TINY}))
    assert check_graph(wf, good, info) == []

    problems = check_graph(wf, wf.resolve(wf.values(SAMPLE)), info)  # default: v1-5-pruned…
    assert len(problems) == 1
    line, col = wf.locate("4", "ckpt_name")
    assert str(problems[0]) == (
        f"{wf.path}:{line}:{col}: node 4 CheckpointLoaderSimple: ckpt_name "
        "'v1-5-pruned-emaonly.safetensors' is not installed; installed: junk.safetensors, "
        "tiny_random_sd15.safetensors (from %model%)"
    )
    bad = wf.resolve(wf.values({**SAMPLE, "model": TINY, "sampler": "eulr", "width": 8}))
    messages = [p.message for p in check_graph(wf, bad, info)]
    assert any("sampler_name 'eulr' is not allowed; choose one of: euler," in m for m in messages)
    assert any(
        "node 5 EmptyLatentImage: width 8 is below the minimum 16 (from %width%)" in m
        for m in messages
    )


def test_validation_finds_missing_inputs_wrong_links_and_no_output() -> None:
    info = object_info()
    wf = load_workflow("sd15_txt2img")
    graph = wf.resolve(wf.values({**SAMPLE, "model": TINY}))
    del graph["5"]["inputs"]["height"]
    graph["8"]["inputs"]["samples"] = ["4", 0]  # MODEL where a LATENT is wanted
    graph["11"] = {"class_type": "NoSuchNode", "inputs": {}}
    messages = [p.message for p in check_graph(wf, graph, info)]
    assert "node 5 EmptyLatentImage: required input 'height' is missing" in messages
    assert "node 8 VAEDecode: samples expects LATENT but node 4 gives MODEL" in messages
    assert "node 11: node class 'NoSuchNode' is not installed" in messages
    del graph["9"]
    assert any("no output node" in p.message for p in check_graph(wf, graph, info))


def test_cli_validate_catches_a_wrong_checkpoint_before_submitting() -> None:
    saved = str(shared_comfyui() / "object_info.json")
    out = qualia("workflows", "validate", "sdxl_txt2img", "--object-info", saved)
    assert out.returncode == 2
    assert "sdxl_txt2img.json:" in out.stderr
    assert (
        "node 4 CheckpointLoaderSimple: ckpt_name 'sd_xl_base_1.0.safetensors' is not installed"
        in out.stderr
    )
    ok = qualia(
        "workflows",
        "validate",
        "sdxl_txt2img",
        "--object-info",
        saved,
        "--json",
        env={"QUALIA_IMAGES__MODEL": TINY},
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == {
        "workflow": "sdxl_txt2img",
        "against": saved,
        "ok": True,
        "problems": [],
    }


def test_cli_list_and_show(qualia_home: Path) -> None:
    mine = qualia_home / "data" / "workflows"
    mine.mkdir(parents=True)
    (mine / "broken.json").write_text("{nope")
    listed = json.loads(qualia("workflows", "list", "--json").stdout)
    names = {w["name"]: w for w in listed}
    assert names["sdxl_txt2img"]["title"] == "SDXL text-to-image"
    assert "broken.json:1:2: not valid JSON" in names["broken"]["error"]
    shown = qualia(
        "workflows",
        "show",
        "sd15_txt2img",
        "--resolved",
        "--json",
        env={"QUALIA_IMAGES__MODEL": TINY},
    )
    data = json.loads(shown.stdout)
    assert data["graph"]["4"]["inputs"]["ckpt_name"] == TINY
    assert isinstance(data["graph"]["3"]["inputs"]["seed"], int)
    missing = qualia("workflows", "show", "sdxl_txt2imj")
    assert missing.returncode == 2
    assert "workflow 'sdxl_txt2imj' not found; did you mean 'sdxl_txt2img'?" in missing.stderr
