"""What routing asks and answers, as values the pure engine can hold.

The engine asks with a :class:`RouteRequest` (the call's anonymised attributes and who has
been tried) and gets a :class:`Decision`: the officer whose slot was claimed, or nobody and
every reason why. The Redis and HTTP work between the two is :mod:`ivr.routing.router`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ivr.routing.eligibility import CallAttributes


@dataclass(frozen=True)
class RouteRequest:
    """Pick an officer of ``pool`` for this call, other than those in ``tried``."""

    pool: str
    call: CallAttributes
    caller: str
    """The caller's number: for repeat-caller checks only (hashed), never sent to a bidder."""
    campaign: str
    repeat: bool
    """The caller already called this campaign inside its duplicate window."""
    tried: tuple[str, ...]
    lease_s: float
    """How long the claimed slot is held if nothing ends it: the ring time and the whisper."""


@dataclass(frozen=True)
class Pick:
    officer: str
    phone: str
    claim: str
    """The slot held for this attempt; ended and settled when the officer's leg ends."""
    duplicate: bool = False
    """This officer already took this caller inside their duplicate window: not billable."""
    bid: Decimal | None = None


@dataclass(frozen=True)
class Decision:
    pick: Pick | None
    reasons: tuple[str, ...] = ()
    """Why each officer passed over was not taken, e.g. ``"ana-ruiz: daily cap 30/30"``."""
