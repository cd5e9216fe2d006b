"""The web number pool on a real Redis: one number per live visit, renewals, expiry, exhaustion.

Time is the script's argument: the tests move ``now`` instead of sleeping.
"""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from ivr.dni.pool import NumberPool
from ivr.engine.state import VisitAttribution

pytestmark = pytest.mark.integration

CAMPAIGN = "sunbelt-refi"
NUMBERS = [f"+1800555{n:04d}" for n in range(150, 170)]
T0 = 1_790_000_000.0
LEASE_S = 1800


def visit(n: int, source: str = "google", at: float = T0) -> VisitAttribution:
    return VisitAttribution(
        visit_id=f"visit-{n:012d}",
        source=source,
        medium="cpc",
        campaign="refi-fall",
        keyword="refinance rates",
        landing_page=f"https://rates.example.test/refi?v={n}",
        click_id=f"gclid-{n}",
        click_id_kind="gclid",
        leased_at=at,
    )


async def test_concurrent_visits_never_share_a_number(redis: Redis) -> None:
    pool = NumberPool(redis)
    visits = [visit(n) for n in range(len(NUMBERS) + 15)]
    leases = await asyncio.gather(*(pool.lease(CAMPAIGN, NUMBERS, v, T0, LEASE_S) for v in visits))
    granted = [lease.number for lease in leases if lease.number is not None]
    assert sorted(granted) == sorted(NUMBERS)  # every number once, none twice
    assert [lease.outcome for lease in leases].count("exhausted") == 15
    assert await pool.exhausted(CAMPAIGN) == 15
    for v, lease in zip(visits, leases, strict=True):  # each number attributes to its own visit
        if lease.number is not None:
            assert await pool.visit(CAMPAIGN, lease.number, T0 + 1) == v


async def test_the_same_visit_keeps_its_number_and_renews_it(redis: Redis) -> None:
    pool = NumberPool(redis)
    first = await pool.lease(CAMPAIGN, NUMBERS, visit(1), T0, LEASE_S)
    others = [await pool.lease(CAMPAIGN, NUMBERS, visit(n), T0, LEASE_S) for n in range(2, 5)]
    again = await pool.lease(CAMPAIGN, NUMBERS, visit(1, source="bing"), T0 + 1000, LEASE_S)
    assert first.outcome == "leased" and again.outcome == "renewed"
    assert again.number == first.number
    assert first.number not in {o.number for o in others}
    assert again.expires_at == T0 + 1000 + LEASE_S
    # renewed past the first lease's end; the visit's data is the one it leased with
    found = await pool.visit(CAMPAIGN, NUMBERS[0], T0 + LEASE_S + 500)
    assert found is not None and found.source == "google" and found.leased_at == T0


async def test_expired_leases_return_their_numbers_least_recently_used_first(
    redis: Redis,
) -> None:
    pool = NumberPool(redis)
    numbers = NUMBERS[:3]
    for n in range(3):
        await pool.lease(CAMPAIGN, numbers, visit(n), T0 + n, LEASE_S)
    full = await pool.lease(CAMPAIGN, numbers, visit(9), T0 + 10, LEASE_S)
    assert full.number is None and full.outcome == "exhausted"
    assert await pool.visit(CAMPAIGN, numbers[0], T0 + LEASE_S) is None  # expired at its end
    # after all three expired, the one freed first comes back first
    later = T0 + 2 + LEASE_S
    assert (await pool.lease(CAMPAIGN, numbers, visit(10), later, LEASE_S)).number == numbers[0]
    assert (await pool.lease(CAMPAIGN, numbers, visit(11), later, LEASE_S)).number == numbers[1]
    # an expired visit asking again is a new lease, on a free number, with its new data
    back = await pool.lease(CAMPAIGN, numbers, visit(0, source="email"), later, LEASE_S)
    assert back.outcome == "leased" and back.number == numbers[2]
    found = await pool.visit(CAMPAIGN, numbers[2], later)
    assert found is not None and found.source == "email"


async def test_a_number_dropped_from_the_pool_is_not_handed_out_or_renewed(redis: Redis) -> None:
    pool = NumberPool(redis)
    first = await pool.lease(CAMPAIGN, NUMBERS[:1], visit(1), T0, LEASE_S)
    assert first.number == NUMBERS[0]
    moved = await pool.lease(CAMPAIGN, NUMBERS[1:2], visit(1), T0 + 5, LEASE_S)
    assert moved.outcome == "leased" and moved.number == NUMBERS[1]
    assert await pool.visit(CAMPAIGN, NUMBERS[0], T0 + 6) is None


async def test_exhaustion_is_counted_per_campaign(redis: Redis) -> None:
    pool = NumberPool(redis)
    await pool.lease(CAMPAIGN, NUMBERS[:1], visit(1), T0, LEASE_S)
    for n in range(2, 5):
        lease = await pool.lease(CAMPAIGN, NUMBERS[:1], visit(n), T0, LEASE_S)
        assert lease.number is None
    assert await pool.exhausted(CAMPAIGN) == 3
    assert await pool.exhausted("national") == 0
    empty = await pool.lease("national", [], visit(7), T0, LEASE_S)
    assert empty.outcome == "exhausted"
    assert await pool.exhausted("national") == 1


async def test_pools_of_different_campaigns_are_separate(redis: Redis) -> None:
    pool = NumberPool(redis)
    a = await pool.lease(CAMPAIGN, NUMBERS[:1], visit(1), T0, LEASE_S)
    b = await pool.lease("national", NUMBERS[:1], visit(2), T0, LEASE_S)
    assert a.number == b.number == NUMBERS[0]
    assert (await pool.visit(CAMPAIGN, NUMBERS[0], T0)) == visit(1)
    assert (await pool.visit("national", NUMBERS[0], T0)) == visit(2)
