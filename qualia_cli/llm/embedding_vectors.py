"""The vectors of an OpenAI-compatible ``/embeddings`` answer, checked: one per input, all of
one length, finite numbers; anything else is a ``BAD_OUTPUT`` error, never a stored vector.
Read by the HTTP embedder (llm/embeddings.py) and by a cassette's replay
(llm/embedding_cassette.py) alike.
"""

from __future__ import annotations

import math
from typing import Any

from qualia_cli.llm.errors import ErrorCode, LLMError


def parse_vectors(data: Any, expected: int, name: str) -> list[list[float]]:
    """The vectors of an ``/embeddings`` answer, in input order, checked."""

    def bad(why: str) -> LLMError:
        return LLMError(ErrorCode.BAD_OUTPUT, f"unusable embeddings: {why}", model=name)

    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list) or len(items) != expected:
        raise bad(f"expected {expected} vectors")
    ordered: list[list[float] | None] = [None] * expected
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            raise bad("an item is not an object")
        index = item.get("index", position)
        vector = item.get("embedding")
        if not isinstance(index, int) or not 0 <= index < expected or ordered[index] is not None:
            raise bad("bad or repeated index")
        if not isinstance(vector, list) or not vector:
            raise bad("an item has no embedding (base64 answers are not asked for)")
        try:
            floats = [float(x) for x in vector]
        except (TypeError, ValueError):
            raise bad("an embedding holds something that is not a number") from None
        if not all(math.isfinite(x) for x in floats):
            raise bad("an embedding holds NaN or infinity")
        ordered[index] = floats
    vectors = [v for v in ordered if v is not None]
    if len({len(v) for v in vectors}) != 1:
        raise bad("vectors of different lengths")
    return vectors
