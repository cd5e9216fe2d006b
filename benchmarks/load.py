"""Load: N concurrent calls on several `warmline serve` processes sharing Redis and PostgreSQL.

What one run does:

1. Creates a scratch PostgreSQL database (``--postgres-url``'s server, a name unique to the run)
   and starts ``--servers`` ``warmline serve`` processes on free ports, all with the same auth
   token, Redis, records database and deployment (the sample's, with officers open around the
   clock and uncapped, as in ``webhook_load.py``). Each server migrates and syncs the database at
   start-up and runs its own recorder.
2. Plays Twilio's side for ``--calls`` calls, ``--concurrency`` in flight at once, with the fake
   carrier (``ivr.simulator.carrier.Carrier``): signed form webhooks, TwiML followed verb by verb,
   status callbacks in Twilio's order (initiated, ringing, answered, completed), recording
   callbacks, the officer's leg (whisper, key, leg callbacks). Requests are spread round-robin
   over the servers, as a load balancer does, so consecutive webhooks of one call land on
   different processes. Callers pause before each answer (``--think-ms``, x0.5-1.5) and answer
   by keypad and by voice; the mix (fixed by ``--seed``):

   - three scripts qualified and transferred, the officer accepting (keypad, voice, mixed);
   - the first officer declines at the whisper, the next accepts;
   - the first officer does not answer, the next accepts;
   - poor credit: offered a call-back, leaves a message (another campaign).

3. Waits for the recorders to write every call, then checks the records: each completed call has
   exactly one call record and one billing line, the transferred ones billable, the call-backs
   not (``records`` in the report). A call is failed on any webhook not answered 200, an
   exception, a "technical difficulties" message, or an end other than the script's.
4. Reports completed and failed calls, webhook latency percentiles overall and per endpoint (the
   carrier's request-to-body time, measured in the load generator), and CPU and memory per
   process: each server and the recorder's writer process it spawns, Redis, the PostgreSQL
   backends serving the run's database, and the load generator itself. RSS is sampled every
   ``--sample-ms``; "peak" is the largest sample (for PostgreSQL backends it includes the shared
   buffers they touched).

Afterwards the run's keys are deleted from Redis and the scratch database is dropped
(``--keep-database`` keeps it). Results go to ``docs/reliability.md``.

    .venv/bin/python benchmarks/load.py                               # 1,000 in flight, 2 servers
    .venv/bin/python benchmarks/load.py --calls 300 --concurrency 100 # a quick check
    .venv/bin/python benchmarks/load.py --json load.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from sqlalchemy import create_engine, make_url, text  # noqa: E402
from sqlalchemy.engine import URL  # noqa: E402
from webhook_load import (  # noqa: E402
    ACCOUNT_SID,
    DEFAULT_REDIS_URL,
    TRACKING_NUMBER,
    Phase,
    ThinkingCaller,
    call_problem,
    cpu_seconds,
    forget_calls,
    free_port,
    latency_summary,
    machine,
    place,
    subprocess_server,
    write_deployment,
)
from webhook_load import SCRIPTS as TRANSFERRED  # noqa: E402

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
CALLBACK_NUMBER = "+18005550101"  # national in warmline.yaml: every state, every loan type
PAGE_SIZE = 500
IDLE_CPU_S = 0.05


@dataclass(frozen=True)
class Script:
    """One kind of call in the mix: what the caller does and how the call must end."""

    name: str
    to_number: str
    turns: list[dict[str, object]]
    transferred: bool


SCRIPTS: list[Script] = [
    *(Script(name, TRACKING_NUMBER, turns, True) for name, turns in TRANSFERRED),
    Script(
        "declined-then-next",
        TRACKING_NUMBER,
        [
            {"digits": "1"},
            {"digits": "75201"},
            {"digits": "2"},
            {"speech": "refinance to a lower rate"},
            {"transfer": "declined"},
            {"transfer": "accepted", "duration": 200},
        ],
        True,
    ),
    Script(
        "no-answer-then-next",
        TRACKING_NUMBER,
        [
            {"digits": "3"},
            {"speech": "florida"},
            {"digits": "1"},
            {"speech": "we found a house and want to get pre-approved"},
            {"transfer": "no-answer"},
            {"transfer": "accepted", "duration": 260},
        ],
        True,
    ),
    Script(
        "callback",
        CALLBACK_NUMBER,
        [
            {"digits": "1"},
            {"speech": "west virginia"},
            {"speech": "honestly it's pretty bad"},
            {"speech": "I want to refinance my house"},
            {"record": {"seconds": 15}},
        ],
        False,
    ),
]


# -- processes -----------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    """A process's descendants (Linux /proc), e.g. a server's records writer."""
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        with contextlib.suppress(OSError, ValueError):
            for child in (task / "children").read_text().split():
                found.append(int(child))
                found.extend(children(int(child)))
    return found


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


@dataclass
class Watched:
    """One process's CPU seconds and resident memory over the run."""

    label: str
    pid: int
    cpu_start: float | None = None
    cpu_last: float | None = None
    rss_peak_mib: float = 0.0

    def sample(self) -> None:
        cpu = cpu_seconds(self.pid)
        if cpu is not None:
            if self.cpu_start is None:
                self.cpu_start = cpu
            self.cpu_last = cpu
        rss = rss_mib(self.pid)
        if rss is not None:
            self.rss_peak_mib = max(self.rss_peak_mib, rss)

    @property
    def cpu_s(self) -> float:
        if self.cpu_start is None or self.cpu_last is None:
            return 0.0
        return self.cpu_last - self.cpu_start


