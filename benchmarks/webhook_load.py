"""Webhook load: N scripted calls through the whole mortgage flow over HTTP, and the bare ceiling.

What it does, in one run:

1. **warmline**: a ``warmline serve`` process (started here on a free port with the benchmark's
   deployment, a random auth token and the local Redis, database 14 unless ``--redis-url`` or
   WARMLINE_REDIS_URL says otherwise; or, with ``--server URL``, a server that is already running,
   whose token is read from WARMLINE_TWILIO_AUTH_TOKEN and whose own deployment must have an
   officer for every call) takes ``--calls`` calls, ``--concurrency`` of them in flight at once.
   Each call is placed by the fake carrier (``ivr.simulator.carrier.Carrier``: real HTTP, signed
   webhooks, TwiML followed verb by verb) with a ``ScriptedCaller`` that answers by keypad and by
   voice, says what it wants in a few words (scored in the same webhook) and is transferred: the
   router picks an officer, the officer's leg fetches the whisper and presses the accept key, and
   the legs are bridged. Per call: voice → 4 × gather → the whisper and its reply on the officer's
   leg → dial, the officer leg's 4 status callbacks (initiated, ringing, answered, completed) and
   the final status callback: 13 webhooks a call.
2. **bare**: the same calls, with the same scripts and think times, through the same carrier
   against a minimal aiohttp app in another process that answers the same POST paths with small
   constant TwiML documents chosen by the ``turn`` query parameter (the same verbs, whisper and
   officer callbacks included; no signature check, no form parsing, no Redis, no engine). It is
   the ceiling: what aiohttp, the loopback network and this load generator can do on this
   machine. The client-side work per call is the same in both.

The deployment is the sample ``warmline.yaml`` (its campaigns, numbers and flows) with the officers
replaced: the sample's officers have real opening hours and caps (4 calls an hour, one at a
time...), so most transferred calls would find nobody, and which ones depends on the hour. The
benchmark writes a copy whose officers are the sample's with every licence current, open around
the clock, with no caps and no holidays (their loan types, states, minimums and duplicate windows
kept, so routing still filters), under ids unique to the run, in a pool of the same name and
strategy; so every scripted transfer finds an officer at any hour.

Figures: webhook latency is the carrier's ``RequestRecord.elapsed_s`` (request sent to response
body read, measured in the load generator, so it includes the loopback and the generator's own
event-loop delays), per endpoint path and overall, as nearest-rank p50/p95/p99. Calls/s is
completed calls over the wall time of the phase. A call fails on any exception, any webhook that
is not answered 200, an application error, a call that does not end with the app's hang-up after
a bridged transfer, or a "technical difficulties" message; failures are counted, printed loudly,
and make the exit status 1.

Think time (``--think-ms``): before each answer the caller waits a time drawn uniformly from
0.5-1.5 x think-ms, as a person listens to the prompt and answers. With think time, 500
concurrent calls is a realistic load and the latency figures mean something ("p99 at 500
concurrent calls"); with ``--think-ms 0`` every call fires its next webhook as soon as the last
answer arrives, which is a saturation test: it measures throughput, and its latencies are mostly
queueing. Run both (see docs/benchmarks.md). With think time the first ``--concurrency`` calls
start at random moments within one think time (``--ramp-ms``), not all in the same millisecond.

The generator and the server are separate processes; on a small machine they (and Redis) share the
same cores, so a saturation run measures all of them together. ``--seed`` fixes the workload
(which script each call plays, the think times, the caller numbers); CallSids are fresh each run
so that runs never collide in Redis. What the script's own server stored for these calls is
deleted from Redis afterwards: the calls, the repeat-caller marks of their callers, and the
routing keys (counters, claims) of the run's officers.

    .venv/bin/python benchmarks/webhook_load.py                  # latency run: 500 calls in flight
    .venv/bin/python benchmarks/webhook_load.py --think-ms 0     # throughput run (saturation)
    .venv/bin/python benchmarks/webhook_load.py --calls 5000 --json results.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
ACCOUNT_SID = "AC" + "b" * 32
TRACKING_NUMBER = "+18005550100"  # sunbelt-refi in warmline.yaml: TX FL GA AZ NC TN
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
LATENCY_TARGET_MS = 25.0
RATIO_TARGET = 0.40
TROUBLE = "technical difficulties"
BUSY_MACHINE_CORES = 0.25  # "other" CPU above this during a phase: the figures are disturbed
FAR_EXPIRY = "2099-12-31"

# Every script qualifies and is transferred: the longest path through the flow.
SCRIPTS: list[tuple[str, list[dict[str, object]]]] = [
    (
        "keypad",
        [
            {"digits": "1"},
            {"digits": "75201"},
            {"digits": "2"},
            {"speech": "refinance to a lower rate"},
            {"transfer": "accepted", "duration": 240},
        ],
    ),
    (
        "voice",
        [
            {"speech": "um I want to buy a house"},
            {"speech": "uh it's in Florida"},
            {"speech": "about seven twenty"},
            {"speech": "we found a house and want to get pre-approved"},
            {"transfer": "accepted", "duration": 180},
        ],
    ),
    (
        "mixed",
        [
            {"digits": "2"},
            {"speech": "Georgia", "confidence": 0.82},
            {"speech": "good"},
            {"speech": "compare rates for a cash out", "confidence": 0.9},
            {"transfer": "accepted", "duration": 300},
        ],
    ),
]


# -- the caller --------------------------------------------------------------------------------


class ThinkingCaller:
    """A `ScriptedCaller` that pauses before each answer, as a person does.

    ``talk_s``: the mean pause before a transfer's outcome instead (the officer's phone
    ringing and the conversation, which the simulated carrier otherwise passes in no time).
    """

    def __init__(
        self,
        turns: Sequence[Mapping[str, object]],
        rng: random.Random,
        think_s: float,
        talk_s: float | None = None,
    ):
        from ivr.simulator.caller import ScriptedCaller

        self._script = ScriptedCaller(turns)
        talks = [talk_s if talk_s is not None and "transfer" in turn else think_s for turn in turns]
        self._pauses = [rng.uniform(0.5, 1.5) * mean for mean in talks]
        self._turn = 0

    async def _think(self) -> None:
        if self._turn < len(self._pauses) and self._pauses[self._turn] > 0:
            await asyncio.sleep(self._pauses[self._turn])
        self._turn += 1

    async def gather(self, heard: Any, spec: Any) -> Any:
        await self._think()
        return await self._script.gather(heard, spec)

    async def record(self, heard: Any, spec: Any) -> Any:
        await self._think()
        return await self._script.record(heard, spec)

    async def dial(self, heard: Any, spec: Any) -> Any:
        await self._think()
        return await self._script.dial(heard, spec)


# -- the deployment ------------------------------------------------------------------------------


def write_deployment(folder: Path, token: str) -> Path:
    """The sample ``warmline.yaml`` with officers who can take any call at any hour.

    Each sample officer becomes ``<token>-<id>``: every licence current until 2099, open around
    the clock, no caps, no holidays; loan types, states, minimums and duplicate windows kept.
    The pools keep their ids (the flows name them) and strategies. Paths are made absolute.
    """
    sample = yaml.safe_load((ROOT / "warmline.yaml").read_text())
    officers = []
    for officer in sample.get("officers", []):
        officer = {**officer, "id": f"{token}-{officer['id']}"}
        officer["licences"] = dict.fromkeys(officer["licences"], FAR_EXPIRY)
        officer["hours"] = {"mon-sun": "00:00-24:00"}
        officer.pop("caps", None)
        officer.pop("holidays", None)
        officers.append(officer)
    pools = [
        {**pool, "officers": [f"{token}-{o}" for o in pool.get("officers", [])]}
        for pool in sample.get("pools", [])
    ]
    sample.update(officers=officers, pools=pools)
    sample["flows"] = str(ROOT / sample.get("flows", "flows"))
    sample["blocklist"] = [str(ROOT / name) for name in sample.get("blocklist", [])]
    path = folder / "webhook-load-deployment.yaml"
    path.write_text(yaml.safe_dump(sample, sort_keys=False))
    return path


# -- servers -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, process: subprocess.Popen[bytes] | None, log: Path | None) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            text = log.read_text(errors="replace") if log else ""
            raise SystemExit(f"server exited with {process.returncode}:\n{text}")
        with (
            contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError),
            urllib.request.urlopen(f"{url}/healthz", timeout=1) as response,  # noqa: S310
        ):
            if response.status == 200:
                return
        time.sleep(0.05)
    raise SystemExit(f"{url} did not become healthy in 30 s")


@contextlib.contextmanager
def subprocess_server(
    command: list[str], env: Mapping[str, str], port: int, log: Path
) -> Iterator[tuple[str, int]]:
    """Run a server process; yield its URL and pid; stop it with SIGTERM."""
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env={**env}, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process, log)
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def machine_busy_seconds() -> float | None:
    """CPU seconds all cores of the machine have spent busy so far (Linux /proc/stat)."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in first[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a process (Linux /proc); None where unknown."""
    if pid is None:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the bare ceiling ---------------------------------------------------------------------------


