"""The flow and deployment loaders against mutated, hostile and oversized files.

Whatever the bytes, a file either loads or is refused with :class:`InvalidConfig`, every problem
located as ``path:line: message`` on a line the file has; no other exception escapes (the
server and ``warmline validate`` print these problems, a traceback would hide them). The good
files are mutated line by line (deleted, repeated, swapped, re-indented, scalars replaced,
anchors, aliases and tags inserted) and byte by byte (BOMs, other encodings, stray bytes).
"""

from __future__ import annotations

import copy
import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import event, given
from hypothesis import strategies as st

from ivr.deployment import Setup, load_setup
from ivr.flows import Flow, load_flow_file, load_flow_text
from ivr.problems import InvalidConfig
from ivr.yaml_source import MAX_BYTES, MAX_NODES
from tests.fuzz.hostile import FUZZ, INJECTIONS
from tests.support.services import ROOT

pytestmark = pytest.mark.unit

GOOD_FLOWS = sorted([ROOT / "flows" / "mortgage.yaml", *(ROOT / "tests/flows/good").glob("*.yaml")])
POOLS = ("refi_team", "purchase_team", "loan_officers")
DEPLOYMENT = ROOT / "warmline.yaml"

SNIPPETS = (
    "anchor: &a [1, 2, 3]",
    "alias: *a",
    "undefined: *nowhere",
    "<<: *a",
    "merge: {<<: {a: 1}}",
    "obj: !!python/object/apply:os.system ['echo pwned']",
    "obj: !!python/name:os.system",
    "bin: !!binary aGVsbG8=",
    "set: !!set {a, b}",
    "custom: !local thing",
    "? [complex, key]\n: value",
    "---",
    "...",
    "%YAML 1.1",
    "%TAG ! tag:example.com,2000:",
    "deep: " + "[" * 200 + "]" * 200,
    "deeper: " + "{a: " * 80 + "x" + "}" * 80,
    "dup: 1\ndup: 2",
    "{a: 1, a: 2}",
    "- item",
    "key: |\n  block\n    text",
    "key: >-\n folded",
    "'unterminated: x",
    '"\\xZZ"',
    "\t tabbed: x",
    "loop: &l [*l]",
    "yes: no",
    "012: 0o12",
    "NO: Norway",
)
scalars = st.one_of(
    st.sampled_from(INJECTIONS),
    st.sampled_from(["null", "~", "true", "no", "0x1F", "1e3", ".inf", "[]", "{}", "''", "-"]),
    st.sampled_from(SNIPPETS).map(lambda s: s.splitlines()[0]),
    st.integers().map(str),
    st.floats().map(str),
    st.text(st.characters(exclude_categories=["Cs"]), max_size=30),
)


@dataclass(frozen=True)
class Mutation:
    kind: str
    at: int
    other: int
    text: str

    def apply(self, lines: list[str]) -> list[str]:
        if not lines:
            return [self.text]
        i, j = self.at % len(lines), self.other % len(lines)
        line = lines[i]
        if self.kind == "delete":
            return lines[:i] + lines[i + 1 :]
        if self.kind == "duplicate":
            return [*lines[: i + 1], line, *lines[i + 1 :]]
        if self.kind == "swap":
            swapped = list(lines)
            swapped[i], swapped[j] = lines[j], lines[i]
            return swapped
        if self.kind == "indent":
            shift = self.other % 9 - 4
            stripped = line.lstrip(" ")
            width = max(0, len(line) - len(stripped) + shift)
            return [*lines[:i], " " * width + stripped, *lines[i + 1 :]]
        if self.kind == "tab":
            return [*lines[:i], "\t" + line, *lines[i + 1 :]]
        if self.kind == "scalar":
            key, colon, _ = line.partition(": ")
            replaced = f"{key}: {self.text}" if colon else f"{line.rstrip(':')} {self.text}"
            return [*lines[:i], replaced, *lines[i + 1 :]]
        assert self.kind == "insert"
        indent = " " * (self.other % 5)
        inserted = [indent + part for part in self.text.splitlines() or [""]]
        return lines[:i] + inserted + lines[i:]


