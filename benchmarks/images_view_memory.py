"""Peak memory of fetching oversized `/view` answers: streamed with the cap (now) vs buffered.

A ComfyUI stand-in in its own process answers `/view` with 200 MB (a PNG header, then zeros);
a client process fetches it three times at once (`images batch --concurrency 3`) and reports
its peak RSS. "buffered" reads the whole answer first and checks the 64 MB cap afterwards (what
qualia did before); "streamed" is `ComfyClient.view`, which stops reading past the cap.

    uv run python benchmarks/images_view_memory.py
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import subprocess
import sys
import time

from _common import ROOT, table

ANSWER_BYTES = 200 * 1024 * 1024
CONCURRENCY = 3


def serve(with_length: bool) -> None:
    from support.comfy_stub import ComfyStub

    stub = ComfyStub().start()
    stub.view_bytes = ANSWER_BYTES
    stub.view_length = with_length
    print(stub.url, flush=True)
    sys.stdin.read()  # until the parent closes it
    stub.stop()


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def fetch(url: str, how: str) -> dict[str, float | str]:
    import httpx

    from qualia_cli.images.comfy import ComfyClient
    from qualia_cli.images.errors import ComfyError

    ref = {"filename": "huge.png", "subfolder": "", "type": "output"}
    before = rss_mb()
    t0 = time.monotonic()
    async with ComfyClient(url) as client:

        async def one() -> str:
            if how == "buffered":
                async with httpx.AsyncClient(base_url=url, timeout=60) as http:
                    data = (await http.get("/view", params=ref)).content
                return "refused" if len(data) > client.max_image_bytes else "accepted"
            try:
                await client.view(ref)
            except ComfyError:
                return "refused"
            return "accepted"

        outcomes = await asyncio.gather(*(one() for _ in range(CONCURRENCY)))
    return {
        "before_mb": before,
        "peak_mb": rss_mb(),
        "seconds": time.monotonic() - t0,
        "outcome": ",".join(sorted(set(outcomes))),
    }


def main() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests")}
    servers = {
        kind: subprocess.Popen(
            [sys.executable, __file__, kind],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for kind in ("--serve", "--serve-chunked")
    }
    urls = {k: p.stdout.readline().strip() for k, p in servers.items()}  # type: ignore[union-attr]
    rows: list[tuple[str, str]] = []
    runs = [
        ("buffered (before)", "buffered", "--serve"),
        ("streamed, Content-Length sent", "streamed", "--serve"),
        ("streamed, chunked (no length)", "streamed", "--serve-chunked"),
    ]
    try:
        for label, how, kind in runs:
            out = subprocess.run(
                [sys.executable, __file__, "--fetch", how, urls[kind]],
                capture_output=True,
                text=True,
                env=env,
                check=True,
            )
            r = json.loads(out.stdout)
            rows.append(
                (
                    f"{label}: peak RSS (start)",
                    f"{r['peak_mb']:.0f} MB ({r['before_mb']:.0f} MB), {r['seconds']:.2f} s, "
                    f"{r['outcome']}",
                )
            )
    finally:
        for server in servers.values():
            server.stdin.close()  # type: ignore[union-attr]
            server.wait(10)
    load = os.getloadavg()[0]
    rows.append(("answers", f"{CONCURRENCY} x {ANSWER_BYTES // 2**20} MB at once, cap 64 MB"))
    rows.append(("load average (1 min)", f"{load:.2f}"))
    table("/view of an oversized answer: peak memory of the client", rows)


if __name__ == "__main__":
    if sys.argv[1:2] in (["--serve"], ["--serve-chunked"]):
        serve(with_length=sys.argv[1] == "--serve")
    elif sys.argv[1:2] == ["--fetch"]:
        print(json.dumps(asyncio.run(fetch(sys.argv[3], sys.argv[2]))))
    else:
        main()