def bare_documents() -> dict[int, bytes]:
    """The bare app's TwiML, by the turn it answers: the same verbs as the mortgage flow."""

    def gather(turn: int, inputs: str = "dtmf speech") -> str:
        return (
            f'<Gather action="/twilio/gather?turn={turn}" input="{inputs}" method="POST" '
            f'speechTimeout="auto" timeout="6"><Say>Question {turn}?</Say></Gather>'
            f'<Redirect method="POST">/twilio/no-input?turn={turn}</Redirect>'
        )

    docs = {
        0: gather(1),
        1: gather(2),
        2: gather(3),
        3: gather(4, "speech"),
        4: '<Dial action="/twilio/dial?turn=5" answerOnBridge="true" method="POST" timeout="25">'
        '<Number method="POST" statusCallback="/twilio/officer-status?claim=c" '
        'statusCallbackEvent="initiated ringing answered completed" '
        'statusCallbackMethod="POST" url="/twilio/whisper?turn=6">+15125550101</Number></Dial>',
        5: "<Hangup/>",
        # the officer's leg: the whisper and the accept key, then the reply that bridges
        6: '<Gather action="/twilio/whisper-reply?turn=7" input="dtmf" method="POST" '
        'numDigits="1" timeout="8"><Say>New mortgage lead. Press 1 to take the call.</Say>'
        "</Gather><Hangup/>",
        7: "<Say>Connecting you now.</Say>",
    }
    head = '<?xml version="1.0" encoding="UTF-8"?><Response>'
    return {turn: (head + body + "</Response>").encode() for turn, body in docs.items()}


