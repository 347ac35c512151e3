"""Batch generation: 50 images over two ComfyUI stand-ins that take a fixed 200 ms per image.

The stand-ins write each history entry 50 ms after `execution_success`, as a real ComfyUI does
(a client reading /history on `execution_success` loses pictures). Reports the pictures lost,
the wall time against the ideal (50 x 0.25 s / 2 servers = 6.25 s) and against the busiest server's
own busy time (what qualia adds, whatever the machine's load), how the work was spread, and
that a second run submits nothing (every image is found by its request hash).

    uv run python benchmarks/images_batch.py
"""

from __future__ import annotations

import asyncio
import math
import os
from pathlib import Path

from _common import table, temp_home

IMAGES = 50
PER_IMAGE_S = 0.2
HISTORY_DELAY_S = 0.05  # execution_success .. history entry written
CONCURRENCY = 3  # the default of qualia images batch --concurrency
SCENARIO = str(Path(__file__).resolve().parent.parent / "scenarios" / "fogbound_archive.yaml")


async def main() -> None:
    temp_home()
    from support.comfy_stub import ComfyStub

    from qualia_cli.config import load_settings
    from qualia_cli.engine import Engine

    settings = load_settings(
        images={"workflow": "sd15_txt2img", "model": "tiny_random_sd15.safetensors"}
    )
    engine = Engine(settings)
    with (
        ComfyStub(delay_s=PER_IMAGE_S, history_delay_s=HISTORY_DELAY_S) as one,
        ComfyStub(delay_s=PER_IMAGE_S, history_delay_s=HISTORY_DELAY_S) as two,
    ):
        servers = [one.url, two.url]
        scenes = engine.pictures.plan_batch(SCENARIO, comfy=True)
        variants = math.ceil(IMAGES / len(scenes))
        items = engine.pictures.plan_batch(SCENARIO, comfy=True, variants=variants)[:IMAGES]
        first = await engine.pictures.run_batch(items, servers, concurrency=CONCURRENCY)
        after_first = len(one.submitted) + len(two.submitted)
        busy = (one.busy_s, two.busy_s)
        again_items = engine.pictures.plan_batch(SCENARIO, comfy=True, variants=variants)[:IMAGES]
        second = await engine.pictures.run_batch(again_items, servers, concurrency=CONCURRENCY)
        submitted = (len(one.submitted), len(two.submitted))
    await engine.aclose()
    ideal = IMAGES * (PER_IMAGE_S + HISTORY_DELAY_S) / 2  # a job ends when history is written
    lost = sum("saved no image" in i.error for i in items)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    table(
        "images batch: 50 images, two stand-in servers, 200 ms each",
        [
            ("images", str(len(items))),
            ("jobs in flight per server", str(CONCURRENCY)),
            (
                "first run: done / failed",
                f"{first.counts.get('done', 0)} / {first.counts.get('failed', 0)}",
            ),
            ("first run wall", f"{first.wall_s:.2f} s"),
            ("pictures lost (history written late)", str(lost)),
            ("ideal (50 x (0.2 + 0.05) s / 2)", f"{ideal:.2f} s"),
            ("wall / ideal", f"{first.wall_s / ideal:.2f}"),
            ("wall / busiest server's busy time", f"{first.wall_s / max(busy):.2f}"),
            ("server 1 / server 2 images", f"{submitted[0]} / {submitted[1]}"),
            ("server 1 / server 2 busy", f"{busy[0]:.2f} s / {busy[1]:.2f} s"),
            ("idle (wall - busiest server)", f"{first.wall_s - max(busy):.2f} s"),
            ("second run: skipped", str(second.counts.get("skipped", 0))),
            ("second run submitted", str(sum(submitted) - after_first)),
            ("second run wall", f"{second.wall_s:.2f} s"),
            ("load average (1 min) at the end", f"{load:.2f}"),
        ],
    )


if __name__ == "__main__":
    asyncio.run(main())
