"""Routing on the call path: how long ``Router.route`` takes against real Redis, and ping-post's
cost beyond its bid deadline.

What it does, in one run:

1. **sequential**: a deployment (the sample ``warmline.yaml`` with its officers and pools replaced
   by this script's roster, written to a temporary folder and loaded with ``load_setup``) has 20
   officers with mixed licences (some states missing, some expired), loan types, minimums
   (credit band, score), duplicate windows, caps and hours. A fifth are anchors: open around the
   clock, every licence and loan type, no caps, so every call has somebody; a fifth are closed
   today; a fifth keep business hours (open or not depending on when the run happens); the rest
   are open around the clock. For each strategy (waterfall, round_robin, weighted) a pool of those
   20 takes ``--routes`` sequential ``Router.route`` calls on a router from ``open_router`` (its
   own Redis connection and HTTP session, as the simulator's in-process calls use), each with a
   random call (state, loan type, credit band, score, caller number): about 6 of the 20 are
   eligible for a call on average. Only the ``route`` call is timed: the eligibility checks, the
   repeat-caller lookup (one pipelined round trip) and the claim script (one ``EVALSHA``). After
   the timing each pick is settled as a call that did not connect (``Router.settle(...,
   connected=False)``: the slot is freed and the counts given back), so no cap runs out during the
   run and every decision sees the same state.
2. **concurrent**: the same, ``--in-flight`` routes at once (``asyncio.gather``) in waves, settled
   after each wave; the latency of each decision then includes waiting for the event loop and
   Redis behind the others, and some officers are skipped at their concurrent cap.
3. **ping-post**: bidders are a small aiohttp app in a process of its own on 127.0.0.1 (``/fast``
   answers a bid at once, ``/slow`` sleeps far past any deadline); a ``ping_post`` pool with
   ``--ping-deadline-ms`` takes ``--ping-routes`` sequential decisions in two cases: **fast**, all
   ``--bidders`` bidders answer at once (the overhead is the whole decision time), and **slow**,
   ``--slow-bidders`` of them never answer before the deadline (the overhead is the decision time
   minus the deadline: cancelling the late requests, ranking, the claim).

Latencies are ``time.perf_counter`` around ``await router.route(request)``, in ms, nearest-rank
percentiles. Targets (from the issue): decision p99 under 5 ms without ping-post; ping-post
overhead beyond the deadline under 20 ms. A decision that picks nobody, or (ping-post) a pick with
no bid, is an error: errors are printed and make the exit status 1.

Officer and pool ids carry a random token, so runs never share Redis state; the script deletes
every routing key of its own officers and pools (and the claims they hold) at the end. Redis:
database 14 of the local server unless ``--redis-url`` or WARMLINE_REDIS_URL says otherwise.

    .venv/bin/python benchmarks/routing.py
    .venv/bin/python benchmarks/routing.py --routes 5000 --ping-deadline-ms 400 --json routing.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from webhook_load import (  # noqa: E402
    cpu_seconds,
    free_port,
    machine,
    machine_busy_seconds,
    percentile,
    redis_cpu,
    wait_healthy,
)

from ivr.deployment import Setup, load_setup  # noqa: E402
from ivr.routing.decision import Decision, RouteRequest  # noqa: E402
from ivr.routing.eligibility import CallAttributes  # noqa: E402
from ivr.routing.hours import DAYS  # noqa: E402
from ivr.routing.router import Router, open_router  # noqa: E402
from ivr.routing.usage import UsageBook  # noqa: E402
from scoring.qualification import CREDIT_BANDS  # noqa: E402

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
DECISION_TARGET_MS = 5.0
PING_OVERHEAD_TARGET_MS = 20.0
STRATEGIES = ("waterfall", "round_robin", "weighted")
CAMPAIGN = "sunbelt-refi"  # a campaign of the sample deployment
STATES = ("TX", "FL", "GA", "AZ", "NC", "TN")  # its states
LOAN_TYPES = ("refinance", "cash_out", "purchase", "heloc")
ZONES = ("America/Chicago", "America/New_York", "America/Phoenix", "America/Los_Angeles")
FAR = "2099-12-31"
EXPIRED = "2024-06-30"
ALL_WEEK = {"mon-sun": "00:00-24:00"}
LEASE_S = 90.0  # the mortgage flow's ring time, Twilio's buffer and the whisper allowance
WARM_UP = 20
SLOW_BID_S = 60.0  # a slow bidder's answer comes far past any deadline (the maximum is 5 s)


# -- the deployment -----------------------------------------------------------------------------


def write_deployment(
    folder: Path, officers: list[dict[str, Any]], pools: list[dict[str, Any]]
) -> Path:
    """The sample ``warmline.yaml`` with its officers and pools replaced by ours (its campaigns,
    numbers and flows kept, paths made absolute), written into ``folder``."""
    sample = yaml.safe_load((ROOT / "warmline.yaml").read_text())
    sample.update(officers=officers, pools=pools)
    sample["flows"] = str(ROOT / sample.get("flows", "flows"))
    sample["blocklist"] = [str(ROOT / name) for name in sample.get("blocklist", [])]
    path = folder / "routing-benchmark.yaml"
    path.write_text(yaml.safe_dump(sample, sort_keys=False))
    return path


def officer(officer_id: str, index: int, **fields: Any) -> dict[str, Any]:
    """An officer open around the clock with every licence and loan type, unless ``fields``
    say otherwise."""
    return {
        "id": officer_id,
        "name": f"Benchmark officer {index}",
        "phone": f"+1512555{index:04d}",
        "nmls_id": str(2_000_000 + index),
        "licences": dict.fromkeys(STATES, FAR),
        "loan_types": list(LOAN_TYPES),
        "time_zone": ZONES[index % len(ZONES)],
        "hours": ALL_WEEK,
        "price": "40.00",
        **fields,
    }


def closed_today(zone: str, now: datetime) -> dict[str, str]:
    """Hours for every day but today (in ``zone``): closed for this run, whenever it happens."""
    today = now.astimezone(ZoneInfo(zone)).weekday()
    return {", ".join(day for day in DAYS if day != DAYS[today]): "00:00-24:00"}


def mixed_officer(officer_id: str, index: int, now: datetime) -> dict[str, Any]:
    """One of the 20: every fifth an anchor (open always, every licence, no caps), the others
    with some states, loan types, hours, minimums and caps that filter calls out."""
    if index % 5 == 0:
        return officer(officer_id, index, priority=1 + index % 7, weight=1 + index % 4)
    zone = ZONES[index % len(ZONES)]
    states = [STATES[(index + k) % len(STATES)] for k in range(2 + index % 3)]
    licences = {
        state: (EXPIRED if index % 3 == 0 and k == 0 else FAR) for k, state in enumerate(states)
    }
    loan_types = [LOAN_TYPES[(index + k) % len(LOAN_TYPES)] for k in range(2 + index % 2)]
    hours = {
        1: closed_today(zone, now),
        2: {"mon-fri": "08:00-18:00", "sat": "09:00-13:00"},
    }.get(index % 5, ALL_WEEK)
    fields: dict[str, Any] = {
        "licences": licences,
        "loan_types": loan_types,
        "hours": hours,
        "caps": {"concurrent": 2 + index % 3, "hourly": 500, "daily": 5000},
        "priority": 1 + index % 7,
        "weight": 1 + index % 4,
        "duplicate_window_h": 72 if index % 2 else 0,
    }
    if index % 4 == 2:
        fields["min_credit_band"] = "good"
    if index % 4 == 3:
        fields["min_score"] = 60
    return officer(officer_id, index, **fields)


@dataclass(frozen=True)
class Roster:
    token: str
    officers: list[dict[str, Any]]
    pools: list[dict[str, Any]]


def roster(token: str, bidders_url: str, bidders: int, slow: int, deadline_ms: int) -> Roster:
    now = datetime.now(UTC)
    mixed = [mixed_officer(f"{token}-lo{i:02d}", i, now) for i in range(20)]
    fast = [
        officer(f"{token}-bid{j:02d}", 100 + j, ping_url=f"{bidders_url}/fast/{token}-bid{j:02d}")
        for j in range(bidders)
    ]
    late = [
        officer(f"{token}-late{j:02d}", 200 + j, ping_url=f"{bidders_url}/slow/{token}-late{j:02d}")
        for j in range(slow)
    ]
    ids = [o["id"] for o in mixed]
    pools: list[dict[str, Any]] = [
        # the sample flows transfer to this pool: it must exist for the deployment to load
        {"id": "loan_officers", "strategy": "waterfall", "officers": ids[::5]},
        *({"id": f"{token}-{s}", "strategy": s, "officers": ids} for s in STRATEGIES),
        {
            "id": f"{token}-ping-fast",
            "strategy": "ping_post",
            "ping_deadline_ms": deadline_ms,
            "officers": [o["id"] for o in fast],
        },
        {
            "id": f"{token}-ping-slow",
            "strategy": "ping_post",
            "ping_deadline_ms": deadline_ms,
            "officers": [o["id"] for o in fast[: bidders - slow] + late],
        },
    ]
    return Roster(token, mixed + fast + late, pools)


# -- bidders ------------------------------------------------------------------------------------


def serve_bidders(port: int) -> None:
    """The bidders (run in a process of its own): /fast answers at once, /slow far too late."""
    from aiohttp import web

    async def fast(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"bid": bid_for(request.match_info["officer"])})

    async def slow(request: web.Request) -> web.Response:
        await request.read()
        await asyncio.sleep(SLOW_BID_S)
        return web.json_response({"bid": bid_for(request.match_info["officer"])})

    async def healthz(request: web.Request) -> web.Response:
        return web.Response()

    app = web.Application()
    app.router.add_post("/fast/{officer}", fast)
    app.router.add_post("/slow/{officer}", slow)
    app.router.add_get("/healthz", healthz)
    web.run_app(
        app, host="127.0.0.1", port=port, print=None, access_log=None, handler_cancellation=True
    )


def bid_for(officer_id: str) -> str:
    """A fixed bid per officer: 20.00-49.99."""
    return f"{20 + zlib.crc32(officer_id.encode()) % 3000 / 100:.2f}"


@contextlib.contextmanager
def bidder_process(port: int, log: Path) -> Iterator[int]:
    """Start the bidders, wait for them, yield their pid, stop them."""
    command = [sys.executable, str(Path(__file__).resolve()), "--serve-bidders", str(port)]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process, log)
        yield process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- measuring ----------------------------------------------------------------------------------


@dataclass
class Series:
    """One measured case: decision latencies and what the decisions said."""

    name: str
    latencies_ms: list[float] = field(default_factory=list)
    picks: int = 0
    filtered: int = 0
    """Officers passed over by eligibility (licence, loan type, hours, minimums), summed."""
    at_cap: int = 0
    """Officers the claim skipped at a cap, summed."""
    errors: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    def note(self, decision: Decision, elapsed_s: float, needs_bid: bool = False) -> None:
        self.latencies_ms.append(elapsed_s * 1000)
        caps = sum(1 for reason in decision.reasons if " cap " in reason)
        self.at_cap += caps
        self.filtered += len(decision.reasons) - caps
        if decision.pick is None:
            self.errors.append(f"{self.name}: nobody picked: {'; '.join(decision.reasons)[:200]}")
        elif needs_bid and decision.pick.bid is None:
            self.errors.append(f"{self.name}: {decision.pick.officer} picked without a bid")
        else:
            self.picks += 1


def call_requests(pool: str, count: int, rng: random.Random) -> list[RouteRequest]:
    """``count`` random calls for ``pool``: the attributes and caller numbers vary."""
    return [
        RouteRequest(
            pool=pool,
            call=CallAttributes(
                loan_type=rng.choice(LOAN_TYPES),
                state=rng.choice(STATES),
                credit_band=rng.choice(CREDIT_BANDS),
                score=rng.randrange(30, 101),
            ),
            caller=f"+1512{rng.randrange(2_000_000, 9_999_999):07d}",
            campaign=CAMPAIGN,
            repeat=False,
            tried=(),
            lease_s=LEASE_S,
        )
        for _ in range(count)
    ]


async def timed(router: Router, request: RouteRequest) -> tuple[Decision, float]:
    started = time.perf_counter()
    decision = await router.route(request)
    return decision, time.perf_counter() - started


async def release(router: Router, request: RouteRequest, decision: Decision) -> None:
    """The call ended without connecting: free the slot and give the counts back."""
    if decision.pick is not None:
        await router.settle(decision.pick.claim, decision.pick.officer, request.caller, False)


async def sequential(
    router: Router, series: Series, requests: Sequence[RouteRequest], needs_bid: bool = False
) -> None:
    for request in requests[:WARM_UP]:  # loads the scripts, opens connections
        decision, _ = await timed(router, request)
        await release(router, request, decision)
    started = time.perf_counter()
    for request in requests[WARM_UP:]:
        decision, elapsed = await timed(router, request)
        await release(router, request, decision)
        series.note(decision, elapsed, needs_bid)
    series.wall_s = time.perf_counter() - started


async def concurrent(
    router: Router, series: Series, requests: Sequence[RouteRequest], in_flight: int
) -> None:
    """Waves of ``in_flight`` routes at once; each wave's picks settled after it."""
    routed_s = 0.0
    for start in range(0, len(requests), in_flight):
        wave = requests[start : start + in_flight]
        begun = time.perf_counter()
        results = await asyncio.gather(*(timed(router, request) for request in wave))
        routed_s += time.perf_counter() - begun
        await asyncio.gather(
            *(release(router, r, d) for r, (d, _) in zip(wave, results, strict=True))
        )
        if start > 0:  # the first wave warms up
            for decision, elapsed in results:
                series.note(decision, elapsed)
    series.wall_s = routed_s