def serve_bare(port: int) -> None:
    """The ceiling: a minimal aiohttp app on the same paths (run in its own process)."""
    from aiohttp import web

    documents = bare_documents()
    hangup = documents[5]

    async def twiml(request: web.Request) -> web.Response:
        turn = int(request.query.get("turn", "0"))
        return web.Response(body=documents.get(turn, hangup), content_type="application/xml")

    async def empty(request: web.Request) -> web.Response:
        return web.Response()

    app = web.Application()
    for path in ("voice", "gather", "no-input", "record", "dial", "whisper", "whisper-reply"):
        app.router.add_post(f"/twilio/{path}", twiml)
    app.router.add_post("/twilio/status", empty)
    app.router.add_post("/twilio/officer-status", empty)
    app.router.add_post("/twilio/recording-status", empty)
    app.router.add_get("/healthz", empty)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# -- driving calls -----------------------------------------------------------------------------


@dataclass
class Phase:
    """The figures of one target (warmline or bare)."""

    name: str
    calls: int = 0
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=dict)
    server_cpu_s: float | None = None
    client_cpu_s: float = 0.0
    redis_cpu_s: float | None = None
    machine_cpu_s: float | None = None
    call_sids: list[str] = field(default_factory=list)
    callers: list[str] = field(default_factory=list)
    recording_sids: list[str] = field(default_factory=list)

    @property
    def webhooks(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    @property
    def calls_per_s(self) -> float:
        return self.ok / self.wall_s if self.wall_s else 0.0

    def all_latencies(self) -> list[float]:
        return [x for values in self.latencies.values() for x in values]


def call_problem(record: Any) -> str | None:
    """Why a finished call counts as failed, or None."""
    for request in record.requests:
        if request.status != 200:
            what = request.status if request.status is not None else request.error
            return f"{request.path}: {what} {request.body[:120]!r}"
    if record.ended_by != "app-hangup":
        return f"ended by {record.ended_by} (error code {record.error_code})"
    if record.transfer is None or not record.transfer.bridged:
        return "no bridged transfer"
    if any(TROUBLE in text for text in record.said):
        return "the caller heard the technical-difficulties message"
    return None


async def place(
    carrier: Any, phase: Phase, caller: Any, from_number: str, to_number: str, label: str
) -> Any:
    """Place one call and file its webhooks' latencies, sids and recordings in ``phase``.

    Returns the carrier's record of the call, or None when it failed on the way (the failure
    is filed, labelled with ``label``).
    """
    from ivr.simulator.caller import ScriptError

    phase.callers.append(from_number)
    try:
        record = await carrier.place_call(caller, from_number=from_number, to_number=to_number)
    except ScriptError as error:
        if error.record is not None:
            phase.call_sids.append(error.record.call_sid)
        phase.failures.append(f"{label}: {str(error)[:200]}")
        return None
    except Exception as error:
        phase.failures.append(f"{label}: {type(error).__name__}: {str(error)[:200]}")
        return None
    phase.call_sids.append(record.call_sid)
    phase.recording_sids.extend(r.recording_sid for r in record.recordings)
    for request in record.requests:
        if request.status is not None:
            phase.latencies.setdefault(request.path, []).append(request.elapsed_s)
    return record


async def drive(
    phase: Phase,
    base_url: str,
    public_url: str,
    auth_token: str,
    args: argparse.Namespace,
    server_pid: int | None,
    redis_url: str | None,
) -> None:
    from ivr.simulator.carrier import Carrier
    from ivr.simulator.session import number_config

    config = number_config(
        public_url,
        auth_token,
        account_sid=ACCOUNT_SID,
        backends=None if base_url == public_url else [base_url],
        request_timeout_s=args.timeout_s,
        seed=None,  # fresh CallSids every run: never a collision with an earlier run's state
    )
    think_s = args.think_ms / 1000
    ramp_s = (args.think_ms if args.ramp_ms is None else args.ramp_ms) / 1000
    next_call = iter(range(args.calls))

    async def worker(carrier: Carrier, rng: random.Random) -> None:
        if ramp_s > 0:
            await asyncio.sleep(rng.uniform(0, ramp_s))
        for index in next_call:
            call_rng = random.Random(f"{args.seed}:{index}")
            _, turns = SCRIPTS[call_rng.randrange(len(SCRIPTS))]
            caller = ThinkingCaller(turns, call_rng, think_s)
            from_number = f"+1512{call_rng.randrange(2_000_000, 9_999_999):07d}"
            record = await place(carrier, phase, caller, from_number, TRACKING_NUMBER, "script")
            if record is None:
                continue
            problem = call_problem(record)
            if problem is None:
                phase.ok += 1
            else:
                phase.failures.append(f"{record.call_sid}: {problem}")

    redis_before = await redis_cpu(redis_url)
    machine_before = machine_busy_seconds()
    server_before = cpu_seconds(server_pid)
    client_before = time.process_time()
    started = time.perf_counter()
    async with Carrier(config) as carrier:
        rng = random.Random(args.seed)
        workers = [worker(carrier, random.Random(rng.random())) for _ in range(args.concurrency)]
        await asyncio.gather(*workers)
    phase.wall_s = time.perf_counter() - started
    phase.client_cpu_s = time.process_time() - client_before
    server_after = cpu_seconds(server_pid)
    machine_after = machine_busy_seconds()
    if machine_before is not None and machine_after is not None:
        phase.machine_cpu_s = machine_after - machine_before
    if server_before is not None and server_after is not None:
        phase.server_cpu_s = server_after - server_before
    redis_after = await redis_cpu(redis_url)
    if redis_before is not None and redis_after is not None:
        phase.redis_cpu_s = redis_after - redis_before
    phase.calls = args.calls


async def redis_cpu(url: str | None) -> float | None:
    """The Redis server's own CPU seconds so far (INFO cpu), when we know its URL."""
    if url is None:
        return None
    from redis.asyncio import Redis

    redis = Redis.from_url(url)
    try:
        info = await redis.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
    except Exception:
        return None
    finally:
        await redis.aclose()


async def forget_calls(
    redis_url: str, phase: Phase, token: str, numbers: Sequence[str] = (TRACKING_NUMBER,)
) -> None:
    """Delete what this run's calls left in Redis: call hashes, dedupe keys, stream entries, the
    callers' repeat marks (in the campaigns of the tracking ``numbers`` called), and the routing
    counters and claims of the run's officers."""
    from redis.asyncio import Redis

    from ivr.compliance.repeats import RepeatCallers
    from ivr.routing.usage import PREFIX, UsageBook

    redis = Redis.from_url(redis_url)
    try:
        keys = [f"warmline:call:{sid}" for sid in phase.call_sids]
        keys += [f"warmline:recording-seen:{sid}" for sid in phase.recording_sids]
        repeats = RepeatCallers(redis)
        campaigns = {campaign_of(number) for number in numbers}
        for caller in set(phase.callers):  # the same key names the server wrote
            for campaign in campaigns:
                keys += repeats.campaign_keys(caller, campaign, across_campaigns=True)
        sample = yaml.safe_load((ROOT / "warmline.yaml").read_text())
        officers = {f"{token}-{o['id']}" for o in sample.get("officers", [])}
        await UsageBook(redis).forget(officers)
        seen = f"{PREFIX}seen:officer:{token}-*"  # the officers' own repeat-caller marks
        keys += [k async for k in redis.scan_iter(match=seen, count=1000)]
        for start in range(0, len(keys), 1000):
            await redis.delete(*keys[start : start + 1000])
        ours = set(phase.call_sids)
        entries = await redis.xrange("warmline:recordings")
        stale = [eid for eid, data in entries if data.get(b"CallSid", b"").decode() in ours]
        for start in range(0, len(stale), 1000):
            await redis.xdel("warmline:recordings", *stale[start : start + 1000])
        if entries and len(stale) == len(entries):
            await redis.delete("warmline:recordings")  # only our entries were there
    finally:
        await redis.aclose()


def campaign_of(number: str) -> str:
    """The sample deployment's campaign for a tracking number."""
    sample = yaml.safe_load((ROOT / "warmline.yaml").read_text())
    return str(next(n["campaign"] for n in sample["numbers"] if n["number"] == number))


# -- figures -----------------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def latency_summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "p50_ms": percentile(ordered, 50) * 1000,
        "p95_ms": percentile(ordered, 95) * 1000,
        "p99_ms": percentile(ordered, 99) * 1000,
        "max_ms": (ordered[-1] if ordered else math.nan) * 1000,
    }


