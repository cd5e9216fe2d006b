"""``warmline db``, ``sync``, ``report``, ``calls`` and ``billing``: the records from the terminal.

Registered on the main command by :mod:`ivr.cli` (whose ``_fail``, ``_settings`` and
``_redacted`` these use). The database is ``Settings().records_url``: ``WARMLINE_DATABASE_URL``,
else SQLite under ``WARMLINE_DATA_DIR``. A URL is never printed with its password.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, cast
from zoneinfo import ZoneInfo

import click

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.engine import URL
    from sqlalchemy.orm import Session

    from ivr.records.reports import CallLine, GroupBy, PnlReport, PnlRow

T = TypeVar("T")


def _fail(message: str) -> NoReturn:
    from ivr.cli import _fail as fail

    fail(message)


def _shown(url: URL) -> str:
    from ivr.cli import _redacted

    return _redacted(url.render_as_string(hide_password=False))


def _records_url() -> URL:
    from ivr.cli import _settings

    return _settings({}).records_url


@contextmanager
def _database(url: URL) -> Iterator[Engine]:
    """An engine on ``url``; any database error ends the command with a readable message."""
    from sqlalchemy.exc import SQLAlchemyError

    from ivr.records.database import open_engine

    engine = open_engine(url)
    try:
        yield engine
    except SQLAlchemyError as error:
        cause = getattr(error, "orig", None) or error
        first = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        _fail(f"records database {_shown(url)}: {first}")
    finally:
        engine.dispose()


def _run(work: Callable[[Session], T], *, write: bool = False) -> T:
    """``work`` in one session on the configured, migrated records database."""
    from ivr.records.database import sessions
    from ivr.records.migrate import current, head

    url = _records_url()
    with _database(url) as engine:
        revision, wanted = current(engine), head()
        if revision != wanted:
            now = "has no schema yet" if revision is None else f"is at revision {revision}"
            _fail(
                f"the records database {_shown(url)} {now} (this Warmline needs {wanted}): "
                "run `warmline db upgrade`"
            )
        with sessions(engine)() as session:
            result = work(session)
            if write:
                session.commit()
            return result


def _period(first: str, last: str, zone: str) -> tuple[datetime, datetime, ZoneInfo]:
    from ivr.records.reports import parse_period

    try:
        start, end = parse_period(first, last, zone)
    except ValueError as error:
        _fail(str(error))
    return start, end, ZoneInfo(zone)


def _output(as_csv: bool, as_json: bool) -> str:
    if as_csv and as_json:
        _fail("choose one of --csv and --json")
    return "csv" if as_csv else "json" if as_json else "text"


# -- db and sync ---------------------------------------------------------------------------------


@click.group()
def db() -> None:
    """The records database's schema (SQLite by default, or $WARMLINE_DATABASE_URL)."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Migrate the records database to this Warmline's schema (head)."""
    from ivr.records.migrate import current, upgrade

    url = _records_url()
    with _database(url) as engine:
        before = current(engine)
        upgrade(engine)
        after = current(engine)
    note = " (already there)" if before == after else ""
    click.echo(f"records {_shown(url)}: {before or 'none'} → {after or 'none'}{note}")


@db.command("current")
def db_current() -> None:
    """Print the records database's schema revision and the one this Warmline needs."""
    from ivr.records.migrate import current, head

    url = _records_url()
    with _database(url) as engine:
        revision = current(engine)
    wanted = head()
    if revision == wanted:
        click.echo(f"{revision} (head)")
    else:
        click.echo(f"{revision or 'none'} (head is {wanted}: run `warmline db upgrade`)")