def child_label(parent: str, pid: int) -> str:
    """``server 1: records writer`` for the spawned writer, else the child's program."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        command = ""
    if "resource_tracker" in command:
        return f"{parent}: resource tracker"
    if "multiprocessing" in command:
        return f"{parent}: records writer"
    return f"{parent}: {command.split(' ')[0].rsplit('/', 1)[-1] or 'child'}"


class Sampler:
    """Samples the run's processes in a thread; new children (a records writer) and database
    backends join as they appear (``others`` is asked again every ``REDISCOVER`` samples)."""

    REDISCOVER = 10

    def __init__(
        self,
        roots: Mapping[str, int],
        others: Callable[[], Mapping[str, list[int]]],
        every_s: float,
    ):
        self.watched: dict[int, Watched] = {}
        self._roots = dict(roots)
        self._others = others
        self._every_s = every_s
        self._samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _discover(self) -> None:
        for label, pid in self._roots.items():
            self.watched.setdefault(pid, Watched(label, pid))
            for child in children(pid):
                if child not in self.watched:
                    self.watched[child] = Watched(child_label(label, child), child)
        if self._samples % self.REDISCOVER == 0:
            for label, pids in self._others().items():
                for pid in pids:
                    self.watched.setdefault(pid, Watched(label, pid))

    def sample(self) -> None:
        self._discover()
        self._samples += 1
        for watched in list(self.watched.values()):
            watched.sample()

    def _run(self) -> None:
        while not self._stop.wait(self._every_s):
            self.sample()

    def __enter__(self) -> Sampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


# -- the records database ------------------------------------------------------------------


@contextlib.contextmanager
def scratch_database(server_url: str, keep: bool) -> Iterator[URL]:
    """A fresh PostgreSQL database for the run, dropped afterwards unless ``keep``."""
    admin_url = make_url(server_url).set(database="postgres")
    name = f"warmline_load_{secrets.token_hex(4)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield admin_url.set(database=name)
    finally:
        if keep:
            print(f"records database kept: {name}")
        else:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def postgres_backends(url: URL) -> list[int]:
    """The server processes holding connections to the run's database (the recorders')."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT pid FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": url.database},
            )
            return [int(row[0]) for row in rows]
    finally:
        engine.dispose()


@dataclass
class RecordsCheck:
    """What the recorders wrote for the run's completed calls."""

    expected_calls: int
    expected_billable: int
    calls: int = 0
    billing_lines: int = 0
    billable: int = 0
    caught_up_s: float | None = None
    unexpected: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (self.calls, self.billing_lines, self.billable) == (
            self.expected_calls,
            self.expected_calls,
            self.expected_billable,
        )


def count_records(url: URL, call_sids: Sequence[str]) -> tuple[int, int, int]:
    """Ended call records, billing lines and billable lines among ``call_sids``."""
    engine = create_engine(url)
    totals = [0, 0, 0]
    try:
        with engine.connect() as connection:
            for start in range(0, len(call_sids), PAGE_SIZE):
                page = list(call_sids[start : start + PAGE_SIZE])
                row = connection.execute(
                    text(
                        "SELECT count(DISTINCT c.id), count(b.id), "
                        "coalesce(sum(CASE WHEN b.billable THEN 1 ELSE 0 END), 0) "
                        "FROM calls c LEFT JOIN billing_lines b ON b.call_id = c.id "
                        "WHERE c.status = 'ended' AND c.call_sid = ANY(:sids)"
                    ),
                    {"sids": page},
                ).one()
                for i in range(3):
                    totals[i] += int(row[i])
    finally:
        engine.dispose()
    return totals[0], totals[1], totals[2]