def phase_figures(phase: Phase) -> dict[str, Any]:
    def share(cpu: float | None) -> float | None:
        return None if cpu is None or not phase.wall_s else cpu / phase.wall_s

    # Everything else the machine did meanwhile: other processes, the kernel's network work.
    # Unknown when the server's own share is (a --server run): it would hide in "other".
    other = None
    if phase.machine_cpu_s is not None and phase.server_cpu_s is not None:
        ours = phase.server_cpu_s + phase.client_cpu_s + (phase.redis_cpu_s or 0.0)
        other = max(0.0, phase.machine_cpu_s - ours)
    return {
        "calls": phase.calls,
        "completed": phase.ok,
        "failed": len(phase.failures),
        "failures": phase.failures[:20],
        "wall_s": phase.wall_s,
        "calls_per_s": phase.calls_per_s,
        "webhooks": phase.webhooks,
        "webhooks_per_s": phase.webhooks / phase.wall_s if phase.wall_s else 0.0,
        "latency": latency_summary(phase.all_latencies()),
        "by_path": {
            path: latency_summary(values) for path, values in sorted(phase.latencies.items())
        },
        "cpu_cores_used": {
            "server": share(phase.server_cpu_s),
            "load_generator": share(phase.client_cpu_s),
            "redis": share(phase.redis_cpu_s),
            "other": share(other),
        },
        "server_cpu_us_per_webhook": (
            phase.server_cpu_s / phase.webhooks * 1e6
            if phase.server_cpu_s is not None and phase.webhooks
            else None
        ),
    }


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory_gib = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model or platform.processor(),
        "memory_gib": memory_gib,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def _fmt(value: float | None, spec: str = ".1f") -> str:
    return "-" if value is None or math.isnan(value) else format(value, spec)