async def forget(redis_url: str, setup: Setup) -> int:
    """Delete this run's routing keys: its officers' counters and claims, its pools' rotations."""
    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url)
    try:
        return await UsageBook(redis).forget(
            {o.id for o in setup.deployment.officers}, {p.id for p in setup.deployment.pools}
        )
    finally:
        await redis.aclose()


@dataclass
class CpuMeter:
    """Cores kept busy during a stretch: this process, the bidders, Redis, and everything else."""

    redis_url: str
    bidders_pid: int
    marks: dict[str, float | None] = field(default_factory=dict)

    async def read(self) -> dict[str, float | None]:
        return {
            "wall": time.perf_counter(),
            "machine": machine_busy_seconds(),
            "self": time.process_time(),
            "bidders": cpu_seconds(self.bidders_pid),
            "redis": await redis_cpu(self.redis_url),
        }

    async def start(self) -> None:
        self.marks = await self.read()

    async def cores(self) -> dict[str, float | None]:
        now = await self.read()
        wall = (now["wall"] or 0.0) - (self.marks["wall"] or 0.0)

        def used(name: str) -> float | None:
            before, after = self.marks[name], now[name]
            return None if before is None or after is None or wall <= 0 else (after - before) / wall

        shares = {name: used(name) for name in ("self", "bidders", "redis", "machine")}
        machine, parts = shares.pop("machine"), list(shares.values())
        other = None
        if machine is not None and None not in parts:
            other = max(0.0, machine - sum(p for p in parts if p is not None))
        return {**shares, "other": other}


