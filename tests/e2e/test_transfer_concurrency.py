"""Warm transfers under load: four server processes, one Redis, many callers at once, small caps.

Every ``warmline serve`` process claims officers through the same Lua scripts in the same Redis
(:mod:`ivr.routing.usage`), so caps must hold across processes, not just inside one. Here four
processes sit behind one public URL, the fake carrier spreads each call's requests across them
like a load balancer, and a crowd of callers reaches the transfer step together. The officers'
phones (the callers' ``dial``) stay "ringing" for a random real-time moment, so legs really
overlap across processes. Afterwards no slot may be left behind and the day counters must count
exactly the calls the officers took.

The deployment is the sample one with its own roster, ids suffixed per run so counters left by
earlier runs never matter: three officers licensed in Texas and three in Florida, all in one
round-robin pool. Texas callers (ZIP 75201) reach only the Texas officers, who accept; Florida
callers (ZIP 33101) reach only the Florida officers, who decline — so the two tests share the
four servers without sharing counters.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from redis.asyncio import Redis

from ivr.engine.state import CallState
from ivr.routing.usage import PREFIX
from ivr.simulator.caller import (
    DialAnswer,
    DialOutcome,
    DialSpec,
    Digits,
    GatherInput,
    GatherSpec,
    RecordAnswer,
    RecordInput,
    RecordSpec,
    Speech,
)
from ivr.simulator.carrier import Carrier
from ivr.simulator.model import CallRecord, Heard
from ivr.simulator.session import number_config
from tests.e2e.conftest import LOAD_BALANCER, stored_state
from tests.support.services import ACCOUNT_SID, AUTH_TOKEN, ROOT, ServerProcess, start_server

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

PROCESSES = 4
CONCURRENT_CAP = 2
DAILY_CAP = 15
ATTEMPTS = 3
"""The ``connect`` step's ``attempts`` in flows/mortgage.yaml."""
POOL = "loan_officers"
"""The pool the mortgage flow's ``connect`` step transfers to."""
TRACKING_NUMBER = "+18005550100"
"""The sample's sunbelt-refi number: refinance in Texas and Florida among others."""
TEXAS_ZIP = "75201"
FLORIDA_ZIP = "33101"
RING_S = (0.05, 0.3)
"""How long, in real seconds, an officer's phone is busy with the caller's ``dial``."""
THINK_S = 8.0
"""The most a caller of the big crowd waits, in real seconds, before answering the first question:
all calls start at once, but reach the transfer over several seconds, so the officers' slots turn
over many times and the daily caps are reached too, not only the concurrent ones. (At 4 s, four
servers with their records writers on two cores bunched the crowd enough that calls found every
line busy while an officer still had room for the day.)"""

RUN = secrets.token_hex(3)
TEXAS = {f"tx{i}-{RUN}": f"+1512555016{i}" for i in range(1, 4)}
FLORIDA = {f"fl{i}-{RUN}": f"+1305555017{i}" for i in range(1, 4)}
OFFICER_BY_PHONE = {phone: officer for officer, phone in (TEXAS | FLORIDA).items()}


def _officer(officer_id: str, phone: str, state: str) -> dict[str, object]:
    return {
        "id": officer_id,
        "name": f"Officer {officer_id}",
        "phone": phone,
        "nmls_id": "2000001",
        "licences": {state: "2099-12-31"},
        "loan_types": ["refinance"],
        "time_zone": "America/Chicago",
        "hours": {"mon-sun": "00:00-24:00"},
        "caps": {"concurrent": CONCURRENT_CAP, "daily": DAILY_CAP},
        "price": "40.00",
    }


