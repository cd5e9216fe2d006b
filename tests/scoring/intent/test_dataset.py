"""Reading and writing labelled utterances: every bad row is named by file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from scoring.intent.dataset import DatasetError, Utterance, read_utterances, write_utterances

pytestmark = pytest.mark.unit


def _file(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_rows_round_trip_with_their_facts(tmp_path: Path) -> None:
    rows = [
        Utterance(
            "uh we got the house, closing's the ninth", "ready", "warmline", "purchase", "self"
        ),
        Utterance("what's my payoff", "servicing", "qa", None, None, id="CA1"),
    ]
    path = tmp_path / "out.jsonl"
    assert write_utterances(path, rows) == 2
    assert read_utterances(path) == rows


def test_a_file_without_sources_is_named_by_its_stem(tmp_path: Path) -> None:
    path = _file(tmp_path, '{"text": "refi quote", "label": "shopping"}', "")
    (row,) = read_utterances(path)
    assert (row.source, row.label, row.text) == ("rows", "shopping", "refi quote")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not valid JSON"),
        ('["a list"]', "a row must be a JSON object"),
        ('{"text": "hi"}', "missing field 'label'"),
        ('{"text": "hi", "label": "hot"}', "label 'hot' is not one of ready, shopping"),
        ('{"text": "  ", "label": "ready"}', "field 'text' is empty"),
        ('{"text": "hi", "label": "ready", "mood": "x"}', "unknown field 'mood'"),
        ('{"text": 5, "label": "ready"}', "field 'text' must be a string"),
        ('{"text": "hi", "label": "ready", "loan_type": "boat"}', "loan_type 'boat' is not one"),
    ],
)
def test_a_bad_row_names_file_line_and_field(tmp_path: Path, line: str, message: str) -> None:
    path = _file(tmp_path, '{"text": "fine", "label": "ready"}', "", line)
    with pytest.raises(DatasetError) as error:
        read_utterances(path)
    assert str(error.value).startswith(f"{path}:3: ")
    assert message in str(error.value)