mutations = st.builds(
    Mutation,
    kind=st.sampled_from(["delete", "duplicate", "swap", "indent", "tab", "scalar", "insert"]),
    at=st.integers(0, 10_000),
    other=st.integers(0, 10_000),
    text=st.one_of(scalars, st.sampled_from(SNIPPETS)),
)
ENCODINGS = ("utf-8",) * 6 + ("utf-8-sig", "latin-1", "utf-16", "cp1252")


@st.composite
def mutated(draw: st.DrawFn, original: str) -> bytes:
    """The file's text with a few line mutations, then encoded and perhaps damaged."""
    lines = original.splitlines()
    for mutation in draw(st.lists(mutations, min_size=1, max_size=3)):
        lines = mutation.apply(lines)
    text = "\n".join(lines) + draw(st.sampled_from(["\n", "", "\r\n", "\n\n\n"]))
    encoding = draw(st.sampled_from(ENCODINGS))
    data = text.encode(encoding, errors="replace")
    if draw(st.sampled_from((False, False, False, True))):
        at = draw(st.integers(0, len(data)))
        junk = draw(st.one_of(st.binary(min_size=1, max_size=8), st.just(b"\x00")))
        data = data[:at] + junk + data[at:]
    return data


plain_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), scalars),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(scalars, inner, max_size=3)
    ),
    max_leaves=6,
)


@functools.cache
def _parsed(original: str) -> Any:
    return yaml.safe_load(original)


@st.composite
def restructured(draw: st.DrawFn, original: str) -> bytes:
    """The file's data with a few nodes replaced, removed, repeated or renamed: valid YAML whose
    meaning is wrong, so the schema and the cross-checks do the refusing."""
    data = copy.deepcopy(_parsed(original))
    for _ in range(draw(st.integers(1, 3))):
        parent: Any = None
        key: Any = None
        node: Any = data
        while isinstance(node, dict | list) and node and draw(st.integers(0, 3)) > 0:
            parent = node
            key = draw(st.sampled_from(list(node) if isinstance(node, dict) else range(len(node))))
            node = node[key]
        if parent is None:
            continue
        action = draw(st.sampled_from(["replace", "replace", "remove", "repeat", "rename"]))
        if action == "replace":
            parent[key] = draw(plain_values)
        elif action == "remove":
            del parent[key]
        elif action == "repeat" and isinstance(parent, list):
            parent.insert(key, copy.deepcopy(node))
        elif isinstance(parent, dict):
            parent[draw(scalars)] = parent.pop(key)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode()


def hostile_file(original: str) -> st.SearchStrategy[bytes]:
    return st.one_of(mutated(original), restructured(original))


def check_refusal(error: InvalidConfig, path: Path, data: bytes) -> None:
    """Every problem names the file and one of its lines, and says something."""
    assert error.problems
    event("refused: " + error.problems[0].message.split(":")[0].split("'")[0][:40])
    last = data.count(b"\n") + 1
    for problem in error.problems:
        assert problem.message.strip(), problem
        assert isinstance(problem.line, int) and 1 <= problem.line <= last, (problem, last)
        assert str(problem).startswith(f"{problem.path}:{problem.line}: ")
        assert problem.path == str(path) or Path(problem.path).parent.name == "flows", problem


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder like the repository's root: the deployment's flows and do-not-call list."""
    folder = tmp_path_factory.mktemp("loader-fuzz")
    os.symlink(ROOT / "flows", folder / "flows")
    os.symlink(ROOT / "do-not-call.txt", folder / "do-not-call.txt")
    return folder


def written(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("good", GOOD_FLOWS, ids=lambda p: p.stem)
@FUZZ
@given(data=st.data())
def test_a_mutated_flow_loads_or_is_refused_with_located_problems(
    workdir: Path, good: Path, data: st.DataObject
) -> None:
    raw = data.draw(hostile_file(good.read_text(encoding="utf-8")))
    path = written(workdir, f"mutated-{good.name}", raw)
    try:
        flow = load_flow_file(path, known_pools=POOLS)
    except InvalidConfig as error:
        check_refusal(error, path, raw)
    else:
        assert isinstance(flow, Flow) and flow.steps


@FUZZ
@given(data=st.data())
def test_a_mutated_flow_text_loads_or_is_refused_with_located_problems(
    data: st.DataObject,
) -> None:
    good = data.draw(st.sampled_from(GOOD_FLOWS))
    text = data.draw(hostile_file(good.read_text(encoding="utf-8"))).decode("utf-8", "replace")
    try:
        load_flow_text(text, "mutated.yaml", known_pools=POOLS)
    except InvalidConfig as error:
        check_refusal(error, Path("mutated.yaml"), text.encode())


@FUZZ
@given(data=st.data())
def test_a_mutated_deployment_loads_or_is_refused_with_located_problems(
    workdir: Path, data: st.DataObject
) -> None:
    raw = data.draw(hostile_file(DEPLOYMENT.read_text(encoding="utf-8")))
    path = written(workdir, "warmline.yaml", raw)
    try:
        setup = load_setup(path)
    except InvalidConfig as error:
        check_refusal(error, path, raw)
    else:
        assert isinstance(setup, Setup) and setup.flows


def test_the_unmutated_files_load(workdir: Path) -> None:
    """The control: the fuzzed files themselves are good, so refusals are the mutations'."""
    for good in GOOD_FLOWS:
        assert load_flow_file(good, known_pools=POOLS).steps
    path = written(workdir, "warmline.yaml", DEPLOYMENT.read_bytes())
    assert load_setup(path).flows


