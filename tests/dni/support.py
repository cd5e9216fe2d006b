"""The deployment and the calls the dynamic number insertion tests use.

The scenario deployment (the sample with always-open officers) plus three web pool numbers for
``sunbelt-refi``, whose printed (default) number is the sample's ``+18005550100``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml

from ivr.simulator.caller import ScriptedCaller
from ivr.simulator.carrier import Carrier
from ivr.simulator.model import CallGeo
from ivr.simulator.script import load_script
from ivr.simulator.session import number_config
from tests.records.played import EVERY_STATUS, SCENARIOS
from tests.support.deployments import scenario_deployment
from tests.support.services import AUTH_TOKEN

CAMPAIGN = "sunbelt-refi"
PRINTED = "+18005550100"
POOL = ("+18005550150", "+18005550151", "+18005550152")
LEASE_MINUTES = 30


def dni_deployment(folder: Path, origins: Sequence[str], **settings: int) -> Path:
    """The scenario deployment with ``sunbelt-refi``'s web pool (``settings`` added to it);
    returns its path."""
    path = scenario_deployment(folder)
    data = yaml.safe_load(path.read_text())
    for campaign in data["campaigns"]:
        if campaign["id"] == CAMPAIGN:
            campaign["web_pool"] = {
                "default_number": PRINTED,
                "lease_minutes": LEASE_MINUTES,
                "origins": list(origins),
                **settings,
            }
    data["numbers"] += [
        {
            "number": number,
            "campaign": CAMPAIGN,
            "publisher": "rate-compare",
            "payout": "35.00",
            "web_pool": True,
        }
        for number in POOL
    ]
    out = folder / "dni-deployment.yaml"
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


async def call(base: str, to_number: str, *, caller: str, seed: int) -> str:
    """A qualified caller (transferred, billable) dials ``to_number``; returns the CallSid."""
    script = load_script(SCENARIOS / "keypad_refinance_texas.yaml")
    config = number_config(base, AUTH_TOKEN, status_callback_events=EVERY_STATUS, seed=seed)
    async with Carrier(config) as carrier:
        record = await carrier.place_call(
            ScriptedCaller(script.turns),
            from_number=caller,
            to_number=to_number,
            geo=CallGeo(from_state=script.from_state),
        )
    return record.call_sid
