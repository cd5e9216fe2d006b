"""Safe YAML reading that keeps line numbers and never guesses types.

Flows and the deployment file are read with PyYAML's composer only: no constructor runs, so no
Python object can be built from YAML. Every scalar stays a string (``NO``, ``012`` and ``on`` are
exactly what the author typed) and the pydantic schema decides what a field means. Duplicate keys
and unknown tags are errors, and anchors cannot expand into an alias bomb.

Both loaders (flows and the deployment file) read through here, so the limits below are the
only ones: a file too large or a document too big is one located problem, found before any
work that grows with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from ivr.problems import InvalidConfig, Problem

Location = tuple[str | int, ...]

MAX_BYTES = 1 << 20
"""The largest file read, 1 MiB (the sample deployment and flow are 4 and 6 KiB). Checked on
the bytes before anything is decoded or parsed, so a 10 MB file costs one bounded read."""
MAX_NODES = 100_000
"""The most values a document may hold with every alias expanded. Counted on the composed graph,
where an alias is its anchor's node object, so a "billion laughs" (nine levels of nine aliases:
9**9 values from 400 bytes) is refused without expanding a single alias."""
MAX_DEPTH = 64
_NULLS = {"", "~", "null", "Null", "NULL"}
_STANDARD_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
}


@dataclass
class Source:
    """A YAML document as plain data, with the line of every key and item."""

    path: str
    data: Any
    lines: dict[Location, int] = field(default_factory=dict)

    def line(self, location: Location) -> int:
        """The line of the deepest known node on ``location`` (1 for the document)."""
        for end in range(len(location), -1, -1):
            found = self.lines.get(tuple(location[:end]))
            if found is not None:
                return found
        return 1

    def problem(self, location: Location, message: str) -> Problem:
        return Problem(self.path, self.line(location), message)


def read_yaml(text: str, path: str) -> Source:
    """Parse ``text`` into plain dicts, lists and strings, or raise :class:`InvalidConfig`."""
    if len(text) > MAX_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise InvalidConfig([Problem(path, 1, f"file is larger than {MAX_BYTES} bytes")])
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise InvalidConfig([Problem(path, 1, "the document is nested too deeply")]) from None
    except yaml.reader.ReaderError as exc:  # a control character: located by its position
        line = text.count("\n", 0, exc.position) + 1
        message = f"invalid YAML: {exc.reason} (#x{exc.character:04x})"
        raise InvalidConfig([Problem(path, line, message)]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise InvalidConfig([Problem(path, line, f"invalid YAML: {exc.problem}")]) from None
    except yaml.YAMLError as exc:
        raise InvalidConfig([Problem(path, 1, f"invalid YAML: {exc}")]) from None
    source = Source(path, None)
    if root is None:
        raise InvalidConfig([Problem(path, 1, "the file is empty")])
    if (beyond := _node_beyond_limit(root)) is not None:
        line = beyond.start_mark.line + 1
        raise InvalidConfig([Problem(path, line, f"document has more than {MAX_NODES} nodes")])
    builder = _Builder(source)
    source.data = builder.build(root, ())
    if builder.problems:
        raise InvalidConfig(builder.problems)
    return source


def read_yaml_file(path: str) -> Source:
    """Read a file from disk; unreadable files are reported like any other problem."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise InvalidConfig([Problem(path, 1, f"cannot read file: {exc}")]) from None
    if len(data) > MAX_BYTES:
        raise InvalidConfig([Problem(path, 1, f"file is larger than {MAX_BYTES} bytes")])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        message = f"cannot read file: not UTF-8 text (byte {data[exc.start]:#04x})"
        raise InvalidConfig([Problem(path, line, message)]) from None
    return read_yaml(text, path)


def _values(node: yaml.Node) -> list[yaml.Node]:
    """The nodes the builder turns into values: items, and values of plain non-merge keys."""
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [
            value
            for key, value in node.value
            if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge"
        ]
    return []


def _node_beyond_limit(root: yaml.Node) -> yaml.Node | None:
    """The value that would be the document's ``MAX_NODES + 1``-th once built, or None.

    Each distinct node's expanded size is counted once, children first (capped, so the numbers
    stay small), without following an alias into itself. Then the walk from the root goes down
    into the one subtree that holds the first value too many, for its line.
    """
    cap = MAX_NODES + 1
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            on_path.discard(id(node))
            size = 1 + sum(sizes.get(id(child), 1) for child in _values(node))
            sizes[id(node)] = min(size, cap)
        elif id(node) not in sizes and id(node) not in on_path:
            on_path.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in _values(node))
    if sizes[id(root)] <= MAX_NODES:
        return None
    position, node = cap, root  # the first value too many, counted in document order
    while position > 1:
        position -= 1
        for child in _values(node):
            size = sizes.get(id(child), 1)
            if position <= size:
                node = child
                break
            position -= size
        else:
            break
    return node


class _Builder:
    def __init__(self, source: Source) -> None:
        self.source = source
        self.problems: list[Problem] = []
        self.open: set[int] = set()  # nodes being built: an alias to one of them is a cycle

    def build(self, node: yaml.Node, location: Location) -> Any:
        line = node.start_mark.line + 1
        if id(node) in self.open:
            self.problems.append(Problem(self.source.path, line, "recursive YAML alias"))
            return None
        if len(location) > MAX_DEPTH:
            self.problems.append(
                Problem(self.source.path, line, f"nested deeper than {MAX_DEPTH} levels")
            )
            return None
        self.source.lines.setdefault(location, line)
        if node.tag not in _STANDARD_TAGS:
            self.problems.append(
                Problem(self.source.path, line, f"unsupported YAML tag {node.tag}")
            )
            return None
        if isinstance(node, yaml.ScalarNode):
            if node.style is None and node.value in _NULLS:
                return None
            return str(node.value)
        self.open.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, (*location, i)) for i, item in enumerate(node.value)]
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, location)
        finally:
            self.open.discard(id(node))
        raise AssertionError(f"unexpected YAML node {node!r}")  # pragma: no cover

    def _mapping(self, node: yaml.MappingNode, location: Location) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.problems.append(
                    Problem(self.source.path, key_line, "merge keys ('<<') are not supported")
                )
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.append(Problem(self.source.path, key_line, "keys must be plain text"))
                continue
            if key_node.tag not in _STANDARD_TAGS:  # a key is refused a tag as any value is
                message = f"unsupported YAML tag {key_node.tag}"
                self.problems.append(Problem(self.source.path, key_line, message))
                continue
            key = str(key_node.value)
            if key in result:
                first = self.source.lines.get((*location, key), key_line)
                self.problems.append(
                    Problem(
                        self.source.path,
                        key_line,
                        f"duplicate key '{key}' (first defined on line {first})",
                    )
                )
                continue
            self.source.lines[(*location, key)] = key_line
            result[key] = self.build(value_node, (*location, key))
            self.source.lines[(*location, key)] = key_line
        return result