@click.command()
@click.option(
    "--deployment", help="Deployment file (default: $WARMLINE_DEPLOYMENT or warmline.yaml)."
)
def sync(deployment: str | None) -> None:
    """Copy the deployment's publishers, campaigns, numbers and officers into the records.

    Migrates the database first when it needs it. Idempotent: a second run changes nothing.
    Objects no longer in the file are marked inactive, never deleted.
    """
    from ivr.cli import _load_setup, _settings
    from ivr.records.database import sessions
    from ivr.records.migrate import current, upgrade
    from ivr.records.sync import sync_deployment

    settings = _settings({"deployment": deployment} if deployment else {})
    setup = _load_setup(settings.deployment)
    url = settings.records_url
    with _database(url) as engine:
        before = current(engine)
        upgrade(engine)
        after = current(engine)
        with sessions(engine)() as session:
            counts = sync_deployment(session, setup, datetime.now(UTC))
            session.commit()
    migrated = f" (migrated from {before or 'none'})" if before != after else ""
    click.echo(f"records {_shown(url)} at {after}{migrated}: synced {settings.deployment}")
    width = max(len(table) for table in counts)
    for table, count in counts.items():
        click.echo(
            f"{table:<{width}}  added {count.added}  changed {count.changed}  "
            f"deactivated {count.deactivated}  unchanged {count.unchanged}"
        )


# -- reports -------------------------------------------------------------------------------------


@click.group()
def report() -> None:
    """Reports over the records: the P&L and the call listing."""


_FROM = click.option("--from", "first", required=True, help="First day, YYYY-MM-DD.")
_TO = click.option("--to", "last", required=True, help="Last day, YYYY-MM-DD (inclusive).")
_TZ = click.option(
    "--tz", "zone", default="UTC", show_default=True, help="Time zone of the days (IANA name)."
)
_CSV = click.option("--csv", "as_csv", is_flag=True, help="Print CSV (a header, then rows).")
_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@report.command("pnl")
@click.option(
    "--by",
    type=click.Choice(
        ["publisher", "campaign", "officer", "source", "medium", "ad-campaign", "keyword"]
    ),
    required=True,
    help="One row per publisher, campaign or officer, or per web visit source, medium, ad "
    "campaign or keyword (utm_*; calls with no web visit in a '(none)' row).",
)
@_FROM
@_TO
@_TZ
@_CSV
@_JSON
def report_pnl(by: str, first: str, last: str, zone: str, as_csv: bool, as_json: bool) -> None:
    """Calls, billable rate, revenue, payout and margin (net of accepted adjustments)."""
    from ivr.records.reports import pnl

    output = _output(as_csv, as_json)
    start, end, _tz = _period(first, last, zone)
    group = cast("GroupBy", by)
    result = _run(lambda session: pnl(session, group, start, end))
    if output == "json":
        click.echo(json.dumps(result.as_dict(), indent=2))
    elif output == "csv":
        rows = [row.as_dict() for row in [*result.rows, result.totals]]
        click.echo(_csv(list(rows[0]), [list(row.values()) for row in rows]), nl=False)
    else:
        click.echo(_pnl_text(result, first, last, zone))


def _pnl_text(result: PnlReport, first: str, last: str, zone: str) -> str:
    header = f"P&L by {result.by}, {first} to {last} ({zone})"
    if not result.rows:
        return header + ": no calls"
    columns = [
        result.by,
        "id",
        "calls",
        "connected",
        "billable",
        "rate",
        "revenue",
        "payout",
        "margin",
        "avg score",
        "disputes open",
        "accepted",
    ]

    def cells(row: PnlRow) -> list[str]:
        rate, average = row.billable_rate, row.average_score
        return [
            row.name,
            row.key or "",
            f"{row.calls:,}",
            f"{row.connected:,}",
            f"{row.billable:,}",
            "-" if rate is None else f"{rate:.1%}",
            f"{row.revenue:,.2f}",
            f"{row.payout:,.2f}",
            f"{row.margin:,.2f}",
            "-" if average is None else f"{average:.1f}",
            f"{row.disputes_open:,}",
            f"{row.disputes_accepted:,}",
        ]

    body = [cells(row) for row in result.rows]
    return header + "\n" + _table(columns, body, [cells(result.totals)], left=2)


