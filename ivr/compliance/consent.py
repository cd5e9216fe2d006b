"""Recording consent: the states where every party to a call must agree to its recording.

A flow's ``consent`` step (:class:`ivr.flows.schema.ConsentStep`) asks callers from these states
for explicit consent before anything is recorded, and plays a notice to everyone else. The list
is the step's default; a flow can give its own (``all_party.states``).
"""

from __future__ import annotations

from typing import Final

ALL_PARTY_CONSENT_STATES: Final[tuple[str, ...]] = (
    "CA",
    "CT",
    "DE",
    "FL",
    "IL",
    "MD",
    "MA",
    "MI",
    "MT",
    "NV",
    "NH",
    "OR",
    "PA",
    "WA",
)
"""The commonly cited list of all-party-consent states, as USPS codes: California, Connecticut,
Delaware, Florida, Illinois, Maryland, Massachusetts, Michigan, Montana, Nevada, New Hampshire,
Oregon, Pennsylvania and Washington.

It is a default, not legal advice: the statutes differ in detail (some apply only to private or
"confidential" conversations, some have been read differently by courts) and they change.
Operators should confirm the list with counsel and set ``all_party.states`` in their flow when
it differs.
"""
