"""The pictures behind SillyTavern's `%char_avatar%` and `%user_avatar%` placeholders.

`%char_avatar%` is the partner's portrait: `<scenario>.png` next to the scenario file (where
`qualia import` puts a card's picture), or a plain card with her name when there is none.
`%user_avatar%` is the player's picture, `images.user_avatar` in config.yaml. Only the ones a
workflow uses are read; they are uploaded through `/upload/image` just before the prompt.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import TYPE_CHECKING

from qualia_cli.images.errors import ImageError

if TYPE_CHECKING:
    from qualia_cli.config import ImagesConfig
    from qualia_cli.images.workflows import Workflow

MAX_AVATAR_BYTES = 16 * 1024 * 1024


def _read(path: Path, what: str) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_AVATAR_BYTES:
            raise ImageError(f"{path}: {what} is too large ({size} bytes; at most 16 MB)")
        data = path.read_bytes()
    except OSError as err:
        raise ImageError(f"{path}: cannot read {what}: {err.strerror or err}") from None
    return data


def plain_portrait(name: str) -> bytes:
    """A 512x768 PNG with the name on a colour derived from it (no portrait on file)."""
    from PIL import Image, ImageDraw

    digest = hashlib.sha256(name.encode()).digest()
    image = Image.new("RGB", (512, 768), (64 + digest[0] // 2, 64 + digest[1] // 2, 96))
    ImageDraw.Draw(image).text((24, 360), name[:40], fill=(255, 255, 255))
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def avatars_for(
    workflow: Workflow | None,
    cfg: ImagesConfig,
    *,
    partner: str,
    scenario_path: str | Path | None,
) -> dict[str, bytes]:
    """{placeholder: PNG/JPEG bytes} for the avatar placeholders `workflow` uses."""
    if workflow is None:
        return {}
    used = workflow.uses()
    out: dict[str, bytes] = {}
    if "char_avatar" in used:
        portrait = Path(scenario_path).with_suffix(".png") if scenario_path else None
        if portrait is not None and portrait.is_file():
            out["char_avatar"] = _read(portrait, "the partner's portrait")
        else:
            out["char_avatar"] = plain_portrait(partner or "partner")
    if "user_avatar" in used:
        if not cfg.user_avatar:
            raise ImageError(
                f"workflow {workflow.id} uses %user_avatar%: set images.user_avatar in "
                "config.yaml to a picture of you"
            )
        out["user_avatar"] = _read(Path(cfg.user_avatar).expanduser(), "images.user_avatar")
    return out
