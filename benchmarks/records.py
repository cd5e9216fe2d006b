"""Records: the P&L over a million billing lines, and what recording adds to a webhook, on SQLite
and PostgreSQL.

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

3. **webhook**: what recording a call adds to a webhook. Two copies of the real app run in this
   process on the same Redis, one journaling every call state and callback and running its
   recorder into a scratch database beside each target (``<sqlite-path>-webhook.db``,
   ``<database>_webhook``), the other journaling nothing; ``--webhook-calls`` calls each way
   (after 5 warm-up calls each), alternating, each a whole transferred call placed by the fake
   carrier (the scripts of ``webhook_load.py``, 13 webhooks). Per-webhook latency percentiles
   of both, and the difference. Then the journal's own steps alone: a call-state write with and
   without the ``XADD`` in its Lua script, and a callback's ``XADD``, 2,000 times each.

Target (from the issue): recording a call adds under **2 ms** at p99 to a webhook.

``--only pnl`` or ``--only webhook`` runs one part; the webhook part needs no generated data.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
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
from webhook_load import (  # noqa: E402
    ACCOUNT_SID,
    SCRIPTS,
    TRACKING_NUMBER,
    call_problem,
    free_port,
    latency_summary,
    machine,
    percentile,
    write_deployment,
)

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

    def scratch(self, suffix: str) -> str:
        """The URL of an empty database beside this one (the app migrates it)."""
        raise NotImplementedError


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

    def scratch(self, suffix: str) -> str:
        path = self.path.with_name(f"{self.path.stem}-{suffix}.db")
        for extra in ("", "-wal", "-shm"):
            Path(f"{path}{extra}").unlink(missing_ok=True)
        return f"sqlite:///{path}"

    def existing(self) -> Engine:
        if not self.path.is_file():
            raise SystemExit(f"--skip-generate: no SQLite file at {self.path}")
        return self._open()

    def write(self, chunk: Chunk) -> None:
        assert self.engine is not None
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("BEGIN")  # the driver begins nothing itself (ivr.records.database)
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
        self._recreate(str(self.url.database))
        self.engine = open_engine(self.url)
        upgrade(self.engine)
        return self.engine

    def scratch(self, suffix: str) -> str:
        name = f"{self.url.database}_{suffix}"
        self._recreate(name)
        return self.url.set(database=name).render_as_string(hide_password=False)

    def _recreate(self, name: str) -> None:
        admin = create_engine(self.url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()

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


# -- webhook-path overhead -----------------------------------------------------------------------

JOURNAL_ON, JOURNAL_OFF = "journal on", "journal off"
OVERHEAD_TARGET_MS = 2.0
OP_REPEATS = 2000
WARM_UP_CALLS = 5


def measure_webhook(
    args: argparse.Namespace, targets: Sequence[Target], expected: Expected | None
) -> dict[str, Any]:
    """What recording a call adds to a webhook, per database: whole webhooks with the journal
    on and off, and the journal's own steps timed alone."""
    del expected  # these calls are recorded into scratch databases of their own
    results: dict[str, Any] = {"errors": []}
    for target in targets:
        figures = asyncio.run(webhook_latencies(args, target.scratch("webhook")))
        on, off = figures[JOURNAL_ON], figures[JOURNAL_OFF]
        added = {key: on[key] - off[key] for key in ("p50_ms", "p95_ms", "p99_ms")}
        results[target.name] = {**figures, "added": added}
        results["errors"] += [f"{target.name}: {problem}" for problem in figures["problems"]]
        print(
            f"\nwebhooks, {target.name}: {args.webhook_calls} calls each way, alternating "
            f"({on['count']} and {off['count']} webhooks; the journaling app runs its recorder)"
        )
        print(f"  {'':12} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
        for label, row in ((JOURNAL_OFF, off), (JOURNAL_ON, on)):
            cells = " ".join(f"{row[k]:8.2f}" for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms"))
            print(f"  {label:12} {cells}")
        cells = " ".join(f"{added[k]:8.2f}" for k in ("p50_ms", "p95_ms", "p99_ms"))
        print(f"  {'added':12} {cells}   (target: p99 < {OVERHEAD_TARGET_MS:.0f} ms)")
    steps = asyncio.run(journal_steps(args))
    results["steps"] = steps
    print(f"\nthe journal's own steps, {OP_REPEATS} each (µs; Redis on {args.redis_url}):")
    print(f"  {'':38} {'p50':>7} {'p99':>7}")
    for label, row in steps.items():
        print(f"  {label:38} {row['p50_us']:7.0f} {row['p99_us']:7.0f}")
    return results


async def webhook_latencies(args: argparse.Namespace, records_url: str) -> dict[str, Any]:
    """Calls alternate between two otherwise identical apps in this process: one journals
    every call state and callback (and runs its recorder into ``records_url``, as every server
    does), the other journals nothing. The fake carrier places each call and answers it in
    full (the scripts of ``webhook_load.py``: every call is transferred, 13 webhooks); latency
    is the carrier's, per webhook."""
    from aiohttp.test_utils import TestServer
    from redis.asyncio import Redis

    from ivr.config import Settings
    from ivr.deployment import load_setup
    from ivr.server.app import WEBHOOKS, create_app
    from ivr.simulator.caller import ScriptedCaller
    from ivr.simulator.carrier import Carrier
    from ivr.simulator.session import number_config
    from ivr.telephony.call_store import CallStore

    token = "records" + secrets.token_hex(8)  # also the officers' id prefix: a name's letters
    latencies: dict[str, list[float]] = {JOURNAL_ON: [], JOURNAL_OFF: []}
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="warmline-webhooks-") as folder:
        setup = load_setup(write_deployment(Path(folder), token))
        redis = Redis.from_url(args.redis_url)
        async with contextlib.AsyncExitStack() as stack:
            stack.push_async_callback(redis.aclose)
            bases: dict[str, str] = {}
            for label in latencies:
                port = free_port()
                settings = Settings(  # type: ignore[call-arg]
                    twilio_auth_token=token,
                    public_url=f"http://127.0.0.1:{port}",
                    intent_model="",
                    database_url=records_url,
                )
                journaling = label == JOURNAL_ON
                app = create_app(settings, setup, args.redis_url, recorder=journaling)
                if not journaling:
                    app[WEBHOOKS].journal = None
                    app[WEBHOOKS].store = CallStore(redis, settings.call_ttl_s)
                await stack.enter_async_context(TestServer(app, port=port))
                bases[label] = settings.public_base
            rng = random.Random(args.seed)
            for index in range(2 * (WARM_UP_CALLS + args.webhook_calls)):
                label = (JOURNAL_ON, JOURNAL_OFF)[(index + index // 2) % 2]  # on off off on …
                _, turns = SCRIPTS[rng.randrange(len(SCRIPTS))]
                config = number_config(bases[label], token, account_sid=ACCOUNT_SID)
                async with Carrier(config) as carrier:
                    record = await carrier.place_call(
                        ScriptedCaller(turns),
                        from_number=f"+1512{rng.randrange(2_000_000, 9_999_999):07d}",
                        to_number=TRACKING_NUMBER,
                    )
                problem = call_problem(record)
                if problem:
                    problems.append(f"{label}: {problem}")
                if index >= 2 * WARM_UP_CALLS:  # first calls: caches, connections, migrations
                    latencies[label] += [r.elapsed_s for r in record.requests if r.status == 200]
    return {
        JOURNAL_ON: latency_summary(latencies[JOURNAL_ON]),
        JOURNAL_OFF: latency_summary(latencies[JOURNAL_OFF]),
        "problems": problems,
    }


async def journal_steps(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """The journal's work on the webhook path, alone: a call-state write with and without the
    ``XADD`` in its script, and a callback's ``XADD``."""
    from redis.asyncio import Redis

    from ivr.engine.state import Caller, CallState, HistoryEntry
    from ivr.records.journal import RecordJournal
    from ivr.telephony.call_store import CallStore

    state = CallState(
        call_sid="CA" + secrets.token_hex(16),
        flow="mortgage",
        flow_version="2",
        caller=Caller(
            number="+15125550123", called=TRACKING_NUMBER, campaign="sunbelt-refi",
            publisher="rate-compare",
        ),
        history=[HistoryEntry(at=time.time(), step=f"step{n}", event="enter") for n in range(12)],
        started_at=time.time(),
    )  # fmt: skip
    stream = f"warmline:benchmark:{secrets.token_hex(4)}"
    callback = {key: "x" * 24 for key in ("CallSid", "AccountSid", "From", "To", "Timestamp")}
    callback |= {"CallStatus": "completed", "SequenceNumber": "3", "CallDuration": "241"}
    redis = Redis.from_url(args.redis_url)
    try:
        stores = {
            "call-state write, no journal": CallStore(redis, 600, prefix=f"{stream}:a:"),
            "call-state write + journal XADD": CallStore(
                redis, 600, prefix=f"{stream}:b:", journal=stream
            ),
        }
        times: dict[str, list[float]] = {label: [] for label in stores}
        times["callback XADD"] = []
        journal = RecordJournal(redis, stream=stream)
        for store in stores.values():
            await store.create(state, "<Response/>")
        for _ in range(OP_REPEATS):
            for label, store in stores.items():
                stored = await store.get(state.call_sid)
                assert stored is not None
                began = time.perf_counter()
                await store.replace(stored, state, "<Response/>")
                times[label].append(time.perf_counter() - began)
            began = time.perf_counter()
            await journal.callback("status", callback, "token")
            times["callback XADD"].append(time.perf_counter() - began)
        await redis.delete(stream, *(store.key(state.call_sid) for store in stores.values()))
    finally:
        await redis.aclose()
    return {
        label: {
            "p50_us": percentile(sorted(values), 50) * 1e6,
            "p99_us": percentile(sorted(values), 99) * 1e6,
        }
        for label, values in times.items()
    }


MEASUREMENTS: dict[str, Callable[..., dict[str, Any]]] = {
    "pnl": measure_pnl,
    "webhook": measure_webhook,
}
"""Run in this order when no ``--only`` names one."""


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
    parser.add_argument("--only", choices=tuple(MEASUREMENTS), help="one measurement only")
    parser.add_argument(
        "--webhook-calls", type=int, default=150, help="calls each way, journal on and off"
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("WARMLINE_REDIS_URL", "redis://127.0.0.1:6379/13"),
        help="Redis for the webhook measurement (its keys are removed afterwards)",
    )
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
    measurements = {args.only: MEASUREMENTS[args.only]} if args.only else MEASUREMENTS
    expected: Expected | None = None
    try:
        if "pnl" not in measurements:
            pass  # the webhook measurement records into scratch databases of its own
        elif args.skip_generate:
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
