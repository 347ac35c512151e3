"""Seeds, request hashes, the sketch renderer, and image files with their embedded metadata."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from qualia_cli.config import ImagesConfig
from qualia_cli.images.errors import ImageError
from qualia_cli.images.files import encode, image_path, read_metadata, write_atomic
from qualia_cli.images.request import SAFE_NEGATIVE, Scene, build_request, scene_seed
from qualia_cli.images.sketch import render
from qualia_cli.images.workflows import load_workflow

SCENE = Scene(
    key="3f9a2c1b7e",
    prompt="painterly, 1girl, copper hair, upper body, rainy window",
    negative_prompt="lowres, text",
    location="the lamp room",
    time="dusk",
    mood="curious",
    framing="upper body",
    scene_tags=("rainy window", "warm lamplight"),
    partner="Maren",
)


def test_seeds_are_deterministic_per_session_and_scene() -> None:
    assert scene_seed("s1", "the pier", "night") == scene_seed("s1", "The Pier ", "night")
    seeds = {
        scene_seed("s1", "the pier", "night"),
        scene_seed("s2", "the pier", "night"),
        scene_seed("s1", "the lamp room", "night"),
        scene_seed("s1", "the pier", "dawn"),
        scene_seed("s1", "the pier", "night", variant=1),
    }
    assert len(seeds) == 5 and all(0 <= s < 2**32 for s in seeds)


def test_the_same_moment_resolves_to_the_same_request_and_a_reroll_does_not() -> None:
    cfg = ImagesConfig(model="tiny_random_sd15.safetensors")
    wf = load_workflow("sd15_txt2img")
    a = build_request(SCENE, cfg, wf, "comfyui")
    b = build_request(replace(SCENE), cfg, wf, "comfyui")
    assert a.request_hash == b.request_hash and a.graph == b.graph
    assert a.graph is not None and a.graph["3"]["inputs"]["seed"] == a.seed
    reroll = build_request(replace(SCENE, variant=1), cfg, wf, "comfyui")
    assert reroll.seed != a.seed and reroll.request_hash != a.request_hash
    png = build_request(SCENE, ImagesConfig(model=cfg.model, format="png"), wf, "comfyui")
    assert png.request_hash != a.request_hash  # another file, another hash
    sketch = build_request(SCENE, cfg, None, "sketch")
    assert sketch.request_hash != a.request_hash and sketch.seed == a.seed


def test_the_safe_content_negative_unless_mature_and_opted_in() -> None:
    wf = load_workflow("sd15_txt2img")
    general = build_request(SCENE, ImagesConfig(model="m"), wf, "comfyui")
    assert general.negative_prompt == f"lowres, text, {SAFE_NEGATIVE}"
    assert general.graph is not None and SAFE_NEGATIVE in general.graph["7"]["inputs"]["text"]
    mature = replace(SCENE, rating="mature")
    assert (
        SAFE_NEGATIVE
        in build_request(mature, ImagesConfig(model="m"), wf, "comfyui").negative_prompt
    )
    opted = build_request(mature, ImagesConfig(model="m", allow_mature=True), wf, "comfyui")
    assert opted.negative_prompt == "lowres, text"


def test_the_sketch_is_deterministic_and_follows_the_scene() -> None:
    spec = build_request(SCENE, ImagesConfig(), None, "sketch").sketch
    first, again = render(spec), render(dict(spec))
    assert first.size == (768, 512)
    assert ImageChops.difference(first, again).getbbox() is None  # identical pixels
    other_seed = render({**spec, "seed": spec["seed"] + 1})
    assert ImageChops.difference(first, other_seed).getbbox() is not None
    night = render({**spec, "time": "night", "location": "the cliff path"})
    noon = render({**spec, "time": "noon", "location": "the cliff path"})

    def sky(image: Image.Image) -> float:
        from PIL import ImageStat

        top = image.crop((0, 40, image.width, image.height // 4)).convert("L")
        return ImageStat.Stat(top).mean[0]

    assert sky(night) < sky(noon) - 60
    portrait = render(
        build_request(replace(SCENE, framing="close-up"), ImagesConfig(), None, "sketch").sketch
    )
    assert portrait.size == (512, 768)


@pytest.mark.parametrize("fmt", ["webp", "png"])
def test_metadata_round_trips_through_the_file(fmt: str, qualia_home: Path) -> None:
    request = build_request(
        replace(SCENE, prompt='naïve "quoted" <tag> & more'),
        ImagesConfig(format=fmt),
        None,
        "sketch",
    )
    path = image_path(SCENE.key, request.request_hash, fmt)
    write_atomic(path, encode(render(request.sketch), fmt, 80, request.metadata()))
    assert path.suffix == f".{fmt}" and str(path).startswith(str(qualia_home))
    meta = read_metadata(path)
    assert meta["prompt"] == 'naïve "quoted" <tag> & more'
    assert meta["seed"] == request.seed
    assert meta["workflow_hash"] == request.workflow_hash
    assert meta["request_hash"] == request.request_hash
    assert "server" not in meta
    with Image.open(path) as image:
        assert image.format == fmt.upper()
        if fmt == "png":  # the A1111 convention other tools read
            assert image.info["parameters"].startswith(
                'naïve "quoted" <tag> & more\nNegative prompt:'
            )


def test_webp_quality_is_honoured() -> None:
    image = render(build_request(SCENE, ImagesConfig(), None, "sketch").sketch)
    assert len(encode(image, "webp", 30, {})) < len(encode(image, "webp", 95, {}))


def test_images_are_written_only_inside_the_images_directory(qualia_home: Path) -> None:
    good = image_path("3f9a2c1b7e", "ab" * 16, "webp")
    assert good.parent == (qualia_home / "data" / "images" / "3f9a2c1b7e").resolve()
    for folder, digest in [
        ("../etc", "ab" * 16),
        ("/abs", "ab" * 16),
        ("s", "../../x"),
        ("..", "ab" * 16),
    ]:
        with pytest.raises(ImageError):
            image_path(folder, digest, "webp")


def test_credentials_in_a_workflow_never_reach_the_database() -> None:
    from qualia_cli.store.images import scrub

    graph = {"1": {"class_type": "ApiNode", "inputs": {"api_key": "sk-live-123", "seed": 4}}}
    clean = scrub({"graph": graph, "auth_token": "t0k", "links": [["1", 0]]})
    assert clean["graph"]["1"]["inputs"] == {"api_key": "***", "seed": 4}
    assert clean["auth_token"] == "***" and clean["links"] == [["1", 0]]
    assert graph["1"]["inputs"]["api_key"] == "sk-live-123"  # the request itself is untouched
