"""Golden corpus: each flow in ``bad/`` reports exactly the problems its header lists, in order.

A file's leading comments say what to expect: ``# expect: LINE: MESSAGE`` once per problem
(the test puts the file's path in front, as ``warmline validate`` prints it).
Transfers are checked against the pools ``refi_team`` and ``purchase_team``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ivr.flows import load_flow_file
from ivr.problems import InvalidConfig
from tests.support.golden import expected_problems

pytestmark = pytest.mark.unit

BAD = Path(__file__).parent / "bad"
POOLS = ("refi_team", "purchase_team")


def _cases() -> list[Any]:
    return [
        pytest.param(path, expected_problems(path), id=path.stem)
        for path in sorted(BAD.glob("*.yaml"))
    ]


def test_the_corpus_covers_at_least_thirty_bad_flows() -> None:
    assert len(_cases()) >= 30


@pytest.mark.parametrize(("path", "expected"), _cases())
def test_bad_flow_reports_every_problem(path: Path, expected: list[str]) -> None:
    assert expected, f"{path.name} has no '# expect:' line"
    with pytest.raises(InvalidConfig) as caught:
        load_flow_file(path, known_pools=POOLS)
    assert [str(problem) for problem in caught.value.problems] == expected
