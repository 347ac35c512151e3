"""What a picture is of (a scene), and the fully resolved request that makes it.

A `Scene` comes from the Visual Director (or, for a session's opening and for batches of a
scenario, from the scenario itself). `build_request` turns it into an `ImageRequest`: the seed
(deterministic per session and scene, a new one per variant), the final negative prompt (with
the safe-content negative unless the scenario is rated mature and the user opted in), and either
a resolved ComfyUI workflow or the sketch renderer's inputs. Its `request_hash` identifies the
picture: the same hash is never generated twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from qualia_cli.config import ImagesConfig
from qualia_cli.images.workflows import Workflow, canonical

SAFE_NEGATIVE = "nsfw, nude, nudity, explicit, sexual content, gore"
SKETCH_VERSION = 1
PORTRAIT_FRAMINGS = ("close-up", "portrait")


@dataclass(frozen=True)
class Scene:
    key: str  # the session id (or "scenario:<id>" for a scenario batch): part of the seed
    prompt: str
    negative_prompt: str
    location: str
    time: str
    mood: str = "neutral"
    framing: str = "upper body"
    scene_tags: tuple[str, ...] = ()
    partner: str = ""
    title: str = ""
    rating: str = "general"
    variant: int = 0  # 0 = the scene's own seed; reroll / --variants use 1, 2, …


@dataclass
class ImageRequest:
    scene: Scene
    backend: str  # "comfyui" or "sketch"
    seed: int
    prompt: str
    negative_prompt: str
    format: str
    quality: int
    workflow: str = "sketch"
    graph: dict[str, Any] | None = None  # the resolved workflow (comfyui)
    model: str = ""
    sketch: dict[str, Any] = field(default_factory=dict)
    # pictures to upload before the prompt (%char_avatar%, %user_avatar%): name -> bytes; the
    # name carries a hash of the bytes, so the request hash changes with the picture
    uploads: dict[str, bytes] = field(default_factory=dict)

    @property
    def workflow_hash(self) -> str:
        return hashlib.sha256(canonical(self.graph or self.sketch).encode()).hexdigest()

    @property
    def request_hash(self) -> str:
        body = {
            "backend": self.backend,
            "what": self.graph if self.backend == "comfyui" else self.sketch,
            "format": self.format,
            "quality": self.quality,
        }
        return hashlib.sha256(canonical(body).encode()).hexdigest()

    def metadata(self) -> dict[str, Any]:
        """Embedded in the image file (no server address, no secrets)."""
        return {
            "generator": "qualia",
            "backend": self.backend,
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "seed": self.seed,
            "workflow": self.workflow,
            "workflow_hash": self.workflow_hash,
            "request_hash": self.request_hash,
            "model": self.model,
        }


def scene_seed(key: str, location: str, time: str, variant: int = 0) -> int:
    """Deterministic per session and scene, so the same moment re-renders identically."""
    text = "\x1f".join((key, location.strip().lower(), time.strip().lower(), str(variant)))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def final_negative(negative: str, rating: str, allow_mature: bool) -> str:
    if rating == "mature" and allow_mature:
        return negative
    return ", ".join(x for x in (negative, SAFE_NEGATIVE) if x)


def upload_name(placeholder: str, data: bytes) -> str:
    """Where an avatar goes on the server: named by its content, so re-uploads are idempotent."""
    return f"qualia/{placeholder}_{hashlib.sha256(data).hexdigest()[:16]}.png"


def build_request(
    scene: Scene,
    cfg: ImagesConfig,
    workflow: Workflow | None,
    backend: str,
    avatars: Mapping[str, bytes] | None = None,
) -> ImageRequest:
    """Resolve `scene` for `backend` ("comfyui" needs `workflow`; `avatars` gives the pictures
    of the `%char_avatar%` / `%user_avatar%` the workflow uses)."""
    seed = scene_seed(scene.key, scene.location, scene.time, scene.variant)
    negative = final_negative(scene.negative_prompt, scene.rating, cfg.allow_mature)
    if backend == "comfyui":
        assert workflow is not None
        values = workflow.values({**cfg.params, "model": cfg.model})
        values |= {"prompt": scene.prompt, "negative_prompt": negative, "seed": seed}
        uploads = {upload_name(k, v): v for k, v in (avatars or {}).items()}
        values |= {k: upload_name(k, v) for k, v in (avatars or {}).items()}
        return ImageRequest(
            uploads=uploads,
            scene=scene,
            backend="comfyui",
            seed=seed,
            prompt=scene.prompt,
            negative_prompt=negative,
            format=cfg.format,
            quality=cfg.quality,
            workflow=workflow.id,
            graph=workflow.resolve(values),
            model=str(values.get("model", "")),
        )
    portrait = scene.framing in PORTRAIT_FRAMINGS
    sketch = {
        "version": SKETCH_VERSION,
        "seed": seed,
        "size": [512, 768] if portrait else [768, 512],
        **{k: v for k, v in asdict(scene).items() if k not in ("key", "variant", "rating")},
        "scene_tags": list(scene.scene_tags),
    }
    return ImageRequest(
        scene=scene,
        backend="sketch",
        seed=seed,
        prompt=scene.prompt,
        negative_prompt=negative,
        format=cfg.format,
        quality=cfg.quality,
        sketch=sketch,
        model="sketch",
    )
