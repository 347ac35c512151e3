"""The smaller image complaints from a real ComfyUI round, as a user meets them on the command
line: previews, --open, the batch summary at 80 columns, file modes, a server without scheme,
and a broken workflow explained instead of silently drawing nothing."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest
from support.cli import qualia
from support.comfy_stub import ComfyStub
from support.openai_stub import StubServer

from qualia_cli.images.files import write_atomic

TINY = "tiny_random_sd15.safetensors"
SCENARIO = "scenarios/fogbound_archive.yaml"


def test_a_small_image_keeps_its_shape_in_preview(tmp_path: Path) -> None:
    from PIL import Image

    square = tmp_path / "square.png"
    Image.new("RGB", (64, 64), (200, 40, 40)).save(square)
    out = qualia("images", "preview", str(square), "--width", "20", env={"COLUMNS": "80"})
    assert out.returncode == 0, out.stderr
    rows = [line for line in out.stdout.splitlines() if "▀" in line]
    assert len(rows) == 10  # 20 cells wide, two pixels per cell in height: square


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="xdg-open")
def test_open_that_fails_exits_non_zero(tmp_path: Path) -> None:
    from PIL import Image

    picture = tmp_path / "p.png"
    Image.new("RGB", (8, 8)).save(picture)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    opener = bin_dir / "xdg-open"
    opener.write_text("#!/bin/sh\nexit 3\n")
    opener.chmod(0o755)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    out = qualia("images", "preview", str(picture), "--open", env=env)
    assert out.returncode == 1
    assert "could not open" in out.stderr and "status 3" in out.stderr


def test_image_files_respect_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "a" / "x.webp", b"data")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a" / "x.webp").stat().st_mode) == 0o644
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["x.webp"]  # no temporary left


def test_a_failing_batch_explains_every_failure_at_80_columns() -> None:
    with ComfyStub(mode="exec_error") as bad:
        env = {"QUALIA_IMAGES__WORKFLOW": "sd15_txt2img", "QUALIA_IMAGES__MODEL": TINY}
        server = f"127.0.0.1:{bad.port}"  # no scheme, as people type it
        out = qualia("images", "batch", SCENARIO, "--server", server, env={**env, "COLUMNS": "80"})
    assert out.returncode == 1, out.stderr
    assert "unsupported protocol" not in out.stdout + out.stderr
    failures = [line for line in out.stdout.splitlines() if line.startswith("failed: ")]
    assert failures and all(
        "node 4 CheckpointLoaderSimple failed: SafetensorError: Error while deserializing "
        "header: header too large" in line
        for line in failures
    )
    assert f"0 made, 0 skipped, {len(failures)} failed of {len(failures)}" in out.stdout


def test_new_with_a_broken_workflow_says_why_there_is_no_picture() -> None:
    with StubServer(delay_s=0.0) as model:
        env = {
            "QUALIA_MODELS__DEFAULT": "stub/m",
            "QUALIA_ENDPOINTS": json.dumps({"stub": {"base_url": model.base_url}}),
            "QUALIA_COMFYUI_URL": "http://127.0.0.1:9",
            "QUALIA_IMAGES__WORKFLOW": "sd15_txt2imgg",
        }
        out = qualia("new", "fogbound_archive", env=env)
    assert out.returncode == 0, out.stderr
    assert "(picture unavailable: " in out.stderr
    assert "did you mean 'sd15_txt2img'?" in out.stderr


@pytest.mark.slow  # encodes a 400 Mpx image first (over a second)
def test_a_decompression_bomb_from_the_server_is_an_image_error() -> None:
    import io

    from PIL import Image

    from qualia_cli.images.errors import ImageError
    from qualia_cli.images.files import decode

    buf = io.BytesIO()
    Image.new("1", (20000, 20000)).save(buf, "PNG")  # 400 Mpx in a few kB
    with pytest.raises(ImageError, match="too large to decode"):
        decode(buf.getvalue())
