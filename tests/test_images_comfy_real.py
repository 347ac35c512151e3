"""The ComfyUI client against a stand-in that behaves like the real 0.3.64 where it matters:
history written after `execution_success`, long choice lists summarised, huge `/view` answers,
`/upload/image`, a server given without its scheme."""

from __future__ import annotations

import asyncio
import tracemalloc

import pytest
from support.comfy_stub import ComfyStub

from qualia_cli.images.comfy import ComfyClient
from qualia_cli.images.errors import ComfyError
from qualia_cli.images.workflows import load_workflow

TINY = "tiny_random_sd15.safetensors"


def graph(model: str = TINY, seed: int = 42) -> dict:
    wf = load_workflow("sd15_txt2img")
    values = {"prompt": "a red cube", "negative_prompt": "blurry", "seed": seed, "model": model}
    return wf.resolve(wf.values({**values, "steps": 2, "width": 64, "height": 64}))


@pytest.mark.slow  # a stand-in that writes history late (over a second)
async def test_history_written_late_loses_no_picture() -> None:
    """Real ComfyUI writes /history after execution_success: reading it then lost pictures."""
    with ComfyStub(delay_s=0.02, history_delay_s=0.25) as server:
        async with ComfyClient(server.url, timeout_s=30) as client:
            results = await asyncio.gather(
                *(client.generate(graph(seed=s)) for s in range(6)), return_exceptions=True
            )
    lost = [r for r in results if isinstance(r, BaseException)]
    assert lost == []
    assert all(r.image.startswith(b"\x89PNG") for r in results)  # type: ignore[union-attr]


async def test_a_malformed_history_is_a_clear_error_not_a_crash() -> None:
    with ComfyStub(delay_s=0.02) as server:
        async with ComfyClient(server.url, timeout_s=30) as client:
            client.history_grace_s = 0.2
            pid = await client.submit(graph())
            while pid not in server.history:
                await asyncio.sleep(0.02)
            server.history[pid]["outputs"] = ["not", "a", "dict"]
            with pytest.raises(ComfyError) as err:
                await client._outputs(pid)
    assert err.value.code == "output"
    assert "saved no image" in str(err.value)


async def test_a_list_of_more_than_20_choices_is_read_from_object_info() -> None:
    ckpts = [f"model_{i:02d}.safetensors" for i in range(42)]
    with ComfyStub(ckpts=ckpts) as server:
        async with ComfyClient(server.url) as client:
            with pytest.raises(ComfyError) as err:
                await client.generate(graph(model="x.safetensors"))
    message = str(err.value)
    assert "installed: none" not in message
    assert "installed: model_00.safetensors, model_01.safetensors" in message
    assert "(30 more)" in message


@pytest.mark.parametrize("with_length", [True, False])
async def test_a_huge_view_answer_is_cut_while_reading(with_length: bool) -> None:
    with ComfyStub(delay_s=0.02) as server:
        server.view_bytes = 40 * 1024 * 1024
        server.view_length = with_length
        async with ComfyClient(server.url, max_image_bytes=2 * 1024 * 1024) as client:
            tracemalloc.start()
            try:
                with pytest.raises(ComfyError) as err:
                    await client.view({"filename": "big.png", "subfolder": "", "type": "output"})
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
    assert err.value.code == "output"
    assert "larger than 2 MB" in str(err.value)
    assert peak < 12 * 1024 * 1024  # never the whole 40 MB


async def test_upload_image_answers_like_comfyui() -> None:
    with ComfyStub() as server:
        async with ComfyClient(server.url) as client:
            first = await client.upload_image(b"\x89PNG\r\n\x1a\nA", "avatar.png", overwrite=False)
            second = await client.upload_image(b"\x89PNG\r\n\x1a\nB", "avatar.png", overwrite=False)
            third = await client.upload_image(b"\x89PNG\r\n\x1a\nC", "avatar.png")
    assert first == "qualia/avatar.png"
    assert second == "qualia/avatar (1).png"
    assert third == "qualia/avatar.png"
    assert server.uploads[("qualia", "avatar.png")].endswith(b"C")
    choices = server.info["LoadImage"]["input"]["required"]["image"][0]
    assert "qualia/avatar.png" in choices


async def test_a_server_given_without_scheme_works() -> None:
    with ComfyStub() as server:
        async with ComfyClient(f"127.0.0.1:{server.port}") as client:
            stats = await client.system_stats()
    assert stats["system"]["comfyui_version"] == "0.3.64"


async def test_a_server_that_never_answers_is_a_timeout_within_the_call_deadline() -> None:
    with ComfyStub(mode="unresponsive") as server:
        async with ComfyClient(server.url, connect_timeout_s=0.2) as client:
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            with pytest.raises(ComfyError) as err:
                await client.system_stats()
            elapsed = loop.time() - t0
    assert err.value.code == "timeout"
    assert elapsed < 2.0