def alias_bomb(levels: int = 9, fan_out: int = 9) -> str:
    """A "billion laughs": each anchor a list of aliases to the one before, 9**9 leaves."""
    lines = ["flow: bomb", f"a0: &a0 [{', '.join(['lol'] * fan_out)}]"]
    for level in range(1, levels + 1):
        aliases = ", ".join([f"*a{level - 1}"] * fan_out)
        lines.append(f"a{level}: &a{level} [{aliases}]")
    return "\n".join(lines) + "\n"


@pytest.mark.timeout(10)
def test_an_alias_bomb_is_refused_without_expanding_it(workdir: Path) -> None:
    text = alias_bomb()
    path = written(workdir, "bomb.yaml", text.encode())
    for load in (lambda: load_flow_file(path), lambda: load_setup(path)):
        with pytest.raises(InvalidConfig) as caught:
            load()
        [problem] = caught.value.problems
        assert problem.path == str(path)
        assert problem.message == f"document has more than {MAX_NODES} nodes"
        assert 2 <= problem.line <= text.count("\n")


@pytest.mark.timeout(10)
@pytest.mark.parametrize("name", ["big-flow.yaml", "warmline.yaml"])
def test_a_ten_megabyte_file_is_refused_before_it_is_parsed(workdir: Path, name: str) -> None:
    # Valid YAML all through: only its size can refuse it.
    data = b"flow: big\ndescription: |\n" + b"  lol lol lol lol lol lol lol\n" * 350_000
    assert len(data) > 10_000_000
    path = written(workdir, name, data)
    load = load_setup if name == "warmline.yaml" else load_flow_file
    with pytest.raises(InvalidConfig) as caught:
        load(path)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:1: file is larger than {MAX_BYTES} bytes"
    ]


@pytest.mark.parametrize(
    ("junk", "message"),
    [
        (b"\xff", "cannot read file: not UTF-8 text (byte 0xff)"),
        (b"\xc3(", "cannot read file: not UTF-8 text (byte 0xc3)"),
        (b"\x07", "invalid YAML: special characters are not allowed (#x0007)"),
        (b"\x00", "invalid YAML: special characters are not allowed (#x0000)"),
    ],
)
def test_a_bad_byte_is_reported_on_its_own_line(workdir: Path, junk: bytes, message: str) -> None:
    data = b"flow: x\nsteps:\n  - id: a" + junk + b"\n    kind: hangup\n"
    path = written(workdir, "bad-byte.yaml", data)
    with pytest.raises(InvalidConfig) as caught:
        load_flow_file(path)
    assert [str(p) for p in caught.value.problems] == [f"{path}:3: {message}"]


def test_a_tag_on_a_key_is_refused_like_a_tag_on_a_value(workdir: Path) -> None:
    """A tagged key used to be read as plain text, though a tag anywhere else is refused."""
    data = b"flow: x\n!!python/name:os.system steps: []\n!custom start: a\n"
    path = written(workdir, "tagged-key.yaml", data)
    with pytest.raises(InvalidConfig) as caught:
        load_flow_file(path)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:2: unsupported YAML tag tag:yaml.org,2002:python/name:os.system",
        f"{path}:3: unsupported YAML tag !custom",
    ]