def unexpected_lines(url: URL, completed: Sequence[tuple[str, Script]]) -> list[str]:
    """The calls whose record or billing verdict is not what their script implies."""
    expected = {sid: script for sid, script in completed}
    found: dict[str, tuple[bool | None, str | None]] = {}
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            sids = list(expected)
            for start in range(0, len(sids), PAGE_SIZE):
                rows = connection.execute(
                    text(
                        "SELECT c.call_sid, b.billable, b.reason FROM calls c "
                        "LEFT JOIN billing_lines b ON b.call_id = c.id "
                        "WHERE c.call_sid = ANY(:sids)"
                    ),
                    {"sids": sids[start : start + PAGE_SIZE]},
                )
                for sid, billable, reason in rows:
                    found[sid] = (billable, reason)
    finally:
        engine.dispose()
    problems = []
    for sid, script in expected.items():
        billable, reason = found.get(sid, (None, "no call record"))
        if billable is not script.transferred:
            problems.append(f"{sid} ({script.name}): billable={billable}, {reason}")
    return problems


def wait_for_records(
    url: URL, check: RecordsCheck, completed: Sequence[tuple[str, Script]], wait_s: float
) -> None:
    started = time.monotonic()
    call_sids = [sid for sid, _ in completed]
    while True:
        check.calls, check.billing_lines, check.billable = count_records(url, call_sids)
        if check.ok:
            check.caught_up_s = time.monotonic() - started
            return
        if time.monotonic() - started > wait_s:
            check.unexpected = unexpected_lines(url, completed)
            return
        time.sleep(0.5)


# -- driving calls -------------------------------------------------------------------------


@dataclass
class Outcomes:
    """Which script each completed call played, for the records check."""

    completed: list[tuple[str, Script]] = field(default_factory=list)


def ended_as_scripted(record: Any, script: Script) -> str | None:
    """Why a finished call did not end as its script says, or None."""
    if script.transferred:
        return call_problem(record)
    for request in record.requests:
        if request.status != 200:
            return f"{request.path}: {request.status or request.error}"
    if record.ended_by != "app-hangup":
        return f"ended by {record.ended_by}"
    if record.transfer is not None:
        return "transferred, but the script expects a call-back"
    if not record.recordings:
        return "no message recorded"
    return None


async def drive(
    phase: Phase,
    outcomes: Outcomes,
    backends: list[str],
    public_url: str,
    auth_token: str,
    args: argparse.Namespace,
) -> None:
    from ivr.simulator.carrier import Carrier
    from ivr.simulator.session import number_config

    config = number_config(
        public_url,
        auth_token,
        account_sid=ACCOUNT_SID,
        backends=backends,
        request_timeout_s=args.timeout_s,
        status_callback_events=frozenset({"initiated", "ringing", "answered", "completed"}),
        seed=None,  # fresh CallSids every run
    )
    think_s, talk_s = args.think_ms / 1000, args.talk_ms / 1000
    ramp_s = (args.think_ms if args.ramp_ms is None else args.ramp_ms) / 1000
    first_caller = random.Random(args.seed).randrange(1_000_000, 8_000_000)
    next_call = iter(range(args.calls))

    async def one_at_a_time(carrier: Carrier, rng: random.Random) -> None:
        await asyncio.sleep(rng.uniform(0, ramp_s))
        for index in next_call:
            call_rng = random.Random(f"{args.seed}:{index}")
            script = SCRIPTS[call_rng.randrange(len(SCRIPTS))]
            caller = ThinkingCaller(script.turns, call_rng, think_s, talk_s)
            from_number = f"+1512{first_caller + index:07d}"  # one caller, one call: no repeats
            record = await place(carrier, phase, caller, from_number, script.to_number, script.name)
            if record is None:
                continue
            problem = ended_as_scripted(record, script)
            if problem is None:
                phase.ok += 1
                outcomes.completed.append((record.call_sid, script))
            else:
                phase.failures.append(f"{script.name} {record.call_sid}: {problem}")

    started = time.perf_counter()
    async with Carrier(config) as carrier:
        rng = random.Random(args.seed)
        await asyncio.gather(
            *(one_at_a_time(carrier, random.Random(rng.random())) for _ in range(args.concurrency))
        )
    phase.wall_s = time.perf_counter() - started
    phase.calls = args.calls


# -- the run -------------------------------------------------------------------------------


def redis_pid(url: str) -> int | None:
    from redis import Redis

    client = Redis.from_url(url)
    try:
        info: dict[str, Any] = client.info("server")  # type: ignore[assignment]
        return int(info["process_id"])
    except Exception:
        return None
    finally:
        client.close()


