"""The QA call list and review queue over 100,000 calls, on SQLite and PostgreSQL.

What it does, in one run:

1. **generate** (skipped with ``--skip-generate``): the calls, billing lines and adjustments of
   ``benchmarks/records.py`` (its generator and bulk writers: 3 publishers, 4 campaigns, 12
   officers, 90 days, about 60 % connected and 80 % scored), plus what the QA pages read: a
   ``scores`` row for every scored call (an intent label and the classifier's confidence,
   uniform 0.2–1.0, none for 2 % of them; the label copied onto ``calls.intent``), two QA users,
   and reviews of 5 % of the ended calls (a fifth of those reviewed twice). Fresh SQLite file
   and PostgreSQL database, migrated, ``VACUUM ANALYZE`` on PostgreSQL after the load; SQLite
   is left unanalysed, as a deployment's file would be.
2. **measure**: ``ivr.web.queries.list_calls`` (a page of 50 and its total count) and
   ``review_queue`` (20 calls), ``--runs`` times each in a fresh session: the first page
   newest first; page 50; the deepest page (100 of 100 calls); one campaign over one month;
   sorted by confidence (lowest first); unreviewed calls of one publisher, billable, by score;
   one officer's calls (the access rule an officer signs in with); the review queue, and the
   review queue for one officer.

Target (from the brief): each under **200 ms** on both databases.

    .venv/bin/python benchmarks/call_list.py                  # 100,000 calls, both databases
    .venv/bin/python benchmarks/call_list.py --calls 20000 --only sqlite
    .venv/bin/python benchmarks/call_list.py --skip-generate --runs 9 --json call_list.json
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from records import (  # noqa: E402
    DAYS,
    DEFAULT_POSTGRES_URL,
    DEFAULT_SQLITE_PATH,
    FIRST_DAY,
    MONTH,
    Chunk,
    Expected,
    PostgresTarget,
    SqliteTarget,
    Target,
    deployment_rows,
    generate,
)
from sqlalchemy import text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402
from webhook_load import machine  # noqa: E402

from ivr.records import tables as t  # noqa: E402
from ivr.web.queries import CallFilters, list_calls, review_queue  # noqa: E402
from scoring.intent.labels import LABELS  # noqa: E402

TARGET_MS = 200.0
INTENT_WEIGHTS = [0.2, 0.35, 0.25, 0.1, 0.1]
REVIEWED, TWICE, NO_CONFIDENCE = 0.05, 0.2, 0.02
SCORE_COLUMNS = (
    "call_id", "score", "qualified", "intent", "confidence", "probabilities", "reasons",
)  # fmt: skip
REVIEW_COLUMNS = ("call_id", "reviewer_id", "agrees", "label", "billable", "notes", "created_at")


def extras(chunk: Chunk, rng: random.Random) -> tuple[list[tuple[Any, ...]], ...]:
    """Scores and reviews for a chunk's calls (id at 0, score at 14, started at 15)."""
    scores, reviews = [], []
    for call in chunk.calls:
        ident, score, started = call[0], call[14], call[15]
        intent = None
        if score is not None:
            intent = rng.choices(LABELS, INTENT_WEIGHTS)[0]
            confidence = None if rng.random() < NO_CONFIDENCE else round(rng.uniform(0.2, 1), 4)
            scores.append(
                (ident, score, score >= 50, intent, confidence, json.dumps({}), json.dumps([]))
            )
        if rng.random() < REVIEWED:
            for n in range(2 if rng.random() < TWICE else 1):
                agrees = intent is not None and rng.random() < 0.7
                label = None if agrees else rng.choice(LABELS)
                at = started + timedelta(days=1 + n, hours=rng.randint(0, 8))
                reviews.append((ident, 1 + n, agrees, label, rng.random() < 0.4, "", at))
    return scores, reviews


def write_rows(target: Target, table: str, columns: Sequence[str], rows: list[Any]) -> None:
    """The records' bulk paths for tables of our own: executemany on SQLite, COPY on PG."""
    assert target.engine is not None
    raw = target.engine.raw_connection()
    try:
        if isinstance(target, SqliteTarget):
            cursor = raw.cursor()
            cursor.execute("BEGIN")
            marks = ", ".join("?" for _ in columns)
            cursor.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",  # noqa: S608
                [tuple(_sqlite(value) for value in row) for row in rows],
            )
            raw.commit()
        else:
            connection: Any = raw.driver_connection
            with connection.cursor() as cursor:
                statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
                with cursor.copy(statement) as copy:
                    for row in rows:
                        copy.write_row(row)
            connection.commit()
    finally:
        raw.close()