@report.command("calls")
@_FROM
@_TO
@_TZ
@_CSV
@_JSON
@click.option("--show-numbers", is_flag=True, help="Print callers' numbers in full.")
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    help="At most this many calls (0: all).",
)
def report_calls(
    first: str,
    last: str,
    zone: str,
    as_csv: bool,
    as_json: bool,
    show_numbers: bool,
    limit: int,
) -> None:
    """Every call started in the period, oldest first, with its billing (numbers masked)."""
    from ivr.records.reports import calls

    output = _output(as_csv, as_json)
    start, end, tz = _period(first, last, zone)
    listing = _run(
        lambda session: calls(session, start, end, show_numbers=show_numbers, limit=limit or None)
    )
    listing = [replace(line, started_at=line.started_at.astimezone(tz)) for line in listing]
    if output == "json":
        click.echo(json.dumps([line.as_dict() for line in listing], indent=2))
    elif output == "csv":
        columns = list(listing[0].as_dict()) if listing else _CALL_COLUMNS
        rows = [list(line.as_dict().values()) for line in listing]
        click.echo(_csv(columns, rows), nl=False)
    else:
        click.echo(_calls_text(listing, first, last, zone))
    if limit and len(listing) == limit:
        click.echo(f"warmline: the first {limit} calls only (--limit 0 for all)", err=True)


_CALL_COLUMNS = [
    "call_sid",
    "started_at",
    "campaign",
    "publisher",
    "caller",
    "state",
    "officer",
    "connected",
    "line_id",
    "bridged_s",
    "score",
    "billable",
    "rule",
    "reason",
    "revenue",
    "payout",
]


def _calls_text(listing: Sequence[CallLine], first: str, last: str, zone: str) -> str:
    header = f"calls {first} to {last} ({zone})"
    if not listing:
        return header + ": none"
    columns = [
        "started",
        "call sid",
        "campaign",
        "publisher",
        "caller",
        "state",
        "officer",
        "connected",
        "line",
        "bridged s",
        "score",
        "billable",
        "revenue",
        "payout",
        "reason",
    ]

    def blank(value: object) -> str:
        return "" if value is None else str(value)

    body = [
        [
            f"{line.started_at:%Y-%m-%d %H:%M:%S}",
            line.call_sid,
            line.campaign,
            line.publisher,
            line.caller,
            blank(line.state),
            blank(line.officer),
            "yes" if line.connected else "no",
            blank(line.line_id),
            "" if line.bridged_s is None else f"{line.bridged_s:.0f}",
            blank(line.score),
            "" if line.billable is None else "yes" if line.billable else "no",
            "" if line.revenue is None else f"{line.revenue:,.2f}",
            "" if line.payout is None else f"{line.payout:,.2f}",
            blank(line.reason) if line.line_id is not None else "(not ended)",
        ]
        for line in listing
    ]
    return header + "\n" + _table(columns, body, [], left=7, last_free=True)


def _table(
    columns: list[str],
    body: list[list[str]],
    footer: list[list[str]],
    *,
    left: int,
    last_free: bool = False,
) -> str:
    """Columns padded to their widest cell: the first ``left`` flush left, the rest right."""
    rows = [columns, *body, *footer]
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]

    def line(row: list[str]) -> str:
        cells = []
        for i, (cell, width) in enumerate(zip(row, widths, strict=True)):
            if last_free and i == len(row) - 1:
                cells.append(cell)
            elif i < left:
                cells.append(cell.ljust(width))
            else:
                cells.append(cell.rjust(width))
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * width for width in widths)
    lines = [line(columns), rule, *(line(row) for row in body)]
    if footer:
        lines += [rule, *(line(row) for row in footer)]
    return "\n".join(lines)


def _csv(columns: list[str], rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if value is None else value for value in row])
    return buffer.getvalue()


# -- one call ------------------------------------------------------------------------------------


@click.group("calls")
def calls_group() -> None:
    """Calls in the records."""


@calls_group.command("show")
@click.argument("call_sid")
@click.option("--json", "as_json", is_flag=True, help="Print the record as JSON.")
@click.option("--show-numbers", is_flag=True, help="Print phone numbers in full.")
def calls_show(call_sid: str, as_json: bool, show_numbers: bool) -> None:
    """Everything recorded about one call: answers, transfers, score, timeline, billing."""
    from ivr.records.reports import call_record

    record = _run(lambda session: call_record(session, call_sid, show_numbers=show_numbers))
    if record is None:
        _fail(f"no call '{call_sid}' in the records database {_shown(_records_url())}")
    if as_json:
        click.echo(json.dumps(record, indent=2, ensure_ascii=False))
    else:
        from ivr.records.record_text import record_text

        click.echo(record_text(record))


