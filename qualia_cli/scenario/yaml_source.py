"""Reading scenario YAML: a SafeLoader that keeps node marks, and a loc -> line:col locator.

The loader keeps the composed node tree (each node has its start mark) and an index
of every mapping's keys, rejects duplicate keys, and never constructs anything beyond
plain YAML types. :class:`Locator` walks a Pydantic ``loc`` tuple through that tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from qualia_cli.scenario.errors import Problem, ScenarioError
from qualia_cli.scenario.safe_read import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_INT_DIGITS,
    MAX_VALUES,
    line_col,
    read_text,
)

__all__ = ["MAX_FILE_BYTES", "Doc", "Loc", "Locator", "NoLocator", "parse_yaml", "read_text"]

Loc = tuple[str | int, ...]


class _DuplicateKeyError(yaml.MarkedYAMLError):
    pass


class _Refused(_DuplicateKeyError):
    """A bound for files from strangers (tags, depth, aliases, big numbers): message as is."""


class _Loader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys and indexes every mapping's key nodes.

    It is bounded for files from strangers: no explicit tags (``!!int``, ``!foo``), nesting
    at most MAX_DEPTH, at most MAX_VALUES values once aliases are expanded (a "billion
    laughs" file), integers of at most MAX_INT_DIGITS digits."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        # id(mapping node) -> {constructed key: (key node, value node)}
        self.key_index: dict[int, dict[Any, tuple[Node, Node]]] = {}
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()
        tag = getattr(event, "tag", None)
        if tag is not None and tag != "!":
            tag = tag.replace("tag:yaml.org,2002:", "!!")
            raise _Refused(
                None,
                None,
                f"explicit YAML tags like '{tag}' are not allowed; remove it",
                event.start_mark,
            )
        if self._depth >= MAX_DEPTH and isinstance(
            event, yaml.SequenceStartEvent | yaml.MappingStartEvent
        ):
            raise _Refused(
                None, None, f"nested too deeply (more than {MAX_DEPTH} levels)", event.start_mark
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)  # type: ignore[misc]
        finally:
            self._depth -= 1

    def check_expansion(self, root: Node) -> None:
        """Refuse a document whose aliases expand to more than MAX_VALUES values."""
        sizes: dict[int, int] = {}

        def size(node: Node) -> int:
            known = sizes.get(id(node))
            if known is not None:
                return known
            total = 1
            if isinstance(node, SequenceNode):
                total += sum(size(n) for n in node.value)
            elif isinstance(node, MappingNode):
                total += sum(size(k) + size(v) for k, v in node.value)
            if total > MAX_VALUES:
                raise _Refused(
                    None,
                    None,
                    f"its aliases expand to more than {MAX_VALUES} values; "
                    "write the values out instead of repeating '*' references",
                    node.start_mark,
                )
            sizes[id(node)] = total
            return total

        size(root)

    def construct_yaml_int(self, node: ScalarNode) -> int:  # type: ignore[override]
        digits = str(node.value).replace("_", "").lstrip("+-")
        if len(digits) > MAX_INT_DIGITS:
            raise _Refused(
                None, None, f"number too large (more than {MAX_INT_DIGITS} digits)", node.start_mark
            )
        return super().construct_yaml_int(node)

    def construct_mapping(self, node: Node, deep: bool = False) -> dict[Any, Any]:
        if not isinstance(node, MappingNode):
            raise yaml.constructor.ConstructorError(
                None, None, f"expected a mapping node, but found {node.id}", node.start_mark
            )
        own = {id(k) for k, _ in node.value}
        self.flatten_mapping(node)  # resolves "<<" merge keys; merged keys come first
        mapping: dict[Any, Any] = {}
        index: dict[Any, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                hash(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    "found an unhashable key (a key must be a plain word)",
                    key_node.start_mark,
                ) from None
            if key in index and id(key_node) in own and id(index[key][0]) in own:
                first = index[key][0].start_mark.line + 1
                raise _DuplicateKeyError(
                    None,
                    None,
                    f"duplicate key '{key}' (first given on line {first})",
                    key_node.start_mark,
                )
            mapping[key] = self.construct_object(value_node, deep=deep)
            index[key] = (key_node, value_node)
        self.key_index[id(node)] = index
        return mapping


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)


@dataclass
class Doc:
    """A parsed document: the data, its node tree and the key index (or none for dicts)."""

    data: Any
    root: Node | None = None
    key_index: dict[int, dict[Any, tuple[Node, Node]]] | None = None
    text: str = ""


def _yaml_problem(path: str, err: yaml.YAMLError, text: str) -> Problem:
    if isinstance(err, _DuplicateKeyError) and err.problem_mark is not None:
        m = err.problem_mark
        return Problem(path, m.line + 1, m.column + 1, str(err.problem))
    if isinstance(err, yaml.composer.ComposerError) and "single document" in str(err.context):
        m = err.problem_mark
        line, col = (m.line + 1, m.column + 1) if m is not None else (1, 1)
        message = "a scenario file must hold one YAML document (remove '---')"
        return Problem(path, line, col, message)
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        constructing = isinstance(err, yaml.constructor.ConstructorError)
        kind = "YAML error" if constructing else "YAML syntax error"
        message = f"{kind}: {err.problem or err.context or 'invalid YAML'}"
        if err.context and err.problem:
            where = ""
            cmark = err.context_mark
            if cmark is not None and mark is not None and cmark.line != mark.line:
                where = f" started on line {cmark.line + 1}"
            message += f" ({err.context}{where})"
        if mark is None:
            return Problem(path, 1, 1, message)
        return Problem(path, mark.line + 1, mark.column + 1, message)
    if isinstance(err, yaml.reader.ReaderError):
        line, col = line_col(text, err.position)
        char = err.character
        shown = f"U+{char:04X}" if isinstance(char, int) else repr(char)
        return Problem(path, line, col, f"YAML does not allow the control character {shown}")
    return Problem(path, 1, 1, f"YAML error: {err}")


def parse_yaml(text: str, path: str) -> Doc:
    loader: _Loader | None = None
    try:
        loader = _Loader(text)
        root = loader.get_single_node()
        if root is not None:
            loader.check_expansion(root)
        data = loader.construct_document(root) if root is not None else None
        return Doc(data, root, loader.key_index, text)
    except yaml.YAMLError as e:
        raise ScenarioError(_yaml_problem(path, e, text)) from None
    except RecursionError:
        raise ScenarioError(Problem(path, 1, 1, "YAML nesting is too deep")) from None
    finally:
        if loader is not None:
            loader.dispose()


# --------------------------------------------------------------------------- locating


class Locator:
    """Maps a ``loc`` tuple to a 1-based (line, col) in the YAML source."""

    def __init__(self, doc: Doc) -> None:
        self.doc = doc

    def _walk(self, loc: Loc) -> tuple[Node | None, Node | None]:
        """(node, key node) for ``loc``, stopping at the deepest node that exists."""
        node, key_node = self.doc.root, None
        index = self.doc.key_index or {}
        for part in loc:
            if isinstance(node, MappingNode):
                try:
                    hit = index.get(id(node), {}).get(part)
                except TypeError:
                    hit = None
                if hit is None:
                    break
                key_node, node = hit
            elif isinstance(node, SequenceNode) and isinstance(part, int):
                if not 0 <= part < len(node.value):
                    break
                key_node, node = None, node.value[part]
            else:
                break
        return node, key_node

    def at(self, loc: Loc, *, key: bool = False, offset: int | None = None) -> tuple[int, int]:
        node, key_node = self._walk(loc)
        if key and key_node is not None:
            node = key_node
        if node is None:
            return (1, 1)  # an empty document
        line, col = node.start_mark.line + 1, node.start_mark.column + 1
        if offset is not None and isinstance(node, ScalarNode):
            return self._inside_scalar(node, offset) or (line, col)
        return line, col

    def key_text(self, loc: Loc) -> str | None:
        _, key_node = self._walk(loc)
        return key_node.value if isinstance(key_node, ScalarNode) else None

    def _inside_scalar(self, node: ScalarNode, offset: int) -> tuple[int, int] | None:
        """(line, col) of character ``offset`` of the scalar's stripped value, if mappable.

        Works for plain and quoted one-line scalars, multi-line plain scalars and simple
        block scalars (``|`` / ``>``); anything with escapes or blank lines gives None.
        """
        start = node.start_mark
        raw = self.doc.text[start.index : node.end_mark.index]
        value = node.value
        offset += len(value) - len(value.lstrip())
        # segments: (0-based line, 0-based column, text), joined by `sep` to give the value
        segments: list[tuple[int, int, str]] = []
        sep = " "
        if node.style in ("'", '"'):
            if "\n" in raw or raw != f"{node.style}{value}{node.style}":
                return None
            segments = [(start.line, start.column + 1, value)]
        elif node.style in ("|", ">"):
            sep = "\n" if node.style == "|" else " "
            lines = raw.split("\n")[1:]
            for k, text in enumerate(lines, start=start.line + 1):
                if text.strip():
                    indent = len(text) - len(text.lstrip(" "))
                    segments.append((k, indent, text.strip(" ")))
        else:
            for k, text in enumerate(raw.split("\n")):
                column = start.column if k == 0 else len(text) - len(text.lstrip(" "))
                segments.append((start.line + k, column, text.strip(" ")))
        if not segments or sep.join(t for _, _, t in segments) != value.rstrip("\n"):
            return None
        for line, column, text in segments:
            if offset <= len(text):
                return line + 1, column + offset + 1
            offset -= len(text) + len(sep)
        return None


class NoLocator(Locator):
    """For already-parsed data: no positions."""

    def __init__(self) -> None:
        super().__init__(Doc(None))

    def at(self, loc: Loc, *, key: bool = False, offset: int | None = None) -> tuple[int, int]:
        return (0, 0)

    def key_text(self, loc: Loc) -> str | None:
        return None