def run(args: argparse.Namespace) -> dict[str, Any]:
    info = machine()
    workdir = Path(tempfile.mkdtemp(prefix="warmline-load-"))
    token = secrets.token_hex(16)
    officers = f"load-{secrets.token_hex(3)}"
    deployment = write_deployment(workdir, officers)
    redis_url = args.redis_url or os.environ.get("WARMLINE_REDIS_URL", DEFAULT_REDIS_URL)
    public_url = "https://warmline.example.test"  # the load balancer's name: what is signed
    phase = Phase("warmline")
    outcomes = Outcomes()
    failed_run = True
    try:
        with (
            scratch_database(args.postgres_url, args.keep_database) as database,
            contextlib.ExitStack() as stack,
        ):
            env = {
                **os.environ,
                "WARMLINE_TWILIO_AUTH_TOKEN": token,
                "WARMLINE_PUBLIC_URL": public_url,
                "WARMLINE_REDIS_URL": redis_url,
                "WARMLINE_DATABASE_URL": database.render_as_string(hide_password=False),
                "WARMLINE_DEPLOYMENT": str(deployment),
                "WARMLINE_DATA_DIR": str(workdir / "data"),
                "WARMLINE_CALL_TTL_S": "3600",
                "PYTHONUNBUFFERED": "1",
            }
            servers: dict[str, int] = {}
            backends: list[str] = []
            for n in range(1, args.servers + 1):
                port = free_port()
                command = [sys.executable, "-m", "ivr", "serve", "--port", str(port)]
                log = workdir / f"server-{n}.log"
                url, pid = stack.enter_context(subprocess_server(command, env, port, log))
                servers[f"server {n}"] = pid
                backends.append(url)
            redis = redis_pid(redis_url)
            local_redis = [redis] if redis is not None and Path(f"/proc/{redis}").exists() else []

            def others() -> dict[str, list[int]]:
                return {
                    "load generator": [os.getpid()],
                    "redis": local_redis,
                    "postgres backend": postgres_backends(database),
                }

            sampler = Sampler(servers, others, args.sample_ms / 1000)
            try:
                with sampler:
                    asyncio.run(drive(phase, outcomes, backends, public_url, token, args))
                    check = RecordsCheck(
                        expected_calls=len(outcomes.completed),
                        expected_billable=sum(1 for _, s in outcomes.completed if s.transferred),
                    )
                    wait_for_records(database, check, outcomes.completed, args.records_wait_s)
            finally:
                numbers = sorted({s.to_number for s in SCRIPTS})
                asyncio.run(forget_calls(redis_url, phase, officers, numbers))
            failed_run = bool(phase.failures) or not check.ok
            return report(args, phase, check, sampler, info)
    finally:
        if failed_run:
            print(f"!! server logs kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def process_rows(sampler: Sampler, wall_s: float) -> list[dict[str, Any]]:
    """Per process, in a stable order: servers (each with its children), then the rest."""
    rows = []
    for watched in sorted(sampler.watched.values(), key=lambda w: (w.label, w.pid)):
        if watched.cpu_s < IDLE_CPU_S:
            continue  # a connection opened to look (this script's own) or an idle helper
        rows.append(
            {
                "process": watched.label,
                "pid": watched.pid,
                "cpu_s": round(watched.cpu_s, 2),
                "cpu_cores": round(watched.cpu_s / wall_s, 3) if wall_s else None,
                "rss_peak_mib": round(watched.rss_peak_mib, 1),
            }
        )
    return rows


def report(
    args: argparse.Namespace,
    phase: Phase,
    check: RecordsCheck,
    sampler: Sampler,
    info: dict[str, Any],
) -> dict[str, Any]:
    overall = latency_summary(phase.all_latencies())
    by_path = {path: latency_summary(v) for path, v in sorted(phase.latencies.items())}
    processes = process_rows(sampler, phase.wall_s)
    print(
        f"\nload: {args.calls} calls, {args.concurrency} in flight, {args.servers} servers, "
        f"think {args.think_ms} ms, talk {args.talk_ms} ms (x0.5-1.5), seed {args.seed}"
    )
    print(
        f"machine: {info['cpus']} CPUs ({info['cpu_model']}), {info['memory_gib']} GiB, "
        f"load average at start {info['load_average_at_start'][0]}"
    )
    print(
        f"calls: {phase.ok} completed, {len(phase.failures)} failed, in {phase.wall_s:.1f} s "
        f"({phase.ok / phase.wall_s if phase.wall_s else 0:.1f} calls/s, "
        f"{phase.webhooks} webhooks, {phase.webhooks / phase.wall_s if phase.wall_s else 0:.0f}/s)"
    )
    print(
        f"webhooks: p50 {overall['p50_ms']:.1f} ms, p95 {overall['p95_ms']:.1f} ms, "
        f"p99 {overall['p99_ms']:.1f} ms, max {overall['max_ms']:.1f} ms"
    )
    caught = "-" if check.caught_up_s is None else f"{check.caught_up_s:.1f} s"
    print(
        f"records: {check.calls}/{check.expected_calls} calls, {check.billing_lines} billing "
        f"lines, {check.billable} billable (expected {check.expected_billable}); all written "
        f"{caught} after the last call: {'OK' if check.ok else 'MISSING OR EXTRA RECORDS'}"
    )
    for line in check.unexpected[:10]:
        print(f"  unexpected: {line}")
    print(f"\n{'endpoint':<26}{'count':>7}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'max ms':>8}")
    for path, s in by_path.items():
        print(
            f"{path:<26}{s['count']:>7}{s['p50_ms']:>8.1f}{s['p95_ms']:>8.1f}"
            f"{s['p99_ms']:>8.1f}{s['max_ms']:>8.1f}"
        )
    print(f"\n{'process':<24}{'pid':>8}{'cpu s':>9}{'cores':>7}{'rss peak MiB':>14}")
    for row in processes:
        print(
            f"{row['process']:<24}{row['pid']:>8}{row['cpu_s']:>9.1f}"
            f"{row['cpu_cores'] or 0:>7.2f}{row['rss_peak_mib']:>14.1f}"
        )
    print("cores: CPU seconds over the wall time of the calls (1.00 = one core kept busy)")
    if phase.failures:
        print("\n" + "!" * 78, file=sys.stderr)
        print(f"!! {len(phase.failures)} of {phase.calls} calls FAILED; first:", file=sys.stderr)
        for line in phase.failures[:10]:
            print(f"!!   {line}", file=sys.stderr)
        print("!" * 78, file=sys.stderr)
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": info,
        "settings": {
            "calls": args.calls,
            "concurrency": args.concurrency,
            "servers": args.servers,
            "think_ms": args.think_ms,
            "talk_ms": args.talk_ms,
            "seed": args.seed,
        },
        "completed": phase.ok,
        "failed": len(phase.failures),
        "failures": phase.failures[:20],
        "wall_s": phase.wall_s,
        "webhooks": phase.webhooks,
        "latency": overall,
        "by_path": by_path,
        "records": {
            "calls": check.calls,
            "billing_lines": check.billing_lines,
            "billable": check.billable,
            "expected_calls": check.expected_calls,
            "expected_billable": check.expected_billable,
            "caught_up_s": check.caught_up_s,
            "ok": check.ok,
            "unexpected": check.unexpected[:20],
        },
        "processes": processes,
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Concurrent calls across several warmline servers sharing Redis and "
        "PostgreSQL; latency, failures, records and per-process CPU and memory.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--calls", type=int, default=2000, help="calls in all")
    parser.add_argument("--concurrency", type=int, default=1000, help="calls in flight at once")
    parser.add_argument("--servers", type=int, default=2, help="warmline serve processes")
    parser.add_argument(
        "--think-ms", type=int, default=3000, help="the caller's mean pause before each answer"
    )
    parser.add_argument(
        "--talk-ms",
        type=int,
        default=10000,
        help="the mean pause before each transfer's outcome (ringing and talking)",
    )
    parser.add_argument(
        "--ramp-ms", type=int, help="spread the first calls' starts over this (default: think-ms)"
    )
    parser.add_argument("--seed", type=int, default=1, help="fixes scripts, think times, numbers")
    parser.add_argument(
        "--redis-url", help=f"Redis shared by the servers (else {DEFAULT_REDIS_URL})"
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("WARMLINE_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="a PostgreSQL server where the run may create and drop a scratch database",
    )
    parser.add_argument("--keep-database", action="store_true", help="do not drop it afterwards")
    parser.add_argument("--timeout-s", type=float, default=15.0, help="per-webhook time limit")
    parser.add_argument(
        "--records-wait-s", type=float, default=120.0, help="how long the recorders may take"
    )
    parser.add_argument("--sample-ms", type=int, default=500, help="process sampling interval")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    if min(args.calls, args.concurrency, args.servers) < 1 or args.think_ms < 0:
        parser.error("--calls, --concurrency and --servers must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    result = run(args)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["failed"] == 0 and result["records"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
