"""UsageBook against a real Redis: atomic claims under concurrent, hourly and daily caps (even
across connections), refunds, leases, the officer's own hour and day buckets, and rotation."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from datetime import datetime

import pytest
from redis.asyncio import Redis

from ivr.routing.eligibility import Usage
from ivr.routing.officers import Officer, Strategy
from ivr.routing.usage import Claimed, UsageBook
from tests.unit.test_routing_eligibility import officer

pytestmark = pytest.mark.integration

T = datetime.fromisoformat("2026-11-23T14:00:00-06:00").timestamp()  # a Monday, 14:00 Chicago
HOUR = 3600.0
LEASE = 600.0


def at(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def capped(id: str = "ana", **caps: int) -> Officer:
    return officer(id=id, caps=caps)


def new_prefix() -> str:
    return f"test:{uuid.uuid4().hex}:"


@pytest.fixture
def book(redis: Redis) -> UsageBook:
    return UsageBook(redis, prefix=new_prefix())


@pytest.fixture
async def clients(redis_url: str) -> AsyncIterator[tuple[Redis, Redis]]:
    """Two separate connections, as two server processes would have."""
    first, second = Redis.from_url(redis_url), Redis.from_url(redis_url)
    yield first, second
    await first.aclose()
    await second.aclose()


async def claim(
    book: UsageBook,
    candidates: Sequence[Officer],
    now: float = T,
    strategy: Strategy = "waterfall",
    lease_s: float = LEASE,
    claim_id: str | None = None,
    pool: str = "pool",
) -> Claimed:
    claim_id = claim_id or uuid.uuid4().hex
    return await book.claim(claim_id, pool, strategy, candidates, now, lease_s)


async def usage(book: UsageBook, who: Officer, now: float = T) -> Usage:
    return (await book.usage([who], now))[who.id]


# --- concurrent legs -----------------------------------------------------------------------


async def test_fifty_simultaneous_claims_take_exactly_the_two_concurrent_slots(
    book: UsageBook,
) -> None:
    ana = capped(concurrent=2)
    ids = [f"c{n}" for n in range(50)]
    results = await asyncio.gather(*(claim(book, [ana], claim_id=i) for i in ids))
    won = [i for i, r in zip(ids, results, strict=True) if r.officer == "ana"]
    assert len(won) == 2
    assert all(r.full == {"ana": "concurrent cap 2/2"} for r in results if r.officer is None)
    assert await usage(book, ana) == Usage(hourly=2, daily=2, concurrent=2)

    await book.end_leg(won[0])
    await book.end_leg(won[0])  # ending twice frees one slot, not two
    assert (await usage(book, ana)).concurrent == 1
    assert (await claim(book, [ana])).officer == "ana"
    assert (await claim(book, [ana])) == Claimed(None, {"ana": "concurrent cap 2/2"})


async def test_two_connections_racing_for_the_last_slot_never_both_win(
    clients: tuple[Redis, Redis],
) -> None:
    ana = capped(concurrent=2)
    for _ in range(20):
        prefix = new_prefix()
        first, second = (UsageBook(client, prefix=prefix) for client in clients)
        assert (await claim(first, [ana])).officer == "ana"  # one slot left
        results = await asyncio.gather(claim(first, [ana]), claim(second, [ana]))
        assert sorted(str(r.officer) for r in results) == ["None", "ana"]


# --- hourly and daily caps, refunds --------------------------------------------------------


async def test_hourly_and_daily_caps_count_calls_and_name_the_cap(book: UsageBook) -> None:
    ana = capped(hourly=2, daily=3)
    assert [(await claim(book, [ana])).officer for _ in range(2)] == ["ana", "ana"]
    assert await claim(book, [ana]) == Claimed(None, {"ana": "hourly cap 2/2"})
    assert await usage(book, ana) == Usage(hourly=2, daily=2, concurrent=2)

    later = T + HOUR  # a new hour, the same day; the first legs' leases have run out
    assert (await claim(book, [ana], now=later)).officer == "ana"
    assert await claim(book, [ana], now=later) == Claimed(None, {"ana": "daily cap 3/3"})
    assert await usage(book, ana, later) == Usage(hourly=1, daily=3, concurrent=1)


async def test_an_attempt_that_did_not_connect_is_refunded_once(book: UsageBook) -> None:
    ana = capped(daily=5)
    await claim(book, [ana], claim_id="declined")
    await claim(book, [ana], claim_id="kept")
    assert await book.settle("declined", connected=False) is True
    assert await book.settle("declined", connected=False) is False
    assert await book.settle("declined", connected=True) is False
    assert await usage(book, ana) == Usage(hourly=1, daily=1, concurrent=1)


async def test_a_connected_attempt_keeps_its_counts_and_frees_its_slot(book: UsageBook) -> None:
    ana = capped(concurrent=1, daily=5)
    await claim(book, [ana], claim_id="answered")
    assert await book.settle("answered", connected=True) is True
    assert await book.settle("answered", connected=False) is False  # no late refund
    assert await usage(book, ana) == Usage(hourly=1, daily=1, concurrent=0)
    assert (await claim(book, [ana])).officer == "ana"


# --- leases --------------------------------------------------------------------------------


async def test_a_lease_that_runs_out_frees_the_slot(book: UsageBook) -> None:
    ana = capped(concurrent=1)
    assert (await claim(book, [ana], lease_s=1)).officer == "ana"
    assert await claim(book, [ana], now=T + 0.5) == Claimed(None, {"ana": "concurrent cap 1/1"})
    assert (await usage(book, ana, T + 2)).concurrent == 0
    assert (await claim(book, [ana], now=T + 2)).officer == "ana"


async def test_an_answered_leg_is_extended_beyond_its_first_lease(book: UsageBook) -> None:
    ana = capped(concurrent=1)
    await claim(book, [ana], lease_s=1, claim_id="answered")
    await book.extend("answered", T + HOUR)
    assert await claim(book, [ana], now=T + 2) == Claimed(None, {"ana": "concurrent cap 1/1"})
    await book.end_leg("answered")
    await book.extend("answered", T + 2 * HOUR)  # a late answer does not bring the leg back
    assert (await claim(book, [ana], now=T + 2)).officer == "ana"


# --- the officer's own hour and day --------------------------------------------------------


async def test_days_are_the_officers_local_days(book: UsageBook) -> None:
    """23:30 and 00:30 in Chicago are one UTC day (05:30 and 06:30 UTC) but two local ones."""
    ana = capped(daily=1)
    late, early = at("2026-11-23T23:30:00-06:00"), at("2026-11-24T00:30:00-06:00")
    assert (await claim(book, [ana], now=late)).officer == "ana"
    assert (await claim(book, [ana], now=early)).officer == "ana"
    assert await claim(book, [ana], now=early + 60) == Claimed(None, {"ana": "daily cap 1/1"})
    assert (await usage(book, ana, late)).daily == 1


async def test_the_repeated_hour_of_a_dst_fall_back_is_a_bucket_of_its_own(
    book: UsageBook,
) -> None:
    ana = capped(hourly=1)
    cdt, cst = at("2026-11-01T01:30:00-05:00"), at("2026-11-01T01:30:00-06:00")
    assert (await claim(book, [ana], now=cdt)).officer == "ana"
    assert (await claim(book, [ana], now=cst)).officer == "ana"
    assert await claim(book, [ana], now=cst + 60) == Claimed(None, {"ana": "hourly cap 1/1"})
    assert await usage(book, ana, cst + 60) == Usage(hourly=1, daily=2, concurrent=1)


# --- strategies ----------------------------------------------------------------------------


async def test_waterfall_takes_the_given_order_and_falls_through_a_full_officer(
    book: UsageBook,
) -> None:
    ana, ben = capped("ana", concurrent=1), capped("ben")
    assert (await claim(book, [ben, ana])).officer == "ben"
    assert (await claim(book, [ana, ben])).officer == "ana"
    assert await claim(book, [ana, ben]) == Claimed("ben", {"ana": "concurrent cap 1/1"})


async def picks(
    books: Sequence[UsageBook], strategy: Strategy, rosters: Sequence[Sequence[Officer]]
) -> list[str]:
    """One claim per roster, alternating between the books, each settled as its call ends."""
    result = []
    for n, roster in enumerate(rosters):
        book = books[n % len(books)]
        claim_id = uuid.uuid4().hex
        claimed = await claim(book, roster, strategy=strategy, claim_id=claim_id)
        assert claimed.officer is not None
        await book.settle(claim_id, connected=True)
        result.append(claimed.officer)
    return result


TRIO = [capped("ana"), capped("ben"), capped("cal")]


async def test_round_robin_gives_each_officer_an_equal_share(book: UsageBook) -> None:
    got = await picks([book], "round_robin", [TRIO] * 300)
    assert got[:6] == ["ana", "ben", "cal", "ana", "ben", "cal"]
    assert Counter(got) == {"ana": 100, "ben": 100, "cal": 100}


async def test_round_robin_is_fair_across_two_connections(clients: tuple[Redis, Redis]) -> None:
    prefix = new_prefix()
    books = [UsageBook(client, prefix=prefix) for client in clients]
    got = await picks(books, "round_robin", [TRIO] * 300)
    assert Counter(got) == {"ana": 100, "ben": 100, "cal": 100}
    assert all(got[n] != got[n + 1] for n in range(len(got) - 1))


async def test_round_robin_alternates_the_others_while_one_is_ineligible(book: UsageBook) -> None:
    ana, ben, cal = TRIO
    got = await picks([book], "round_robin", [[ana, ben, cal]] * 3 + [[ana, ben]] * 6)
    assert got == ["ana", "ben", "cal", "ana", "ben", "ana", "ben", "ana", "ben"]
    back = await picks([book], "round_robin", [[ana, ben, cal]] * 30)
    assert back[0] == "cal"  # back in the pool: it waited longest
    assert Counter(back) == {"ana": 10, "ben": 10, "cal": 10}


async def test_weighted_is_smooth_and_exact(book: UsageBook) -> None:
    ana, ben, cal = (officer(id=i, weight=w) for i, w in (("ana", 1), ("ben", 2), ("cal", 3)))
    got = await picks([book], "weighted", [[ana, ben, cal]] * 600)
    assert Counter(got) == {"ana": 100, "ben": 200, "cal": 300}
    for start in range(len(got) - 5):
        window = Counter(got[start : start + 6])
        assert window == {"ana": 1, "ben": 2, "cal": 3}, (start, got[start : start + 6])


async def test_weighted_banks_no_burst_for_an_officer_kept_full(book: UsageBook) -> None:
    """Ben's one slot is held through 20 calls: ana takes them, and ben gets no backlog after."""
    ana, ben = officer(id="ana"), officer(id="ben", caps={"concurrent": 1})
    assert await picks([book], "weighted", [[ana, ben]]) == ["ana"]
    held = await claim(book, [ana, ben], strategy="weighted", claim_id="long-call")
    assert held.officer == "ben"
    assert await picks([book], "weighted", [[ana, ben]] * 20) == ["ana"] * 20
    await book.settle("long-call", connected=True)
    after = await picks([book], "weighted", [[ana, ben]] * 6)
    assert Counter(after) == {"ana": 3, "ben": 3}, after


async def test_forget_deletes_only_the_named_officers_and_pools(redis: Redis) -> None:
    prefix = new_prefix()
    book = UsageBook(redis, prefix=prefix)
    gone, kept = officer(id="gone"), officer(id="kept")
    await book.claim("c1", "old-pool", "round_robin", [gone], T, LEASE)
    await book.claim("c2", "live-pool", "round_robin", [kept], T, LEASE)
    deleted = await book.forget({"gone"}, {"old-pool"})
    assert deleted == 6  # legs, hour, day, the claim, the rotation and its ticket
    left = sorted([k.decode().removeprefix(prefix) async for k in redis.scan_iter(f"{prefix}*")])
    assert [k.split(":")[0] for k in left] == ["claim", "day", "hour", "legs", "rotation", "ticket"]
    assert all("gone" not in k and "old-pool" not in k for k in left)