def _sqlite(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return int(value) if isinstance(value, bool) else value


def load(args: argparse.Namespace, targets: Sequence[Target]) -> None:
    for target in targets:
        with Session(target.fresh()) as session:
            deployment_rows(session)
            for name in ("quinn", "riley"):
                session.add(
                    t.User(
                        username=name,
                        password_hash="-",  # noqa: S106  (nobody signs in)
                        role="qa",
                        active=True,
                        created_at=FIRST_DAY,
                    )
                )
            session.commit()
    rng = random.Random(args.seed + 1)
    began = time.perf_counter()
    counts = {"calls": 0, "scores": 0, "reviews": 0}
    for chunk in generate(args.calls, args.seed, Expected()):
        scores, reviews = extras(chunk, rng)
        for target in targets:
            target.write(chunk)
            write_rows(target, "scores", SCORE_COLUMNS, scores)
            write_rows(target, "reviews", REVIEW_COLUMNS, reviews)
        counts["calls"] += len(chunk.calls)
        counts["scores"] += len(scores)
        counts["reviews"] += len(reviews)
        print(f"\r  generated {counts['calls']:,} of {args.calls:,} calls", end="", flush=True)
    print()
    for target in targets:
        assert target.engine is not None
        with target.engine.begin() as connection:
            connection.execute(
                text(
                    "UPDATE calls SET intent = "
                    "(SELECT intent FROM scores WHERE scores.call_id = calls.id)"
                )
            )
        target.finish()
    print(
        f"  {counts['calls']:,} calls, {counts['scores']:,} scores, {counts['reviews']:,} "
        f"reviews in {time.perf_counter() - began:.1f} s"
    )


def cases() -> dict[str, Callable[[Session], int]]:
    """Each case runs one page and returns how many rows it got."""
    officer = t.Call.officer_id == "officer-03"

    def listing(filters: CallFilters, where: Any = None) -> Callable[[Session], int]:
        return lambda session: len(list_calls(session, filters, where).rows)

    return {
        "first page, newest first": listing(CallFilters()),
        "page 50": listing(CallFilters(page=50)),
        "page 100 of 100 (offset 9,900)": listing(CallFilters(page=100, page_size=100)),
        "campaign + one month": listing(
            CallFilters(campaign="heloc-west", start=MONTH[0], end=MONTH[1])
        ),
        "by confidence, lowest first": listing(CallFilters(sort="confidence", order="asc")),
        "publisher, billable, unreviewed, by score": listing(
            CallFilters(publisher="radio-spot", billable=True, reviewed=False, sort="score")
        ),
        "one officer's calls (access rule)": listing(CallFilters(), officer),
        "review queue (20)": lambda session: len(review_queue(session)),
        "review queue, one officer": lambda session: len(review_queue(session, officer)),
    }


def measure(args: argparse.Namespace, targets: Sequence[Target]) -> list[dict[str, Any]]:
    figures = []
    print(
        f"\n{'database':<11}{'case':<44}{'rows':>5}{'first ms':>10}{'median ms':>11}{'max ms':>8}"
    )
    for target in targets:
        assert target.engine is not None
        for name, work in cases().items():
            times, rows = [], 0
            for _ in range(args.runs):
                with Session(target.engine) as session:
                    began = time.perf_counter()
                    rows = work(session)
                    times.append((time.perf_counter() - began) * 1000)
            row = {
                "database": target.name,
                "case": name,
                "rows": rows,
                "first_ms": times[0],
                "median_ms": statistics.median(times),
                "max_ms": max(times),
                "runs_ms": times,
            }
            figures.append(row)
            print(
                f"{target.name:<11}{name:<44}{rows:>5}{times[0]:>10.1f}"
                f"{row['median_ms']:>11.1f}{row['max_ms']:>8.1f}"
            )
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sqlite-path", type=Path, default=DEFAULT_SQLITE_PATH.with_name(
        "warmline-call-list-benchmark.db"))  # fmt: skip
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL.replace("records_benchmark", "call_list_benchmark"),
    )
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--skip-generate", action="store_true")
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    args = parser.parse_args()
    targets: list[Target] = []
    if args.only != "postgresql":
        targets.append(SqliteTarget(args.sqlite_path))
    if args.only != "sqlite":
        targets.append(PostgresTarget(args.postgres_url))
    about = machine()
    print(f"machine: {about['cpus']} CPUs, {about['cpu_model']}, {about['memory_gib']} GiB")
    print(f"{args.calls:,} calls over {DAYS} days from {FIRST_DAY:%Y-%m-%d}")
    if args.skip_generate:
        for target in targets:
            target.existing()
    else:
        load(args, targets)
    figures = measure(args, targets)
    slow = [f for f in figures if f["median_ms"] > TARGET_MS]
    print(f"\ntarget: every median under {TARGET_MS:.0f} ms: {'missed' if slow else 'met'}")
    if args.json:
        args.json.write_text(json.dumps({"machine": about, "figures": figures}, indent=2))
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