def write_deployment(folder: Path) -> Path:
    """The sample deployment with this module's roster (as tests/support/deployments.py does)."""
    sample = yaml.safe_load((ROOT / "warmline.yaml").read_text())
    officers = [_officer(i, p, "TX") for i, p in TEXAS.items()]
    officers += [_officer(i, p, "FL") for i, p in FLORIDA.items()]
    sample["officers"] = officers
    sample["pools"] = [
        {"id": POOL, "strategy": "round_robin", "officers": [o["id"] for o in officers]}
    ]
    sample["flows"] = str(ROOT / sample.get("flows", "flows"))
    sample["blocklist"] = [str(ROOT / name) for name in sample.get("blocklist", [])]
    path = folder / "concurrency-deployment.yaml"
    path.write_text(yaml.safe_dump(sample, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_deployment(tmp_path_factory.mktemp("concurrency"))


@pytest.fixture(scope="module")
def servers(redis_url: str, workdir: Path, deployment: Path) -> Iterator[list[ServerProcess]]:
    """Four processes on one deployment, one Redis and one public URL (started side by side)."""
    with ThreadPoolExecutor(PROCESSES) as pool:
        futures = [
            pool.submit(start_server, redis_url, LOAD_BALANCER, workdir, deployment)
            for _ in range(PROCESSES)
        ]
    started = [f.result() for f in futures if f.exception() is None]
    failed = [error for f in futures if (error := f.exception()) is not None]
    try:
        if failed:
            raise failed[0]
        assert len({s.port for s in started}) == PROCESSES
        yield started
    finally:
        for process in started:
            process.stop()


# -- the officers' phones and the callers -------------------------------------------------------


@dataclass
class Phones:
    """Every officer's phone as the callers see it: legs live now, the most at once, each leg."""

    live: Counter[str] = field(default_factory=Counter)
    peak: Counter[str] = field(default_factory=Counter)
    legs: list[tuple[str, float, float]] = field(default_factory=list)
    """(officer, started, ended) in real (monotonic) seconds."""

    def ring(self, officer: str) -> None:
        self.live[officer] += 1
        self.peak[officer] = max(self.peak[officer], self.live[officer])

    def hang_up(self, officer: str, started: float) -> None:
        self.live[officer] -= 1
        self.legs.append((officer, started, time.monotonic()))


class CrowdCaller:
    """A caller who answers the mortgage flow's four questions, then waits for an officer.

    Its ``dial`` plays the officer: the phone is busy for a random real moment (so legs overlap
    across processes), then the officer answers and presses ``accept_digit`` at the whisper.
    Its ``record`` leaves the voicemail the flow falls back to when nobody can take the call.
    """

    def __init__(
        self,
        phones: Phones,
        zip_code: str,
        accept_digit: str | None,
        rng: random.Random,
        think_s: float = 0.0,
    ) -> None:
        self._phones = phones
        self._accept = accept_digit
        self._rng = rng
        self._think_s = think_s
        self._answers: list[tuple[str, GatherInput]] = [
            ("What kind of loan", Digits("1")),
            ("Which state is the property in", Digits(zip_code)),
            ("How would you describe your credit", Digits("2")),
            ("In a few words, what would you like to do", Speech("refinance to a lower rate")),
        ]
        self.dialled: list[str] = []
        """The officers dialled, in order."""
        self.messages = 0

    async def gather(self, heard: list[Heard], spec: GatherSpec) -> GatherInput:
        said = " ".join(h.text or "" for h in heard if h.kind == "say")
        if self._think_s:
            await asyncio.sleep(self._think_s)
            self._think_s = 0.0
        cue, answer = self._answers.pop(0) if self._answers else ("(no more questions)", None)
        assert answer is not None and cue in said, f"expected {cue!r}, heard {said!r}"
        if isinstance(answer, Digits):
            assert spec.accepts_dtmf, f"<Gather> after {said!r} takes no keys"
        else:
            assert spec.accepts_speech, f"<Gather> after {said!r} takes no speech"
        return answer

    async def record(self, heard: list[Heard], spec: RecordSpec) -> RecordAnswer:
        self.messages += 1
        return RecordInput(duration_s=5)

    async def dial(self, heard: list[Heard], spec: DialSpec) -> DialAnswer:
        assert len(spec.targets) == 1, spec.targets
        officer = OFFICER_BY_PHONE[spec.targets[0].address]
        self.dialled.append(officer)
        started = time.monotonic()
        self._phones.ring(officer)
        try:
            await asyncio.sleep(self._rng.uniform(*RING_S))
        finally:
            self._phones.hang_up(officer, started)
        accepted = self._accept is not None
        return DialOutcome(
            "completed",
            answered=True,
            accept_digit=self._accept,
            duration_s=60.0 if accepted else 8.0,
        )


# -- Redis, read as the servers left it ---------------------------------------------------------


class LegSampler:
    """Polls the officers' live-leg sets in Redis while the calls run: the most seen at once."""

    def __init__(self, redis: Redis, officers: Sequence[str]) -> None:
        self._redis = redis
        self._officers = list(officers)
        self.peak: Counter[str] = Counter()
        self.samples = 0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while not self._stop.is_set():
            pipe = self._redis.pipeline(transaction=False)
            for officer in self._officers:
                pipe.zcard(f"{PREFIX}legs:{officer}")
            for officer, live in zip(self._officers, await pipe.execute(), strict=True):
                self.peak[officer] = max(self.peak[officer], int(live))
            self.samples += 1
            await asyncio.sleep(0.005)


async def live_legs(redis: Redis, officer: str) -> int:
    return int(await redis.zcard(f"{PREFIX}legs:{officer}"))


async def counted(redis: Redis, kind: str, officer: str) -> int:
    """The officer's calls in every ``day`` (or ``hour``) bucket: robust across midnight."""
    total = 0
    async for key in redis.scan_iter(match=f"{PREFIX}{kind}:{officer}:*"):
        total += int(await redis.get(key) or 0)
    return total


# -- placing the calls --------------------------------------------------------------------------


@dataclass
class Placed:
    record: CallRecord
    caller: CrowdCaller
    state: CallState


async def place_crowd(
    servers: list[ServerProcess],
    redis_url: str,
    phones: Phones,
    *,
    calls: int,
    zip_code: str,
    accept_digit: str | None,
    seed: int,
    think_s: float = 0.0,
) -> list[Placed]:
    """Place ``calls`` calls at once through one carrier; every call must end without error."""
    rng = random.Random(seed)
    config = number_config(
        LOAD_BALANCER, AUTH_TOKEN, account_sid=ACCOUNT_SID, backends=[s.url for s in servers]
    )
    callers = [
        CrowdCaller(phones, zip_code, accept_digit, rng, rng.uniform(0, think_s))
        for _ in range(calls)
    ]
    numbers = [f"+1469{n:07d}" for n in rng.sample(range(10**7), calls)]
    async with Carrier(config) as carrier:
        outcomes = await asyncio.gather(
            *(
                carrier.place_call(caller, from_number=number, to_number=TRACKING_NUMBER)
                for caller, number in zip(callers, numbers, strict=True)
            ),
            return_exceptions=True,
        )
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    assert not errors, f"{len(errors)} call(s) failed; first: {errors[0]!r}"
    records = [o for o in outcomes if isinstance(o, CallRecord)]
    placed = []
    for record, caller in zip(records, callers, strict=True):
        assert record.ended_by == "app-hangup", (record.ended_by, record.error_code)
        assert record.error_code is None and not record.warnings, record.warnings
        bad = [(r.kind, r.path, r.status) for r in record.requests if r.status != 200]
        assert not bad, bad
        state = await stored_state(redis_url, record.call_sid)
        assert state.status == "ended", state.status
        placed.append(Placed(record, caller, state))
    for process in servers:
        assert "Traceback" not in process.log(), process.log()[-4000:]
    return placed


def refusals(state: CallState) -> dict[str, str]:
    """Why routing found nobody for this call: the pool's officers who could take its state and
    the cap each was at (from the ``no_officer`` entry of its history)."""
    entries = [h for h in state.history if h.step == "connect" and h.event == "no_officer"]
    assert len(entries) == 1, state.history
    reasons = (part.split(": ", 1) for part in (entries[0].detail or "").split("; "))
    return {officer: why for officer, why in reasons if "no licence" not in why}


def overlap(legs: Sequence[tuple[str, float, float]], officer: str) -> int:
    """The most legs of ``officer`` live at one instant, from the recorded intervals."""
    edges = sorted(
        (t, step)
        for who, start, end in legs
        if who == officer
        for t, step in ((start, 1), (end, -1))
    )
    live = most = 0
    for _, step in edges:  # an end sorts before a start at the same instant
        live += step
        most = max(most, live)
    return most


# -- the tests ----------------------------------------------------------------------------------


async def test_two_hundred_transfers_across_four_processes_never_exceed_caps(
    servers: list[ServerProcess], redis_url: str
) -> None:
    calls = 200
    phones = Phones()
    redis = Redis.from_url(redis_url)
    sampler = LegSampler(redis, list(TEXAS))
    try:
        sampler.start()
        try:
            placed = await place_crowd(
                servers,
                redis_url,
                phones,
                calls=calls,
                zip_code=TEXAS_ZIP,
                accept_digit="1",
                seed=200,
                think_s=THINK_S,
            )
        finally:
            await sampler.stop()

        bridged: Counter[str] = Counter()
        refused: Counter[str] = Counter()
        full_for_the_day: set[str] = set()
        for call in placed:
            state, record, caller = call.state, call.record, call.caller
            assert len(caller.dialled) == len(state.transfers) <= 1  # every officer accepts
            assert [a.officer for a in state.transfers] == caller.dialled
            if state.outcome == "transferred":
                attempt = state.transfers[0]
                assert attempt.outcome == "bridged"
                assert record.transfer is not None and record.transfer.bridged
                assert record.transfer.number == TEXAS[attempt.officer]
                assert caller.messages == 0
                bridged[attempt.officer] += 1
            else:  # nobody had room: the voicemail fallback, no officer dialled
                assert state.outcome == "callback_requested", state.outcome
                assert state.path[-2:] == ["callback_offer", "goodbye_callback"], state.path
                assert caller.dialled == [] and caller.messages == 1
                assert [r.duration_s for r in record.recordings] == [5]
                reasons = refusals(state)
                assert set(reasons) == set(TEXAS), (reasons, state.history)
                for officer, reason in reasons.items():
                    assert reason in (
                        f"concurrent cap {CONCURRENT_CAP}/{CONCURRENT_CAP}",
                        f"daily cap {DAILY_CAP}/{DAILY_CAP}",
                    ), reason
                    refused[reason.split()[0]] += 1
                    if reason.startswith("daily"):
                        full_for_the_day.add(officer)

        # Caps: at most two legs at once per officer, as the callers saw it and as Redis held it.
        for officer in TEXAS:
            assert phones.peak[officer] <= CONCURRENT_CAP, phones.peak
            assert overlap(phones.legs, officer) <= CONCURRENT_CAP
            assert sampler.peak[officer] <= CONCURRENT_CAP, sampler.peak
        assert max(phones.peak.values()) == CONCURRENT_CAP, "the crowd never filled a slot"
        assert all(n <= DAILY_CAP for n in bridged.values()), bridged
        assert sum(bridged.values()) <= DAILY_CAP * len(TEXAS)
        assert sum(bridged.values()) + sum(c.caller.messages for c in placed) == calls

        # Nothing leaked: no live leg left, the counters are exactly the calls taken.
        for officer in TEXAS:
            assert await live_legs(redis, officer) == 0, officer
            assert await counted(redis, "day", officer) == bridged[officer], officer
            assert await counted(redis, "hour", officer) == bridged[officer], officer

        # Round robin is fair: every officer took the day's cap, or they are within one call.
        counts = sorted(bridged[officer] for officer in TEXAS)
        assert counts == [DAILY_CAP] * len(TEXAS) or counts[-1] - counts[0] <= 1, bridged

        # The crowd met both caps: calls were turned away with every officer's two lines busy,
        # and an officer turned away for the day had taken exactly the day's cap.
        assert refused["concurrent"] > 0, refused
        for officer in full_for_the_day:
            assert bridged[officer] == DAILY_CAP, (officer, bridged)
        print(
            f"\nbridged {dict(bridged)}; callers' peak {dict(phones.peak)}; "
            f"Redis peak {dict(sampler.peak)} over {sampler.samples} samples; "
            f"voicemail {calls - sum(bridged.values())}; refusals by cap {dict(refused)}"
        )
    finally:
        await redis.aclose()


async def test_every_officer_declining_refunds_every_claim(
    servers: list[ServerProcess], redis_url: str
) -> None:
    calls = 40
    phones = Phones()
    redis = Redis.from_url(redis_url)
    try:
        placed = await place_crowd(
            servers,
            redis_url,
            phones,
            calls=calls,
            zip_code=FLORIDA_ZIP,
            accept_digit=None,
            seed=40,
        )
        tries: Counter[int] = Counter()
        for call in placed:
            state, record, caller = call.state, call.record, call.caller
            assert state.outcome == "callback_requested", state.outcome
            assert state.path[-2:] == ["callback_offer", "goodbye_callback"], state.path
            assert caller.messages == 1
            officers = [a.officer for a in state.transfers]
            assert officers == caller.dialled
            assert len(officers) <= ATTEMPTS and len(set(officers)) == len(officers), officers
            assert set(officers) <= set(FLORIDA)
            assert all(a.outcome == "declined" for a in state.transfers), state.transfers
            assert not any(d.bridged for d in record.dials)
            tries[len(officers)] += 1

        assert sum(n * count for n, count in tries.items()) > 0, "nobody was ever dialled"
        for officer in FLORIDA:
            assert phones.peak[officer] <= CONCURRENT_CAP, phones.peak
            assert await live_legs(redis, officer) == 0, officer
            assert await counted(redis, "day", officer) == 0, officer
            assert await counted(redis, "hour", officer) == 0, officer
        print(f"\nofficers tried per call {dict(sorted(tries.items()))}; peak {dict(phones.peak)}")
    finally:
        await redis.aclose()