def report(args: argparse.Namespace, phases: list[Phase], info: dict[str, Any]) -> dict[str, Any]:
    figures = {phase.name: phase_figures(phase) for phase in phases}
    mode = "latency" if args.think_ms > 0 else "throughput (saturation)"
    print(
        f"\nwebhook load: {args.calls} calls, {args.concurrency} in flight, "
        f"think {args.think_ms} ms (x0.5-1.5), seed {args.seed}: {mode} run"
    )
    print(
        f"machine: {info['cpus']} CPUs ({info['cpu_model']}), {info['memory_gib']} GiB, "
        f"Python {info['python']}, load average at start {info['load_average_at_start'][0]}"
    )
    header = (
        f"{'target':<9}{'calls':>7}{'failed':>7}{'wall s':>8}{'calls/s':>9}{'hooks/s':>9}"
        f"{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'max ms':>8}"
        f"{'server':>8}{'loadgen':>8}{'redis':>7}{'other':>7}{'srv us/hook':>12}"
    )
    print("\n" + header)
    for name, f in figures.items():
        lat, cpu = f["latency"], f["cpu_cores_used"]
        print(
            f"{name:<9}{f['calls']:>7}{f['failed']:>7}{f['wall_s']:>8.1f}{f['calls_per_s']:>9.1f}"
            f"{f['webhooks_per_s']:>9.0f}{_fmt(lat['p50_ms']):>8}{_fmt(lat['p95_ms']):>8}"
            f"{_fmt(lat['p99_ms']):>8}{_fmt(lat['max_ms']):>8}"
            f"{_fmt(cpu['server'], '.2f'):>8}{_fmt(cpu['load_generator'], '.2f'):>8}"
            f"{_fmt(cpu['redis'], '.2f'):>7}{_fmt(cpu['other'], '.2f'):>7}"
            f"{_fmt(f['server_cpu_us_per_webhook'], '.0f'):>12}"
        )
    print(
        "server/loadgen/redis/other: CPU cores each kept busy on average during the phase "
        "(/proc, INFO cpu);\nother = the rest of the machine (other processes, kernel). "
        "srv us/hook: server CPU per webhook."
    )
    result: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": info,
        "settings": {
            "calls": args.calls,
            "concurrency": args.concurrency,
            "think_ms": args.think_ms,
            "ramp_ms": args.think_ms if args.ramp_ms is None else args.ramp_ms,
            "seed": args.seed,
            "server": args.server or "warmline serve started by the benchmark",
        },
        "results": figures,
    }
    for name, f in figures.items():
        print(f"\n{name}: webhook latency by endpoint")
        print(f"{'path':<26}{'count':>7}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'max ms':>8}")
        for path, s in f["by_path"].items():
            print(
                f"{path:<26}{s['count']:>7}{_fmt(s['p50_ms']):>8}{_fmt(s['p95_ms']):>8}"
                f"{_fmt(s['p99_ms']):>8}{_fmt(s['max_ms']):>8}"
            )
    if "warmline" in figures:
        p99 = figures["warmline"]["latency"]["p99_ms"]
        met = p99 < LATENCY_TARGET_MS
        note = "" if args.think_ms > 0 else " (saturation run: latency here is mostly queueing)"
        print(
            f"\ntarget: webhook p99 < {LATENCY_TARGET_MS:g} ms at {args.concurrency} concurrent "
            f"calls: {p99:.1f} ms, {'met' if met else 'MISSED'}{note}"
        )
        result["targets"] = {"p99_ms": p99, "p99_met": met}
    if "warmline" in figures and "bare" in figures and figures["bare"]["calls_per_s"]:
        ratio = figures["warmline"]["calls_per_s"] / figures["bare"]["calls_per_s"]
        met = ratio >= RATIO_TARGET
        note = (
            " (paced by think time: both targets keep up, compare a --think-ms 0 run)"
            if args.think_ms > 0
            else ""
        )
        print(
            f"target: throughput >= {RATIO_TARGET:.0%} of the bare handler: {ratio:.0%} "
            f"({figures['warmline']['calls_per_s']:.1f} / {figures['bare']['calls_per_s']:.1f} "
            f"calls/s), {'met' if met else 'MISSED'}{note}"
        )
        result.setdefault("targets", {}).update({"throughput_ratio": ratio, "ratio_met": met})
    busy = {
        name: f["cpu_cores_used"]["other"]
        for name, f in figures.items()
        if (f["cpu_cores_used"]["other"] or 0) > BUSY_MACHINE_CORES
    }
    for name, cores in busy.items():
        print(
            f"note: during the {name} phase the rest of the machine kept {cores:.2f} cores busy "
            "(other processes): its figures are pessimistic; run again on a quiet machine"
        )
    result["busy_machine"] = busy
    failed = {name: f["failed"] for name, f in figures.items() if f["failed"]}
    if failed:
        print("\n" + "!" * 78, file=sys.stderr)
        for phase in phases:
            if phase.failures:
                print(
                    f"!! {phase.name}: {len(phase.failures)} of {phase.calls} calls FAILED; first:",
                    file=sys.stderr,
                )
                for line in phase.failures[:5]:
                    print(f"!!   {line}", file=sys.stderr)
        print("!! the figures above include failed calls: do not quote them", file=sys.stderr)
        print("!" * 78, file=sys.stderr)
    return result