# -- disputes and corrections --------------------------------------------------------------------


@click.group()
def billing() -> None:
    """Disputes and corrections of billing lines (never deleted; the P&L counts accepted ones)."""


@billing.command("dispute")
@click.argument("line_id", type=int)
@click.option("--reason", required=True, help="Why the officer disputes the call.")
@click.option("--by", "raised_by", required=True, help="Who raises it (the officer's name).")
def billing_dispute(line_id: int, reason: str, raised_by: str) -> None:
    """Open a dispute of billing line LINE_ID (see `warmline report calls`)."""
    from ivr.records.disputes import dispute

    adjustment = _adjust(lambda s: dispute(s, line_id, reason, raised_by, datetime.now(UTC)))
    click.echo(
        f"dispute {adjustment['id']} opened on billing line {line_id}: resolve it with "
        f"`warmline billing resolve {adjustment['id']} accept|reject --by NAME`"
    )


@billing.command("resolve")
@click.argument("adjustment_id", type=int)
@click.argument("decision", type=click.Choice(["accept", "reject"]))
@click.option("--by", "resolved_by", required=True, help="Who decides (the operator's name).")
@click.option("--note", help="The resolution, for the record.")
@click.option(
    "--keep-payout", is_flag=True, help="Accepting: credit the revenue but still pay the publisher."
)
def billing_resolve(
    adjustment_id: int, decision: str, resolved_by: str, note: str | None, keep_payout: bool
) -> None:
    """Accept (credit the line) or reject an open dispute ADJUSTMENT_ID."""
    from ivr.records.disputes import resolve

    adjustment = _adjust(
        lambda s: resolve(
            s,
            adjustment_id,
            decision == "accept",
            resolved_by,
            note,
            datetime.now(UTC),
            keep_payout=keep_payout,
        )
    )
    click.echo(
        f"dispute {adjustment_id} {adjustment['status']}: revenue "
        f"{_signed(adjustment['revenue_delta'])}, payout {_signed(adjustment['payout_delta'])}"
    )


def _dollars(_ctx: click.Context, param: click.Parameter, value: str) -> Decimal:
    """A signed amount of dollars and cents: ``-45.00``, ``5``, ``+2.50``."""
    try:
        amount = Decimal(value.replace("$", "").replace(",", ""))
    except InvalidOperation:
        raise click.BadParameter(f"'{value}' is not an amount in dollars, e.g. -45.00") from None
    if not amount.is_finite() or amount != amount.quantize(Decimal("0.01")):
        raise click.BadParameter(f"'{value}' is not dollars and cents, e.g. -45.00")
    return amount


@billing.command("correct")
@click.argument("line_id", type=int)
@click.option("--revenue", default="0", callback=_dollars, help="Revenue change, e.g. -45.00.")
@click.option("--payout", default="0", callback=_dollars, help="Payout change, e.g. -35.00.")
@click.option("--reason", required=True, help="Why.")
@click.option("--by", "by", required=True, help="Who corrects it (the operator's name).")
def billing_correct(line_id: int, revenue: Decimal, payout: Decimal, reason: str, by: str) -> None:
    """An operator's correction of billing line LINE_ID's money, accepted at once."""
    from ivr.records.disputes import correct

    adjustment = _adjust(
        lambda s: correct(s, line_id, revenue, payout, reason, by, datetime.now(UTC))
    )
    click.echo(
        f"correction {adjustment['id']} on billing line {line_id}: revenue "
        f"{_signed(adjustment['revenue_delta'])}, payout {_signed(adjustment['payout_delta'])}"
    )


def _adjust(work: Callable[[Session], Any]) -> dict[str, Any]:
    """Run a dispute operation and commit it; its refusal ends the command with the reason."""
    from ivr.records.disputes import DisputeError
    from ivr.records.record import adjustment_dict

    def apply(session: Session) -> dict[str, Any]:
        try:
            return adjustment_dict(work(session))
        except DisputeError as error:
            _fail(str(error))

    return _run(apply, write=True)


def _signed(amount: str) -> str:
    return amount if amount.startswith("-") else f"+{amount}"