# -- figures ------------------------------------------------------------------------------------


def summary(values: Sequence[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "p50_ms": percentile(ordered, 50),
        "p90_ms": percentile(ordered, 90),
        "p99_ms": percentile(ordered, 99),
        "max_ms": ordered[-1] if ordered else math.nan,
    }


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None or math.isnan(value) else format(value, spec)


def print_cores(cores: dict[str, float | None]) -> None:
    print(
        f"cores busy: benchmark {_fmt(cores['self'])}, bidders {_fmt(cores['bidders'])}, "
        f"redis {_fmt(cores['redis'])}, other {_fmt(cores['other'])}"
        + ("  (the machine was busy: figures pessimistic)" if (cores["other"] or 0) > 0.25 else "")
    )


def decision_table(title: str, rows: list[Series], cores: dict[str, float | None]) -> None:
    print(f"\n{title}")
    print(
        f"{'strategy':<13}{'routes':>7}{'p50 ms':>8}{'p90 ms':>8}{'p99 ms':>8}{'max ms':>8}"
        f"{'routes/s':>10}{'filtered':>10}{'at cap':>8}"
    )
    for s in rows:
        f = summary(s.latencies_ms)
        n = len(s.latencies_ms) or 1
        print(
            f"{s.name:<13}{f['count']:>7}{_fmt(f['p50_ms']):>8}{_fmt(f['p90_ms']):>8}"
            f"{_fmt(f['p99_ms']):>8}{_fmt(f['max_ms']):>8}"
            f"{(len(s.latencies_ms) / s.wall_s if s.wall_s else 0):>10.0f}"
            f"{s.filtered / n:>10.1f}{s.at_cap / n:>8.2f}"
        )
    print(
        "filtered / at cap: officers per decision passed over by eligibility (of 20) / skipped "
        "by the claim at a cap; routes/s: one after the other (sequential) or per wave"
    )
    print_cores(cores)


# -- main ---------------------------------------------------------------------------------------


async def measure(args: argparse.Namespace, setup: Setup, token: str, pid: int) -> dict[str, Any]:
    rng = random.Random(args.seed)
    meter = CpuMeter(args.redis_url, pid)
    result: dict[str, Any] = {}
    async with open_router(setup, args.redis_url) as router:
        await meter.start()
        rows = []
        for strategy in STRATEGIES:
            series = Series(strategy)
            requests = call_requests(f"{token}-{strategy}", args.routes + WARM_UP, rng)
            await sequential(router, series, requests)
            rows.append(series)
        cores = await meter.cores()
        decision_table(
            f"sequential decisions: {args.routes} per strategy, 20 officers", rows, cores
        )
        result["sequential"] = rows, cores

        await meter.start()
        rows = []
        for strategy in STRATEGIES:
            series = Series(strategy)
            requests = call_requests(f"{token}-{strategy}", args.routes + args.in_flight, rng)
            await concurrent(router, series, requests, args.in_flight)
            rows.append(series)
        cores = await meter.cores()
        decision_table(
            f"concurrent decisions: {args.in_flight} in flight at once, {args.routes} per strategy",
            rows,
            cores,
        )
        result["concurrent"] = rows, cores

        await meter.start()
        rows = []
        for case in ("fast", "slow"):
            series = Series(case)
            requests = call_requests(f"{token}-ping-{case}", args.ping_routes + WARM_UP, rng)
            await sequential(router, series, requests, needs_bid=True)
            rows.append(series)
        cores = await meter.cores()
        result["ping_post"] = rows, cores
    return result


def report(
    args: argparse.Namespace, measured: dict[str, Any], info: dict[str, Any]
) -> dict[str, Any]:
    deadline = args.ping_deadline_ms
    fast, slow = measured["ping_post"][0]
    overheads = {
        "fast": fast.latencies_ms,
        "slow": [ms - deadline for ms in slow.latencies_ms],
    }
    answering = args.bidders - args.slow_bidders
    print(
        f"\nping-post: deadline {deadline} ms, {args.ping_routes} decisions per case; "
        f"fast: {args.bidders} bidders answer at once; slow: {answering} answer at once, "
        f"{args.slow_bidders} not before the deadline"
    )
    print(
        f"{'case':<7}{'decision p50':>14}{'p99':>9}{'max':>9}"
        f"{'overhead p50':>15}{'p99':>9}{'max':>9}"
    )
    ping_figures = {}
    for series in (fast, slow):
        d, o = summary(series.latencies_ms), summary(overheads[series.name])
        ping_figures[series.name] = {"decision": d, "overhead": o, "errors": len(series.errors)}
        print(
            f"{series.name:<7}{_fmt(d['p50_ms']):>14}{_fmt(d['p99_ms']):>9}{_fmt(d['max_ms']):>9}"
            f"{_fmt(o['p50_ms']):>15}{_fmt(o['p99_ms']):>9}{_fmt(o['max_ms']):>9}"
        )
    print("(ms; overhead: fast = the decision time, slow = the decision time minus the deadline)")
    print_cores(measured["ping_post"][1])

    def figures(rows: list[Series]) -> dict[str, Any]:
        return {
            s.name: {
                **summary(s.latencies_ms),
                "routes_per_s": len(s.latencies_ms) / s.wall_s if s.wall_s else None,
                "filtered_per_decision": s.filtered / max(1, len(s.latencies_ms)),
                "at_cap_per_decision": s.at_cap / max(1, len(s.latencies_ms)),
                "errors": len(s.errors),
            }
            for s in rows
        }

    sequential_rows = measured["sequential"][0]
    worst = max(summary(s.latencies_ms)["p99_ms"] for s in sequential_rows)
    worst_overhead = max(ping_figures[c]["overhead"]["p99_ms"] for c in ("fast", "slow"))
    decision_met = worst < DECISION_TARGET_MS
    overhead_met = worst_overhead < PING_OVERHEAD_TARGET_MS
    print(
        f"\ntarget: decision p99 < {DECISION_TARGET_MS:g} ms (sequential, every strategy): "
        f"worst {worst:.2f} ms, {'met' if decision_met else 'MISSED'}"
    )
    print(
        f"target: ping-post overhead beyond the deadline p99 < {PING_OVERHEAD_TARGET_MS:g} ms: "
        f"worst {worst_overhead:.2f} ms, {'met' if overhead_met else 'MISSED'}"
    )
    errors = [
        e
        for key in ("sequential", "concurrent", "ping_post")
        for s in measured[key][0]
        for e in s.errors
    ]
    if errors:
        print("\n" + "!" * 78, file=sys.stderr)
        print(f"!! {len(errors)} decisions went wrong; first:", file=sys.stderr)
        for line in errors[:5]:
            print(f"!!   {line}", file=sys.stderr)
        print("!" * 78, file=sys.stderr)
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": info,
        "settings": {
            "routes": args.routes,
            "in_flight": args.in_flight,
            "ping_routes": args.ping_routes,
            "ping_deadline_ms": deadline,
            "bidders": args.bidders,
            "slow_bidders": args.slow_bidders,
            "seed": args.seed,
        },
        "sequential": figures(sequential_rows),
        "concurrent": figures(measured["concurrent"][0]),
        "ping_post": ping_figures,
        "cores": {key: measured[key][1] for key in ("sequential", "concurrent", "ping_post")},
        "targets": {
            "decision_p99_ms": worst,
            "decision_met": decision_met,
            "ping_overhead_p99_ms": worst_overhead,
            "ping_overhead_met": overhead_met,
        },
        "errors": errors[:20],
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time Router.route against real Redis, and ping-post beyond its deadline.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--routes", type=int, default=2000, help="decisions per strategy")
    parser.add_argument(
        "--in-flight", type=int, default=50, help="routes at once in the concurrent variant"
    )
    parser.add_argument("--ping-routes", type=int, default=100, help="ping-post decisions per case")
    parser.add_argument(
        "--ping-deadline-ms", type=int, default=200, help="the ping-post pools' bid deadline"
    )
    parser.add_argument("--bidders", type=int, default=10, help="bidders in a ping-post pool")
    parser.add_argument(
        "--slow-bidders",
        type=int,
        default=3,
        help="of those, how many miss the deadline (slow case)",
    )
    parser.add_argument("--seed", type=int, default=1, help="fixes the calls routed")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("WARMLINE_REDIS_URL", DEFAULT_REDIS_URL),
        help="Redis to route against (WARMLINE_REDIS_URL)",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--serve-bidders", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.routes, args.in_flight, args.ping_routes, args.bidders) < 1:
        parser.error("--routes, --in-flight, --ping-routes and --bidders must be positive")
    if not 1 <= args.slow_bidders < args.bidders:
        parser.error("--slow-bidders must be at least 1 and fewer than --bidders")
    if not 50 <= args.ping_deadline_ms <= 5000:
        parser.error("--ping-deadline-ms must be 50-5000 (what a pool allows)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_bidders:
        serve_bidders(args.serve_bidders)
        return 0
    info = machine()
    token = f"bench-{secrets.token_hex(3)}"
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="warmline-routing-bench-") as folder:
        cast = roster(
            token,
            f"http://127.0.0.1:{port}",
            args.bidders,
            args.slow_bidders,
            args.ping_deadline_ms,
        )
        setup = load_setup(write_deployment(Path(folder), cast.officers, cast.pools))
        print(
            f"routing benchmark: officer ids {token}-*, Redis {args.redis_url}\n"
            f"machine: {info['cpus']} CPUs ({info['cpu_model']}), Python {info['python']}, "
            f"load average at start {info['load_average_at_start'][0]}"
        )
        try:
            with bidder_process(port, Path(folder) / "bidders.log") as pid:
                measured = asyncio.run(measure(args, setup, token, pid))
        finally:
            deleted = asyncio.run(forget(args.redis_url, setup))
    result = report(args, measured, info)
    print(f"(deleted the run's {deleted} Redis keys)")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
