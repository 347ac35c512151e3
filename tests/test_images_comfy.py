"""The ComfyUI client against the stand-in server (real HTTP and websocket on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import glob
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.comfy_stub import ComfyStub, capture, shared_comfyui

from qualia_cli.images.comfy import ComfyClient, Progress, redact_url
from qualia_cli.images.comfy_errors import describe_execution_error, describe_rejection
from qualia_cli.images.errors import ComfyError
from qualia_cli.images.workflows import load_workflow

TINY = "tiny_random_sd15.safetensors"


def graph(model: str = TINY, seed: int = 42, steps: int = 4) -> dict:
    wf = load_workflow("sd15_txt2img")
    values = {"prompt": "a red cube", "negative_prompt": "blurry", "seed": seed, "model": model}
    return wf.resolve(wf.values({**values, "steps": steps, "width": 64, "height": 64}))


@pytest.fixture
def stub() -> Iterator[ComfyStub]:
    with ComfyStub(delay_s=0.1) as server:
        yield server


async def test_a_run_streams_progress_and_returns_the_image(stub: ComfyStub) -> None:
    seen: list[Progress] = []
    async with ComfyClient(stub.url, timeout_s=20) as client:
        stats = await client.system_stats()
        result = await client.generate(graph(), seen.append)
    assert stats["system"]["comfyui_version"] == "0.3.64"
    assert result.via == "websocket"
    assert result.image.startswith(b"\x89PNG")
    assert result.outputs[0]["filename"].startswith("qualia_sd15_")
    percents = [p.percent for p in seen]
    assert percents == sorted(percents) and percents[-1] == 100.0
    assert any(p.steps == 4 and p.step == 2 for p in seen)  # sampler steps from `progress`
    assert len(stub.submitted) == 1
    assert stub.submitted[0]["3"]["inputs"]["seed"] == 42


async def test_a_refused_prompt_names_the_node_and_input(stub: ComfyStub) -> None:
    async with ComfyClient(stub.url) as client:
        with pytest.raises(ComfyError) as err:
            await client.generate(graph(model="x.safetensors"))
    assert err.value.code == "rejected"
    assert str(err.value) == (
        "node 4 CheckpointLoaderSimple: ckpt_name 'x.safetensors' is not installed; "
        "installed: junk.safetensors, tiny_random_sd15.safetensors"
    )
    assert stub.submitted == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "err_bad_ckpt.json",
            "node 4 CheckpointLoaderSimple: ckpt_name 'does_not_exist.safetensors' is not "
            "installed; installed: junk.safetensors, tiny_random_sd15.safetensors",
        ),
        (
            "err_bad_combo.json",
            "node 2 ImageScale: upscale_method 'nope' is not allowed; "
            "choose one of: nearest-exact, bilinear, area, bicubic, lanczos",
        ),
        ("err_bad_int.json", "node 1 EmptyImage: width: 'abc' is not a valid INT"),
        ("err_missing_input.json", "node 1 EmptyImage: required input 'width' is missing"),
        (
            "err_out_of_range.json",
            "node 1 EmptyImage: height 99999 is above the maximum 16384; "
            "node 1 EmptyImage: width 0 is below the minimum 1",
        ),
        ("err_link_missing_node.json", "node 2 SaveImage: links to node 99, which does not exist"),
        (
            "err_link_type_mismatch.json",
            "node 2 SaveImage: images expects IMAGE but node 1 gives LATENT",
        ),
        (
            "err_unknown_class.json",
            "ComfyUI rejected the workflow: Cannot execute because node NoSuchNode "
            "does not exist. (Node ID '#1')",
        ),
        ("err_no_outputs.json", "the workflow has no output node (add a SaveImage node)"),
        (
            "err_malformed_json.json",
            "ComfyUI could not read the request (HTTP 500: Server got itself in trouble)",
        ),
    ],
)
def test_every_captured_refusal_reads_as_one_line(name: str, expected: str) -> None:
    answer = capture(name)
    body = answer.get("json", answer.get("text"))
    assert describe_rejection(answer["status"], body) == expected


def test_the_stand_in_answers_like_the_captures() -> None:
    """Same status and same error structure as the real server for every captured refusal."""
    import httpx

    with ComfyStub() as server:
        for path in sorted(glob.glob(str(shared_comfyui() / "captures" / "err_*.json"))):
            cap = capture(Path(path).name)
            cap = cap.get("post_prompt", cap)  # err_mixed_partial: one good branch runs (200)
            request = cap["request"]
            if "json" in request:
                got = httpx.post(server.url + "/prompt", json=request["json"])
            else:
                got = httpx.post(server.url + "/prompt", content=request["data"])
            assert got.status_code == cap["status"], path
            if "json" in cap:
                mine, real = got.json(), cap["json"]
                if "error" in real:
                    assert mine["error"]["type"] == real["error"]["type"], path
                assert set(mine["node_errors"]) == set(real["node_errors"]), path
                for node, entry in real["node_errors"].items():
                    kinds = sorted(e["type"] for e in entry["errors"])
                    assert sorted(e["type"] for e in mine["node_errors"][node]["errors"]) == kinds
        assert httpx.get(server.url + "/view", params={"filename": "../secret"}).status_code == 400
        assert httpx.get(server.url + "/view", params={"filename": "nope.png"}).status_code == 404
        assert httpx.get(server.url + "/history/does-not-exist").json() == {}
        assert httpx.get(server.url + "/object_info/Nope").json() == {}


async def test_an_execution_error_is_reported_with_its_node() -> None:
    with ComfyStub(mode="exec_error") as server:
        async with ComfyClient(server.url) as client:
            with pytest.raises(ComfyError) as err:
                await client.generate(graph())
    assert err.value.code == "execution"
    assert str(err.value) == (
        "node 4 CheckpointLoaderSimple failed: SafetensorError: "
        "Error while deserializing header: header too large"
    )
    captured = next(
        m["msg"]["data"]
        for m in capture("run_exec_error.json")["ws"]
        if m["msg"]["type"] == "execution_error"
    )
    assert describe_execution_error(captured) == str(err.value)


@pytest.mark.slow  # waits out a 1 s timeout (over a second)
async def test_a_hung_job_times_out_and_is_interrupted() -> None:
    with ComfyStub(mode="hang") as server:
        async with ComfyClient(server.url, timeout_s=1.0) as client:
            with pytest.raises(ComfyError) as err:
                await client.generate(graph())
        assert err.value.code == "timeout"
        for _ in range(200):  # the server records the interrupted prompt a moment later
            if server.history:
                break
            await asyncio.sleep(0.02)
        pid = next(iter(server.history))
        assert server.interrupts == [{"prompt_id": pid}]
        status = server.history[pid]["status"]
        assert status["status_str"] == "error"
        assert status["messages"][-1][0] == "execution_interrupted"


async def test_cancelling_a_job_interrupts_it_on_the_server() -> None:
    with ComfyStub(mode="hang") as server:
        async with ComfyClient(server.url, timeout_s=30) as client:
            task = asyncio.ensure_future(client.generate(graph()))
            while not server.submitted:
                await asyncio.sleep(0.02)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert len(server.interrupts) == 1


async def test_a_dropped_socket_falls_back_to_polling_history() -> None:
    with ComfyStub(mode="drop_socket", delay_s=0.3) as server:
        async with ComfyClient(server.url, poll_interval_s=0.05) as client:
            result = await client.generate(graph())
    assert result.via == "history"
    assert result.image.startswith(b"\x89PNG")


async def test_a_traversal_filename_from_the_server_is_never_a_path(
    stub: ComfyStub, tmp_path: Path
) -> None:
    stub.evil_ref = {"filename": "../../../etc/passwd", "subfolder": "..", "type": "output"}
    async with ComfyClient(stub.url) as client:
        with pytest.raises(ComfyError) as err:
            await client.generate(graph())
    assert err.value.code == "output" and "HTTP 400" in str(err.value)
    assert stub.views == [{"filename": "../../../etc/passwd", "subfolder": ".."}]


async def test_an_unreachable_server_is_one_clear_error() -> None:
    with ComfyStub() as server:
        url = server.url
    async with ComfyClient(url, connect_timeout_s=2) as client:
        with pytest.raises(ComfyError) as err:
            await client.system_stats()
    assert err.value.code == "unreachable" and url in str(err.value)


def test_credentials_never_leave_the_url() -> None:
    assert redact_url("http://me:s3cret@gpu.local:8188/") == "http://gpu.local:8188"
    assert redact_url("https://gpu.local/comfy") == "https://gpu.local/comfy"
