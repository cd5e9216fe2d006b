"""Records: how long the P&L takes over a million billing lines, on SQLite and PostgreSQL.

What it does, in one run:

1. **generate** (skipped with ``--skip-generate``, which reuses the databases as they are): a
   fresh SQLite file (``--sqlite-path``) and a fresh PostgreSQL database (``--postgres-url``,
   dropped and created), both migrated with ``ivr.records.migrate.upgrade``, get the same
   ``--calls`` ended calls and their billing lines: 3 publishers, 4 campaigns and 12 officers
   (skewed shares), start times spread over 90 days, about 60 % connected and 35 % billable,
   80 % scored, revenue at the officer's price and payout at the publisher's, plus disputes
   (about 3 % of billable lines: half accepted, a third rejected, the rest open) and operators'
   corrections (0.5 %). Rows are generated in chunks and written with the fast bulk paths:
   ``executemany`` in large transactions on SQLite, ``COPY`` through psycopg on PostgreSQL
   (then ``VACUUM ANALYZE``, as autovacuum would do after such a load).
2. **pnl**: ``ivr.records.reports.pnl`` by publisher, campaign and officer, over the whole 90
   days and over one calendar month inside them, ``--runs`` times each on each database, each
   run in a fresh session. The first run of each is kept in the figures (it is the one an
   operator waits for after the data was written). Each whole-period result is checked against
   the totals counted while generating (calls, billable, revenue, payout, open disputes): a
   mismatch is an error (exit status 1).

Target (from the issue): every P&L under **5 s** over 1,000,000 billing lines on both databases.

    .venv/bin/python benchmarks/records.py                       # 1,000,000 calls, both databases
    .venv/bin/python benchmarks/records.py --calls 100000 --runs 3
    .venv/bin/python benchmarks/records.py --skip-generate --json records.json

``--only pnl`` runs the P&L part alone (the only one so far); ``--only webhook`` is reserved for
the webhook-overhead measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402
from webhook_load import machine  # noqa: E402

from ivr.records import tables as t  # noqa: E402
from ivr.records.database import database_url, open_engine  # noqa: E402
from ivr.records.migrate import upgrade  # noqa: E402
from ivr.records.reports import GROUPS, pnl  # noqa: E402

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/warmline_records_benchmark"
DEFAULT_SQLITE_PATH = Path(tempfile.gettempdir()) / "warmline-records-benchmark.db"
TARGET_S = 5.0
FIRST_DAY = datetime(2026, 8, 1, tzinfo=UTC)
DAYS = 90
MONTH = (datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC))
CHUNK = 50_000
SYNCED_AT = datetime(2026, 7, 31, tzinfo=UTC)

PUBLISHERS = [("rate-compare", "RateCompare", 0.5), ("radio-spot", "Morning radio spot", 0.3)]
PUBLISHERS += [("search-ads", "Search ads", 0.2)]
PAYOUT_CENTS = {"rate-compare": 3500, "radio-spot": 2500, "search-ads": 3000}
CAMPAIGNS = [("sunbelt-refi", 0.4), ("national", 0.3), ("heloc-west", 0.2), ("va-loans", 0.1)]
OFFICERS = [f"officer-{n:02d}" for n in range(1, 13)]
OFFICER_WEIGHTS = [12 - n for n in range(12)]  # the first officers take more calls
OFFICER_PRICE_CENTS = {officer: 3800 + 100 * (n % 8) for n, officer in enumerate(OFFICERS)}
CONNECTED, BILLABLE_IF_CONNECTED, SCORED = 0.60, 0.35 / 0.60, 0.80
DISPUTED, CORRECTED = 0.03, 0.005
STATES = ["TX", "FL", "GA", "AZ", "NC", "TN", "CA", "NY"]
REFUSALS = [
    ("short", "bridged 42 s < 90 s minimum"),
    ("duplicate", "duplicate of call CA0123 2 days ago"),
    ("filters", "filters not met: no licence in CA"),
    ("score", "score 41 < 50 minimum"),
]
CALL_COLUMNS = (
    "id", "call_sid", "number", "campaign_id", "publisher_id", "caller", "caller_state", "flow",
    "flow_version", "status", "outcome", "repeat", "connected", "officer_id", "score",
    "started_at", "ended_at", "duration_s", "carrier_status", "carrier_sequence", "revision",
)  # fmt: skip
LINE_COLUMNS = (
    "id", "call_id", "officer_id", "publisher_id", "campaign_id", "started_at", "connected",
    "bridged_s", "score", "billable", "rule", "reason", "revenue_cents", "payout_cents",
    "decided_at",
)  # fmt: skip
ADJUSTMENT_COLUMNS = (
    "billing_line_id", "kind", "status", "reason", "raised_by", "raised_at",
    "revenue_delta_cents", "payout_delta_cents", "resolved_by", "resolved_at",
)  # fmt: skip
TIMES = {"started_at", "ended_at", "decided_at", "raised_at", "resolved_at"}
FLAGS = {"repeat", "connected", "billable"}


# -- the data -----------------------------------------------------------------------------------


@dataclass
class Expected:
    """What the generator wrote, to check the whole-period P&L against."""

    calls: int = 0
    connected: int = 0
    billable: int = 0
    revenue_cents: int = 0
    payout_cents: int = 0
    disputes_open: int = 0
    disputes_accepted: int = 0
    adjustments: int = 0


@dataclass
class Chunk:
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    lines: list[tuple[Any, ...]] = field(default_factory=list)
    adjustments: list[tuple[Any, ...]] = field(default_factory=list)


def start_times(count: int, rng: random.Random) -> list[datetime]:
    """``count`` call start times over the 90 days, busier on weekdays and in the daytime, in
    order (calls are recorded as they happen, so row order follows time)."""
    offsets = []
    span = DAYS * 86400
    while len(offsets) < count:
        second = rng.randrange(span)
        day, hour = divmod(second, 86400)[0], (second % 86400) // 3600
        weekday = (FIRST_DAY + timedelta(days=day)).weekday() < 5
        if rng.random() < (1.0 if weekday else 0.5) * (1.0 if 13 <= hour <= 23 else 0.3):
            offsets.append(second + rng.random())
    offsets.sort()
    return [FIRST_DAY + timedelta(seconds=s) for s in offsets]


def generate(count: int, seed: int, expected: Expected) -> Iterator[Chunk]:
    """The calls, lines and adjustments in chunks of :data:`CHUNK` calls."""
    rng = random.Random(seed)
    times = start_times(count, rng)
    publishers = [p for p, _, _ in PUBLISHERS]
    publisher_weights = [w for _, _, w in PUBLISHERS]
    campaigns = [c for c, _ in CAMPAIGNS]
    campaign_weights = [w for _, w in CAMPAIGNS]
    chunk = Chunk()
    for index, started in enumerate(times, start=1):
        publisher = rng.choices(publishers, publisher_weights)[0]
        campaign = rng.choices(campaigns, campaign_weights)[0]
        connected = rng.random() < CONNECTED
        officer = rng.choices(OFFICERS, OFFICER_WEIGHTS)[0] if connected else None
        billable = connected and rng.random() < BILLABLE_IF_CONNECTED
        score = min(100, max(0, int(rng.gauss(62, 18)))) if rng.random() < SCORED else None
        bridged = (
            float(rng.randint(95, 900) if billable else rng.randint(5, 80)) if connected else 0.0
        )
        duration = int(bridged) + rng.randint(40, 120)
        ended = started + timedelta(seconds=duration)
        if billable:
            assert officer is not None
            revenue, payout = OFFICER_PRICE_CENTS[officer], PAYOUT_CENTS[publisher]
            rule, reason = "billable", f"bridged {int(bridged)} s ≥ 90 s to {officer}"
        elif connected:
            revenue, payout = 0, 0
            rule, reason = rng.choice(REFUSALS)
        else:
            revenue, payout = 0, 0
            rule, reason = "not_connected", "not connected (no officer tried)"
        caller = f"+1{rng.randrange(200, 999)}555{rng.randrange(10000):04d}"
        chunk.calls.append(
            (
                index, f"CA{index:032x}", "+15125550100", campaign, publisher, caller,
                rng.choice(STATES), "mortgage", "v1", "ended",
                "transferred" if connected else "completed", False, connected, officer, score,
                started, ended, duration, "completed", 4, 10,
            )
        )  # fmt: skip
        chunk.lines.append(
            (
                index, index, officer, publisher, campaign, started, connected, bridged, score,
                billable, rule, reason, revenue, payout, ended + timedelta(seconds=2),
            )
        )  # fmt: skip
        expected.calls += 1
        expected.connected += connected
        expected.billable += billable
        expected.revenue_cents += revenue
        expected.payout_cents += payout
        if billable:
            chunk.adjustments.extend(adjustments(rng, index, revenue, payout, ended, expected))
        if len(chunk.calls) == CHUNK:
            yield chunk
            chunk = Chunk()
    if chunk.calls:
        yield chunk


def adjustments(
    rng: random.Random, line_id: int, revenue: int, payout: int, ended: datetime, expected: Expected
) -> list[tuple[Any, ...]]:
    made = []
    raised = ended + timedelta(hours=rng.randint(2, 72))
    resolved = raised + timedelta(hours=rng.randint(1, 48))
    if rng.random() < CORRECTED:
        delta = rng.choice([-500, 500, -1000])
        made.append(
            (line_id, "correction", "accepted", "bid was different", "ops", raised, delta, 0,
             "ops", raised)
        )  # fmt: skip
        expected.revenue_cents += delta
        revenue += delta
    if rng.random() < DISPUTED:
        roll = rng.random()
        if roll < 0.5:
            made.append(
                (line_id, "dispute", "accepted", "wrong number", "officer", raised, -revenue,
                 -payout, "ops", resolved)
            )  # fmt: skip
            expected.revenue_cents -= revenue
            expected.payout_cents -= payout
            expected.disputes_accepted += 1
        elif roll < 0.83:
            made.append(
                (line_id, "dispute", "rejected", "not a lead", "officer", raised, 0, 0, "ops",
                 resolved)
            )  # fmt: skip
        else:
            made.append(
                (line_id, "dispute", "open", "caller hung up", "officer", raised, 0, 0, None, None)
            )  # fmt: skip
            expected.disputes_open += 1
    expected.adjustments += len(made)
    return made


def deployment_rows(session: Session) -> None:
    for ident, name, _ in PUBLISHERS:
        session.add(t.Publisher(id=ident, name=name, active=True, synced_at=SYNCED_AT))
    for ident, _ in CAMPAIGNS:
        session.add(
            t.Campaign(
                id=ident,
                name=ident.replace("-", " ").title(),
                flow="mortgage",
                duplicate_window_h=72,
                duplicates_across_campaigns=False,
                active=True,
                synced_at=SYNCED_AT,
            )
        )
    for n, ident in enumerate(OFFICERS):
        session.add(
            t.Officer(
                id=ident,
                name=f"Officer {n + 1}",
                phone=f"+1512555{n:04d}",
                price_cents=OFFICER_PRICE_CENTS[ident],
                min_billable_s=90,
                loan_types=["refinance", "purchase"],
                licences={"TX": "2027-12-31"},
                duplicate_window_h=0,
                active=True,
                synced_at=SYNCED_AT,
            )
        )
    session.commit()


# -- the databases ------------------------------------------------------------------------------


class Target:
    """One database the benchmark writes and reads."""

    name = ""

    def __init__(self) -> None:
        self.engine: Engine | None = None

    def fresh(self) -> Engine:
        raise NotImplementedError

    def existing(self) -> Engine:
        raise NotImplementedError

    def write(self, chunk: Chunk) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """After the load: what the database would do on its own."""


class SqliteTarget(Target):
    name = "sqlite"

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def _open(self) -> Engine:
        self.engine = open_engine(database_url(f"sqlite:///{self.path}", "."))
        return self.engine

    def fresh(self) -> Engine:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        engine = self._open()
        upgrade(engine)
        return engine

    def existing(self) -> Engine:
        if not self.path.is_file():
            raise SystemExit(f"--skip-generate: no SQLite file at {self.path}")
        return self._open()

    def write(self, chunk: Chunk) -> None:
        assert self.engine is not None
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            for table, columns, rows in tables(chunk):
                marks = ", ".join("?" for _ in columns)
                cursor.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",  # noqa: S608
                    [sqlite_row(columns, row) for row in rows],
                )
            raw.commit()
        finally:
            raw.close()


def sqlite_row(columns: Sequence[str], row: tuple[Any, ...]) -> tuple[Any, ...]:
    """Values as SQLAlchemy stores them in SQLite: naive UTC times in its text format, 0/1."""
    out = []
    for column, value in zip(columns, row, strict=True):
        if column in TIMES and value is not None:
            value = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        elif column in FLAGS:
            value = int(value)
        out.append(value)
    return tuple(out)


class PostgresTarget(Target):
    name = "postgresql"

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = database_url(url, ".")

    def fresh(self) -> Engine:
        name = self.url.database
        admin = create_engine(self.url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()
        self.engine = open_engine(self.url)
        upgrade(self.engine)
        return self.engine

    def existing(self) -> Engine:
        self.engine = open_engine(self.url)
        return self.engine

    def write(self, chunk: Chunk) -> None:
        assert self.engine is not None
        raw = self.engine.raw_connection()
        try:
            connection: Any = raw.driver_connection
            with connection.cursor() as cursor:
                for table, columns, rows in tables(chunk):
                    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
                    with cursor.copy(statement) as copy:
                        for row in rows:
                            copy.write_row(row)
            connection.commit()
        finally:
            raw.close()

    def finish(self) -> None:
        assert self.engine is not None
        with self.engine.connect() as connection:
            for table in ("calls", "billing_lines"):
                sequence = f"pg_get_serial_sequence('{table}', 'id')"
                statement = f"SELECT setval({sequence}, max(id)) FROM {table}"  # noqa: S608
                connection.execute(text(statement))
            connection.commit()
        autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        with autocommit.connect() as connection:
            connection.execute(text("VACUUM ANALYZE"))


def tables(chunk: Chunk) -> list[tuple[str, Sequence[str], list[tuple[Any, ...]]]]:
    return [
        ("calls", CALL_COLUMNS, chunk.calls),
        ("billing_lines", LINE_COLUMNS, chunk.lines),
        ("adjustments", ADJUSTMENT_COLUMNS, chunk.adjustments),
    ]


def load(args: argparse.Namespace, targets: Sequence[Target]) -> Expected:
    expected = Expected()
    for target in targets:
        with Session(target.fresh()) as session:
            deployment_rows(session)
    began = time.perf_counter()
    seconds = dict.fromkeys((target.name for target in targets), 0.0)
    for chunk in generate(args.calls, args.seed, expected):
        for target in targets:
            mark = time.perf_counter()
            target.write(chunk)
            seconds[target.name] += time.perf_counter() - mark
        print(f"\r  generated {expected.calls:,} of {args.calls:,} calls", end="", flush=True)
    for target in targets:
        mark = time.perf_counter()
        target.finish()
        seconds[target.name] += time.perf_counter() - mark
    print()
    total = time.perf_counter() - began
    writes = ", ".join(f"{name} {s:.1f} s" for name, s in seconds.items())
    print(
        f"  {expected.calls:,} calls and lines, {expected.adjustments:,} adjustments in "
        f"{total:.1f} s (writing: {writes})"
    )
    return expected


# -- the measurements ---------------------------------------------------------------------------


def measure_pnl(
    args: argparse.Namespace, targets: Sequence[Target], expected: Expected | None
) -> dict[str, Any]:
    """``pnl()`` by each grouping over the whole period and one month, ``--runs`` times each."""
    periods = {
        f"{DAYS} days": (FIRST_DAY, FIRST_DAY + timedelta(days=DAYS)),
        "one month": MONTH,
    }
    figures: list[dict[str, Any]] = []
    errors: list[str] = []
    print(f"\n{'database':<11}{'by':<11}{'period':<11}{'rows':>5}{'calls':>11}"
          f"{'min s':>8}{'median s':>10}{'max s':>8}{'first s':>9}")  # fmt: skip
    for target in targets:
        assert target.engine is not None
        for period, (start, end) in periods.items():
            for by in GROUPS:
                times, report = [], None
                for _ in range(args.runs):
                    with Session(target.engine) as session:
                        began = time.perf_counter()
                        report = pnl(session, by, start, end)
                        times.append(time.perf_counter() - began)
                assert report is not None
                if expected is not None and period != "one month":
                    errors += check(target.name, by, report.totals, expected)
                row = {
                    "database": target.name,
                    "by": by,
                    "period": period,
                    "rows": len(report.rows),
                    "calls": report.totals.calls,
                    "min_s": min(times),
                    "median_s": statistics.median(times),
                    "max_s": max(times),
                    "first_s": times[0],
                    "runs": times,
                }
                figures.append(row)
                print(
                    f"{target.name:<11}{by:<11}{period:<11}{row['rows']:>5}{row['calls']:>11,}"
                    f"{row['min_s']:>8.3f}{row['median_s']:>10.3f}{row['max_s']:>8.3f}"
                    f"{row['first_s']:>9.3f}"
                )
    slowest = max(row["max_s"] for row in figures)
    verdict = "met" if slowest < TARGET_S else "NOT met"
    print(f"\nslowest P&L: {slowest:.3f} s; target under {TARGET_S:g} s: {verdict}")
    for error in errors:
        print(f"!! {error}", file=sys.stderr)
    return {"figures": figures, "slowest_s": slowest, "target_met": slowest < TARGET_S,
            "errors": errors}  # fmt: skip


def check(name: str, by: str, totals: Any, expected: Expected) -> list[str]:
    """The whole-period totals against what was generated."""
    got = {
        "calls": totals.calls,
        "connected": totals.connected,
        "billable": totals.billable,
        "revenue_cents": int(totals.revenue * 100),
        "payout_cents": int(totals.payout * 100),
        "disputes_open": totals.disputes_open,
        "disputes_accepted": totals.disputes_accepted,
    }
    wanted = {key: getattr(expected, key) for key in got}
    return [f"{name} by {by}: {got} != generated {wanted}"] if got != wanted else []


def measure_webhook(
    args: argparse.Namespace, targets: Sequence[Target], expected: Expected | None
) -> dict[str, Any]:
    raise SystemExit("--only webhook: the webhook-overhead measurement is not written yet")


MEASUREMENTS: dict[str, Callable[..., dict[str, Any]]] = {"pnl": measure_pnl}
"""Run in this order when no ``--only`` names one (the webhook measurement is still to come)."""


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time the records' P&L over many billing lines on SQLite and PostgreSQL.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--calls", type=int, default=1_000_000, help="calls (and lines) to make")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each P&L")
    parser.add_argument("--seed", type=int, default=1, help="fixes the generated calls")
    parser.add_argument(
        "--sqlite-path", type=Path, default=DEFAULT_SQLITE_PATH, help="the SQLite file"
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("WARMLINE_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="the PostgreSQL database, dropped and created (WARMLINE_BENCH_POSTGRES_URL)",
    )
    parser.add_argument(
        "--databases",
        default="sqlite,postgresql",
        help="which to measure, comma-separated: sqlite, postgresql",
    )
    parser.add_argument(
        "--skip-generate", action="store_true", help="reuse the databases from an earlier run"
    )
    parser.add_argument("--only", choices=("pnl", "webhook"), help="one measurement only")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    if args.calls < 1 or args.runs < 1:
        parser.error("--calls and --runs must be positive")
    args.databases = [name.strip() for name in args.databases.split(",") if name.strip()]
    if not args.databases or set(args.databases) - {"sqlite", "postgresql"}:
        parser.error("--databases: sqlite, postgresql or both")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    info = machine()
    targets: list[Target] = []
    if "sqlite" in args.databases:
        targets.append(SqliteTarget(args.sqlite_path))
    if "postgresql" in args.databases:
        targets.append(PostgresTarget(args.postgres_url))
    shown = ", ".join(
        str(target.path) if isinstance(target, SqliteTarget)
        else make_url(args.postgres_url).render_as_string(hide_password=True)
        for target in targets
    )  # fmt: skip
    print(
        f"records benchmark: {args.calls:,} calls on {shown}\n"
        f"machine: {info['cpus']} CPUs ({info['cpu_model']}), {info['memory_gib']} GiB, "
        f"Python {info['python']}, load average at start {info['load_average_at_start'][0]}"
    )
    measurements = {"webhook": measure_webhook} if args.only == "webhook" else MEASUREMENTS
    if args.only == "pnl":
        measurements = {"pnl": measure_pnl}
    expected: Expected | None = None
    try:
        if args.skip_generate:
            for target in targets:
                target.existing()
        else:
            expected = load(args, targets)
        results = {name: measure(args, targets, expected) for name, measure in measurements.items()}
    finally:
        for target in targets:
            if target.engine is not None:
                target.engine.dispose()
    result = {
        "machine": info,
        "calls": args.calls,
        "generated": None if expected is None else asdict(expected),
        **results,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 1 if any(part.get("errors") for part in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
