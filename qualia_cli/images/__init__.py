"""Scene images: ComfyUI workflows and client, the offline sketch renderer, files and jobs.

Nothing heavy is imported here (Pillow, websockets and httpx load inside the functions that
use them), so importing the package keeps `qualia --help` fast.
"""
