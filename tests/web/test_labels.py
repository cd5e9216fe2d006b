"""``warmline export labels``: QA verdicts as training rows, on SQLite and PostgreSQL, read back
by the very function ``warmline train intent --extra`` uses."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ivr.cli import main
from ivr.logs import mask_text
from ivr.records import tables as t
from ivr.web.labels import labelled_calls
from scoring.intent.dataset import MAX_TEXT_CHARS, read_utterances, write_utterances
from tests.support.records import add_answer, add_call, add_review, add_score, add_user

pytestmark = pytest.mark.integration

DAY = datetime(2026, 11, 10, 15, tzinfo=UTC)
COMPARING = (
    "we are lining up three lenders side by side on the closing costs for our refi, "
    "call me back on 512 555 0199"
)
CORRECTED = "the autopay on my existing mortgage bounced twice and the late fee looks wrong"
SPOKEN = ["hi so um", "our landlord is selling the duplex and we may try to buy it ourselves"]


def transcript(
    session: Session, call: t.Call, segments: list[dict[str, object]], minutes: int = 1
) -> None:
    sid = f"RE-{call.call_sid}-{minutes}"
    session.add(t.Recording(recording_sid=sid, call_sid=call.call_sid, created_at=DAY))
    session.add(
        t.Transcript(
            recording_sid=sid,
            call_sid=call.call_sid,
            text="",
            segments=segments,
            created_at=DAY + timedelta(minutes=minutes),
        )
    )


@pytest.fixture
def reviewed(records: Engine) -> Engine:
    """c1 agreed (goal heard); c2 agreed, then corrected; c3 no goal but a transcript; c4
    nothing said; c5 never reviewed; c6 reviewed but the day after."""
    with Session(records) as session:
        qa = add_user(session, "quinn")
        c1, _ = add_call(session, call_sid="c1", started_at=DAY)
        add_score(session, c1, intent="shopping", confidence=0.7)
        add_answer(session, c1, "loan_type", "refinance", heard="refinance")
        add_answer(session, c1, "goal", "ignored when heard", heard=f"  {COMPARING}  ")
        add_review(session, c1, qa, agrees=True)

        c2, _ = add_call(session, call_sid="c2", started_at=DAY + timedelta(hours=1))
        add_score(session, c2, intent="ready", confidence=0.4)
        add_answer(session, c2, "loan_type", "not-a-loan-type")
        add_answer(session, c2, "goal", CORRECTED, heard=None)
        add_review(session, c2, qa, agrees=True, at=DAY + timedelta(days=1))
        add_review(session, c2, qa, agrees=False, label="servicing", at=DAY + timedelta(days=2))

        c3, _ = add_call(session, call_sid="c3", started_at=DAY + timedelta(hours=2))
        add_score(session, c3, intent=None, confidence=None)
        transcript(
            session,
            c3,
            [
                {"speaker": "caller", "start": 0.0, "end": 1.0, "text": SPOKEN[0]},
                {"speaker": "officer", "start": 1.0, "end": 2.0, "text": "how can I help"},
                {"speaker": "caller", "start": 2.0, "end": 6.0, "text": SPOKEN[1]},
            ],
        )
        add_review(session, c3, qa, agrees=False, label="ready")

        c4, _ = add_call(session, call_sid="c4", started_at=DAY + timedelta(hours=3))
        add_score(session, c4, intent=None, confidence=None)
        add_answer(session, c4, "goal", "", heard="   ")
        add_review(session, c4, qa, agrees=False, label="not_interested")

        c5, _ = add_call(session, call_sid="c5", started_at=DAY + timedelta(hours=4))
        add_score(session, c5)
        add_answer(session, c5, "goal", "never reviewed so never exported")

        c6, _ = add_call(session, call_sid="c6", started_at=DAY + timedelta(days=1))
        add_score(session, c6, intent="researching")
        add_answer(session, c6, "goal", "just curious how escrow accounts get set up on a new loan")
        add_review(session, c6, qa, agrees=True)
        session.commit()
    return records


def test_labelled_rows(reviewed: Engine) -> None:
    with Session(reviewed) as session:
        result = labelled_calls(session)
    assert [(r.id, r.label, r.source, r.loan_type) for r in result.rows] == [
        ("c1", "shopping", "qa-review", "refinance"),
        ("c2", "servicing", "qa-review", None),  # the newest verdict, the corrected label
        ("c3", "ready", "qa-review", None),
        ("c6", "researching", "qa-review", None),
    ]
    texts = [r.text for r in result.rows]
    assert texts[0] == mask_text(COMPARING)
    assert texts[0].endswith("call me back on ••••••0199")
    assert texts[1] == CORRECTED
    assert texts[2] == " ".join(SPOKEN)  # the caller's channel only
    assert result.skipped == {"no text": 1, "no label": 0}
    assert result.from_transcripts == 1


def test_period_and_access_rule(reviewed: Engine) -> None:
    with Session(reviewed) as session:
        day = labelled_calls(session, DAY, DAY + timedelta(hours=2))
        assert [r.id for r in day.rows] == ["c1", "c2"]
        scoped = labelled_calls(session, where=t.Call.call_sid == "c6")
        assert [r.id for r in scoped.rows] == ["c6"]


def test_long_transcripts_are_cut_to_the_dataset_limit(reviewed: Engine) -> None:
    with Session(reviewed) as session:
        call = session.query(t.Call).filter_by(call_sid="c3").one()
        words = "we want to move the loan over to a lower rate this spring " * 60
        transcript(session, call, [{"speaker": "caller", "text": words}], minutes=2)
        session.commit()
        row = next(r for r in labelled_calls(session).rows if r.id == "c3")
    assert len(row.text) <= MAX_TEXT_CHARS
    assert row.text.startswith("hi so um our landlord")
    assert not row.text.endswith(" ")


def test_round_trip_through_the_training_loader(reviewed: Engine, tmp_path: Path) -> None:
    from scoring.intent.pipeline import load_training_data

    with Session(reviewed) as session:
        rows = labelled_calls(session).rows
    path = tmp_path / "labels.jsonl"
    assert write_utterances(path, rows) == 4
    assert read_utterances(path) == rows
    data = load_training_data(extra=[path])
    assert (data.extra_added, data.extra_dropped) == (4, 0)
    added = {r.id: r.label for r in data.train if r.source == "qa-review"}
    assert added == {"c1": "shopping", "c2": "servicing", "c3": "ready", "c6": "researching"}


def warmline(url: str, *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env={"WARMLINE_DATABASE_URL": url})


def test_the_command(reviewed: Engine, records_url: str, tmp_path: Path) -> None:
    out = tmp_path / "labels.jsonl"
    result = warmline(records_url, "export", "labels", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.stderr.strip() == (
        f"exported 4 labelled calls to {out} (1 from transcripts); skipped: 1 no text"
    )
    assert [r.id for r in read_utterances(out)] == ["c1", "c2", "c3", "c6"]

    printed = warmline(records_url, "export", "labels", "--from", "2026-11-11")
    assert printed.exit_code == 0, printed.output
    assert [json.loads(line)["id"] for line in printed.stdout.splitlines()] == ["c6"]
    assert printed.stderr.strip().startswith("exported 1 labelled calls (0 from transcripts)")

    until = warmline(records_url, "export", "labels", "--to", "2026-11-10", "--tz", "Asia/Tokyo")
    # Tokyo's 10 November ends at 15:00 UTC: c1 started exactly then, so nothing is in
    assert (until.exit_code, until.stdout) == (0, "")

    bad = warmline(records_url, "export", "labels", "--from", "2026-11-12", "--to", "2026-11-11")
    assert bad.exit_code == 1
    assert "'to' (2026-11-11) is before 'from' (2026-11-12)" in bad.stderr
