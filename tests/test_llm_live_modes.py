"""The real llama.cpp server (xllamacpp, embedded SmolLM2) as a live peer for the modes.

Starts the embedded model (once per test session, shared with the other local tests).
llama.cpp turns `response_format` `json_object` / `json_schema` into a grammar:
https://github.com/ggml-org/llama.cpp/blob/master/tools/server/README.md
"""

from __future__ import annotations

import json

from pydantic import BaseModel

from qualia_cli.config import ModelOverride
from qualia_cli.llm.base import Request
from qualia_cli.llm.capabilities import CapabilityRegistry
from qualia_cli.llm.local import LocalServer
from qualia_cli.llm.openai_compat import OpenAICompatProvider
from qualia_cli.llm.structured import complete_structured


class Answer(BaseModel):
    answer: bool


MESSAGES = [
    {"role": "system", "content": "Answer the question in JSON."},
    {"role": "user", "content": "Is the sky blue?"},
]


async def test_real_llamacpp_takes_each_mode(local_server: LocalServer) -> None:
    texts: dict[str, str] = {}
    for mode in ("json_schema", "json_object", "prompt"):
        reg = CapabilityRegistry({"local/smollm2": ModelOverride(structured_output=mode)})
        p = OpenAICompatProvider(
            "local",
            local_server.base_url,
            local_server.api_key,
            timeout_s=300,
            max_retries=0,
            registry=reg,
        )
        request = Request(
            messages=MESSAGES,  # type: ignore[arg-type]
            model="smollm2",
            max_tokens=48,
            temperature=0.0,
            seed=1,
            schema_name="answer",
        )
        streamed: list[str] = []
        if mode == "json_schema":
            result = await complete_structured(
                p, request, Answer, model_label="local/smollm2", on_text=streamed.append
            )
            assert result.mode == "json_schema" and isinstance(result.value.answer, bool)
            assert streamed and streamed[-1] == result.raw  # the think filter passes text as is
        else:
            from dataclasses import replace

            from qualia_cli.llm.schema import schema_for

            done = await p.complete(replace(request, schema=schema_for(Answer)))
            assert done.mode == mode and not done.reasoning
            texts[mode] = done.text
        await p.aclose()
        assert reg.caps("local/smollm2").json_schema is not False  # nothing was refused
    # json_object is a JSON grammar on llama.cpp: an object, even from a 135M model
    assert isinstance(json.loads(texts["json_object"]), dict)