# -- main --------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Drive scripted calls through warmline over HTTP; compare with a bare handler.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--server",
        help="base URL of a running `warmline serve` (token from WARMLINE_TWILIO_AUTH_TOKEN); "
        "default: start one",
    )
    parser.add_argument(
        "--public-url", help="with --server: the URL the server signs for (its WARMLINE_PUBLIC_URL)"
    )
    parser.add_argument("--calls", type=int, default=2000, help="calls in all, per target")
    parser.add_argument("--concurrency", type=int, default=500, help="calls in flight at once")
    parser.add_argument(
        "--think-ms",
        type=int,
        default=2000,
        help="the caller's mean pause before each answer; 0 = saturation (throughput) run",
    )
    parser.add_argument(
        "--ramp-ms", type=int, help="spread the first calls' starts over this (default: think-ms)"
    )
    parser.add_argument("--seed", type=int, default=1, help="fixes scripts, think times, numbers")
    parser.add_argument("--redis-url", help="Redis for the server this script starts")
    parser.add_argument("--timeout-s", type=float, default=15.0, help="per-webhook time limit")
    parser.add_argument("--skip-bare", action="store_true", help="only the warmline phase")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.calls < 1 or args.concurrency < 1 or args.think_ms < 0:
        parser.error("--calls and --concurrency must be positive, --think-ms not negative")
    return args


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Both phases, one after the other, each on an event loop of its own."""
    info = machine()
    phases: list[Phase] = []
    workdir = Path(tempfile.mkdtemp(prefix="warmline-bench-"))
    try:
        run_phases(args, phases, workdir)
    finally:
        logs = sorted(workdir.glob("*.log"))
        if logs and any(phase.failures for phase in phases):
            for log in logs:
                problems = [
                    line
                    for line in log.read_text(errors="replace").splitlines()
                    if " ERROR " in line or " WARNING " in line or "Traceback" in line
                ]
                print(f"!! {log}: {len(problems)} warnings/errors; last:", file=sys.stderr)
                for line in problems[-5:]:
                    print(f"!!   {line[:200]}", file=sys.stderr)
            print(f"!! server logs kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return report(args, phases, info)


def run_phases(args: argparse.Namespace, phases: list[Phase], workdir: Path) -> None:
    if args.server:
        token = os.environ.get("WARMLINE_TWILIO_AUTH_TOKEN")
        if not token:
            raise SystemExit("--server needs WARMLINE_TWILIO_AUTH_TOKEN (the server's token)")
        base = args.server.rstrip("/")
        wait_healthy(base, None, None)
        phase = Phase("warmline")
        public = (args.public_url or base).rstrip("/")
        asyncio.run(drive(phase, base, public, token, args, None, None))
        phases.append(phase)
    else:
        token = secrets.token_hex(16)
        officers = f"bench-{secrets.token_hex(3)}"
        deployment = write_deployment(workdir, officers)
        port = free_port()
        redis_url = args.redis_url or os.environ.get("WARMLINE_REDIS_URL", DEFAULT_REDIS_URL)
        env = {
            **os.environ,
            "WARMLINE_TWILIO_AUTH_TOKEN": token,
            "WARMLINE_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "WARMLINE_REDIS_URL": redis_url,
            "WARMLINE_DEPLOYMENT": str(deployment),
            "WARMLINE_CALL_TTL_S": "3600",
            "PYTHONUNBUFFERED": "1",
        }
        command = [sys.executable, "-m", "ivr", "serve", "--port", str(port)]
        with subprocess_server(command, env, port, workdir / "warmline.log") as (url, pid):
            phase = Phase("warmline")
            phases.append(phase)
            try:
                asyncio.run(drive(phase, url, url, token, args, pid, redis_url))
            finally:
                asyncio.run(forget_calls(redis_url, phase, officers))
    if not args.skip_bare:
        port = free_port()
        command = [sys.executable, str(Path(__file__).resolve()), "--serve-bare", str(port)]
        with subprocess_server(command, os.environ, port, workdir / "bare.log") as (url, pid):
            phase = Phase("bare")
            phases.append(phase)
            asyncio.run(drive(phase, url, url, "bare-handler-checks-no-signature", args, pid, None))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return 0
    result = run(args)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    failed = any(f["failed"] for f in result["results"].values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
