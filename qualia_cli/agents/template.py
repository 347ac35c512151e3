"""Prompt templates: text files with `{{variable}}` placeholders, checked when loaded.

A template file holds a system part and a user part:

    [system]
    You are {{partner_name}} ...
    [user]
    {{history}}

Loading fails if the file uses a variable the agent does not declare (a typo) or leaves out
one the agent declares (a forgotten input); rendering fails if a value is missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from qualia_cli.errors import QualiaError
from qualia_cli.llm.base import ChatMessage

_VAR = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")
_SECTION = re.compile(r"^\[(system|user)\]\s*$", re.MULTILINE)


class TemplateError(QualiaError):
    """A prompt template that does not match its agent's variables."""


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    system: str
    user: str

    @property
    def variables(self) -> frozenset[str]:
        return frozenset(_VAR.findall(self.system) + _VAR.findall(self.user))

    def render(self, values: dict[str, object]) -> list[ChatMessage]:
        missing = self.variables - values.keys()
        if missing:
            raise TemplateError(f"template {self.name}: no value for {', '.join(sorted(missing))}")

        def fill(text: str) -> str:
            return _VAR.sub(lambda m: str(values[m.group(1)]), text).strip()

        return [
            {"role": "system", "content": fill(self.system)},
            {"role": "user", "content": fill(self.user)},
        ]


def parse_template(name: str, text: str, declared: frozenset[str]) -> PromptTemplate:
    parts = _SECTION.split(text)
    sections: dict[str, str] = {}
    for i in range(1, len(parts) - 1, 2):
        sections[parts[i]] = parts[i + 1]
    if set(sections) != {"system", "user"}:
        raise TemplateError(f"template {name}: needs a [system] and a [user] section")
    template = PromptTemplate(name, sections["system"], sections["user"])
    unknown = template.variables - declared
    if unknown:
        raise TemplateError(
            f"template {name}: unknown variable {', '.join(sorted(unknown))}"
            f" (known: {', '.join(sorted(declared))})"
        )
    unused = declared - template.variables
    if unused:
        raise TemplateError(f"template {name}: never uses {', '.join(sorted(unused))}")
    return template


@cache
def load_template(name: str, declared: frozenset[str]) -> PromptTemplate:
    """Load `qualia_cli/agents/prompts/<name>.txt` and check it against `declared`."""
    text = resources.files("qualia_cli.agents").joinpath("prompts", f"{name}.txt").read_text()
    return parse_template(name, text, declared)
