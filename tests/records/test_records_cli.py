"""``warmline db``, ``sync``, ``report``, ``calls show`` and ``billing`` through click's runner,
against the test databases (``WARMLINE_DATABASE_URL``), on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import re
import shlex
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ivr.cli import main
from ivr.deployment import load_setup
from ivr.records.migrate import head
from ivr.records.reports import pnl
from tests.support.records import add_call, add_officer, add_publisher
from tests.support.services import ROOT

pytestmark = pytest.mark.integration

SAMPLE = ROOT / "warmline.yaml"
DAY = datetime(2026, 11, 10, 15, tzinfo=UTC)


def split(command: str) -> list[str]:
    return shlex.split(command)


def warmline(url: str, *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env={"WARMLINE_DATABASE_URL": url})


@pytest.fixture
def calls_made(records: Engine) -> dict[str, int]:
    """Three calls on 10 November (two publishers), one on the 11th; their line ids."""
    with Session(records) as session:
        add_publisher(session, "pub-a", "Alpha Leads")
        add_publisher(session, "pub-b", "Beta, Media")  # a comma: CSV must quote it
        add_officer(session, "ana", "Ana Ruiz")
        _, billed = add_call(
            session, call_sid="CA-billed", started_at=DAY, publisher="pub-a", officer="ana",
            billable=True, revenue="45.00", payout="35.00", score=80,
        )  # fmt: skip
        _, short = add_call(
            session, call_sid="CA-short", started_at=DAY + timedelta(hours=1),
            publisher="pub-a", officer="ana", rule="short", reason="bridged 30 s < 90 s minimum",
            score=50, caller="+14045550177",
        )  # fmt: skip
        add_call(
            session, call_sid="CA-nobody", started_at=DAY + timedelta(hours=2), publisher="pub-b"
        )
        _, next_day = add_call(
            session, call_sid="CA-next-day", started_at=DAY + timedelta(days=1),
            publisher="pub-b", officer="ana", billable=True, revenue="40.00", payout="30.00",
        )  # fmt: skip
        session.commit()
        return {"billed": billed.id, "short": short.id, "next_day": next_day.id}


# -- db and sync -----------------------------------------------------------------------------


def test_db_upgrade_migrates_a_fresh_database_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    before = warmline(url, "db", "current")
    assert (before.exit_code, before.stdout) == (
        0,
        f"none (head is {head()}: run `warmline db upgrade`)\n",
    )
    first = warmline(url, "db", "upgrade")
    assert (first.exit_code, first.stdout) == (0, f"records {url}: none → {head()}\n")
    again = warmline(url, "db", "upgrade")
    assert again.stdout == f"records {url}: {head()} → {head()} (already there)\n"
    assert warmline(url, "db", "current").stdout == f"{head()} (head)\n"


def test_reports_refuse_a_database_without_the_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    result = warmline(url, *split("report pnl --by officer --from 2026-11-01 --to 2026-11-30"))
    assert result.exit_code == 1
    assert result.stderr == (
        f"warmline: the records database {url} has no schema yet (this Warmline needs "
        f"{head()}): run `warmline db upgrade`\n"
    )


def test_a_database_error_never_prints_the_password() -> None:
    url = "postgresql://warm:s3cret-pw@127.0.0.1:1/nowhere"
    result = warmline(url, "db", "current")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "warmline: records database postgresql+psycopg://warm:***@127.0.0.1:1/nowhere: "
    )
    assert "s3cret" not in result.output + result.stderr


def test_db_current_on_the_test_databases(records: Engine, records_url: str) -> None:
    assert warmline(records_url, "db", "current").stdout == f"{head()} (head)\n"


def test_sync_twice_changes_nothing_the_second_time(records: Engine, records_url: str) -> None:
    deployment = load_setup(SAMPLE).deployment
    expected = {
        "publishers": len(deployment.publishers),
        "campaigns": len(deployment.campaigns),
        "numbers": len(deployment.numbers),
        "officers": len(deployment.officers),
        "webhooks": len(deployment.webhooks),
    }
    first = warmline(records_url, "sync", "--deployment", str(SAMPLE))
    assert first.exit_code == 0, first.stderr
    assert _counts(first.stdout) == {
        table: {"added": n, "changed": 0, "deactivated": 0, "unchanged": 0}
        for table, n in expected.items()
    }
    second = warmline(records_url, "sync", "--deployment", str(SAMPLE))
    assert second.exit_code == 0, second.stderr
    assert _counts(second.stdout) == {
        table: {"added": 0, "changed": 0, "deactivated": 0, "unchanged": n}
        for table, n in expected.items()
    }
    assert f"at {head()}: synced {SAMPLE}" in second.stdout.splitlines()[0]


def _counts(stdout: str) -> dict[str, dict[str, int]]:
    counts = {}
    for line in stdout.splitlines()[1:]:
        table, *pairs = line.split()
        counts[table] = {pairs[i]: int(pairs[i + 1]) for i in range(0, len(pairs), 2)}
    return counts


def test_sync_refuses_a_bad_deployment(records: Engine, records_url: str) -> None:
    bad = ROOT / "tests" / "deployments" / "bad" / "duplicate_campaign_id.yaml"
    result = warmline(records_url, "sync", "--deployment", str(bad))
    assert result.exit_code == 1
    assert result.stderr.endswith("problem(s) in the deployment; not starting.\n")


# -- reports ---------------------------------------------------------------------------------


PNL = ("report", "pnl", "--by", "publisher", "--from", "2026-11-10", "--to", "2026-11-10")


def test_report_pnl_as_text(calls_made: dict[str, int], records_url: str) -> None:
    result = warmline(records_url, *PNL)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "P&L by publisher, 2026-11-10 to 2026-11-10 (UTC)"
    assert lines[1].split() == [
        "publisher", "id", "calls", "connected", "billable", "rate", "revenue", "payout",
        "margin", "avg", "score", "disputes", "open", "accepted",
    ]  # fmt: skip
    assert lines[3].split() == [
        "Alpha", "Leads", "pub-a", "2", "2", "1", "50.0%", "45.00", "35.00", "10.00", "65.0",
        "0", "0",
    ]  # fmt: skip
    assert lines[4].split() == [
        "Beta,", "Media", "pub-b", "1", "0", "0", "0.0%", "0.00", "0.00", "0.00", "-", "0", "0",
    ]  # fmt: skip
    assert lines[6].split() == [
        "(total)", "3", "2", "1", "33.3%", "45.00", "35.00", "10.00", "65.0", "0", "0",
    ]  # fmt: skip


def test_report_pnl_csv_and_json_parse_back(calls_made: dict[str, int], records_url: str) -> None:
    as_csv = warmline(records_url, *PNL, "--csv")
    assert as_csv.exit_code == 0, as_csv.stderr
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [(r["id"], r["name"], r["calls"], r["revenue"], r["margin"]) for r in rows] == [
        ("pub-a", "Alpha Leads", "2", "45.00", "10.00"),
        ("pub-b", "Beta, Media", "1", "0.00", "0.00"),
        ("", "(total)", "3", "45.00", "10.00"),
    ]
    assert (rows[0]["billable_rate"], rows[0]["average_score"], rows[1]["average_score"]) == (
        "0.5",
        "65.0",
        "",
    )
    as_json = warmline(records_url, *PNL, "--json")
    report = json.loads(as_json.stdout)
    assert (report["by"], report["from"], report["to"]) == (
        "publisher",
        "2026-11-10T00:00:00+00:00",
        "2026-11-11T00:00:00+00:00",
    )
    assert report["totals"] == {
        "id": None,
        "name": "(total)",
        "calls": 3,
        "connected": 2,
        "billable": 1,
        "billable_rate": 0.3333,
        "revenue": "45.00",
        "payout": "35.00",
        "margin": "10.00",
        "average_score": 65.0,
        "disputes_open": 0,
        "disputes_accepted": 0,
    }
    assert [row["id"] for row in report["rows"]] == ["pub-a", "pub-b"]


def test_report_pnl_days_are_in_the_given_zone(
    calls_made: dict[str, int], records_url: str
) -> None:
    # In Tokyo (UTC+9) the 11th runs from 15:00 UTC on the 10th to 15:00 UTC on the 11th.
    tokyo = ("report", "pnl", "--by", "officer", "--from", "2026-11-11", "--to", "2026-11-11")
    report = json.loads(warmline(records_url, *tokyo, "--tz", "Asia/Tokyo", "--json").stdout)
    assert (report["from"], report["to"]) == (
        "2026-11-11T00:00:00+09:00",
        "2026-11-12T00:00:00+09:00",
    )
    assert report["totals"]["calls"] == 3  # 15:00, 16:00, 17:00 UTC on the 10th; not the 11th's


def test_report_option_errors(records: Engine, records_url: str) -> None:
    both = warmline(records_url, *PNL, "--csv", "--json")
    assert (both.exit_code, both.stderr) == (1, "warmline: choose one of --csv and --json\n")
    bad_day = warmline(
        records_url, *split("report pnl --by officer --from 2026-13-01 --to 2026-12-01")
    )
    assert bad_day.stderr == "warmline: 'from' must be a date, YYYY-MM-DD (got '2026-13-01')\n"
    bad_zone = warmline(records_url, *PNL, "--tz", "Central")
    assert bad_zone.stderr.startswith("warmline: unknown time zone 'Central'")
    backwards = warmline(records_url, *split("report calls --from 2026-11-10 --to 2026-11-09"))
    assert backwards.stderr == "warmline: 'to' (2026-11-09) is before 'from' (2026-11-10)\n"
    bad_by = warmline(
        records_url, *split("report pnl --by state --from 2026-11-10 --to 2026-11-10")
    )
    assert bad_by.exit_code == 2
    assert "'state' is not one of 'publisher', 'campaign', 'officer'" in bad_by.stderr


CALLS = ("report", "calls", "--from", "2026-11-10", "--to", "2026-11-10")


def test_report_calls_masks_numbers_unless_asked(
    calls_made: dict[str, int], records_url: str
) -> None:
    listing = json.loads(warmline(records_url, *CALLS, "--json").stdout)
    assert [(c["call_sid"], c["caller"], c["line_id"]) for c in listing] == [
        ("CA-billed", "+1••••••0123", calls_made["billed"]),
        ("CA-short", "+1••••••0177", calls_made["short"]),
        ("CA-nobody", "+1••••••0123", listing[2]["line_id"]),
    ]
    assert listing[0]["revenue"] == "45.00"
    shown = json.loads(warmline(records_url, *CALLS, "--json", "--show-numbers").stdout)
    assert [c["caller"] for c in shown] == ["+15125550123", "+14045550177", "+15125550123"]
    text = warmline(records_url, *CALLS)
    assert "+15125550123" not in text.stdout
    assert text.stdout.splitlines()[0] == "calls 2026-11-10 to 2026-11-10 (UTC)"
    assert text.stdout.splitlines()[4].endswith("bridged 30 s < 90 s minimum")


def test_report_calls_csv_parses_back_and_warns_at_the_limit(
    calls_made: dict[str, int], records_url: str
) -> None:
    result = warmline(records_url, *CALLS, "--csv", "--limit", "2", "--tz", "America/Chicago")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["call_sid"], r["started_at"], r["billable"]) for r in rows] == [
        ("CA-billed", "2026-11-10T09:00:00-06:00", "True"),
        ("CA-short", "2026-11-10T10:00:00-06:00", "False"),
    ]
    assert result.stderr == "warmline: the first 2 calls only (--limit 0 for all)\n"


# -- one call and billing --------------------------------------------------------------------


def test_calls_show(calls_made: dict[str, int], records_url: str) -> None:
    text = warmline(records_url, "calls", "show", "CA-short")
    assert text.exit_code == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0] == "call CA-short: ended"
    assert "  caller     +1••••••0177 (TX)" in lines
    assert "  officer    Ana Ruiz (ana)" in lines
    assert (
        f"billing: line {calls_made['short']}, not billable (short): bridged 30 s < 90 s minimum"
        in lines
    )
    record = json.loads(warmline(records_url, "calls", "show", "CA-short", "--json").stdout)
    assert record["attribution"]["caller"] == "+1••••••0177"
    shown = warmline(records_url, "calls", "show", "CA-short", "--json", "--show-numbers")
    assert json.loads(shown.stdout)["attribution"]["caller"] == "+14045550177"
    missing = warmline(records_url, "calls", "show", "CA-nothing")
    assert missing.exit_code == 1
    assert missing.stderr.startswith("warmline: no call 'CA-nothing' in the records database ")


def test_billing_dispute_resolve_and_correct(
    calls_made: dict[str, int], records: Engine, records_url: str
) -> None:
    line = calls_made["billed"]
    opened = warmline(
        records_url, *split(f"billing dispute {line} --reason 'wrong number' --by 'Ana Ruiz'")
    )
    assert opened.exit_code == 0, opened.stderr
    match = re.fullmatch(
        rf"dispute (\d+) opened on billing line {line}: resolve it with "
        r"`warmline billing resolve \1 accept\|reject --by NAME`\n",
        opened.stdout,
    )
    assert match is not None, opened.stdout
    dispute_id = match.group(1)
    again = warmline(records_url, *split(f"billing dispute {line} --reason again --by Ana"))
    assert again.exit_code == 1
    assert again.stderr == (
        f"warmline: billing line {line} already has an open dispute (adjustment {dispute_id}, "
        "raised by Ana Ruiz): resolve it first\n"
    )
    accepted = warmline(
        records_url,
        *split(f"billing resolve {dispute_id} accept --by ops --note confirmed --keep-payout"),
    )
    assert accepted.stdout == f"dispute {dispute_id} accepted: revenue -45.00, payout +0.00\n"
    corrected = warmline(
        records_url,
        *split(
            f"billing correct {calls_made['next_day']} --revenue -5.00 --payout 2.5 "
            "--reason promo --by ops"
        ),
    )
    assert corrected.exit_code == 0, corrected.stderr
    assert re.fullmatch(
        rf"correction \d+ on billing line {calls_made['next_day']}: revenue -5.00, "
        r"payout \+2.50\n",
        corrected.stdout,
    )
    unbilled = warmline(
        records_url, *split(f"billing dispute {calls_made['short']} --reason x --by Ana")
    )
    assert unbilled.stderr.startswith(f"warmline: billing line {calls_made['short']} did not bill")
    bad_amount = warmline(
        records_url, *split(f"billing correct {line} --revenue ten --reason x --by ops")
    )
    assert bad_amount.exit_code == 2
    assert "'ten' is not an amount in dollars" in bad_amount.stderr
    with Session(records) as session:
        days = pnl(session, "publisher", DAY - timedelta(hours=1), DAY + timedelta(days=2))
    assert (days.totals.revenue, days.totals.payout) == (Decimal("35.00"), Decimal("67.50"))
    assert (days.totals.disputes_open, days.totals.disputes_accepted) == (0, 1)
