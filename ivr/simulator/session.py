"""``warmline simulate``: one call, in-process or against a server, typed or scripted.

Against a server the simulator plays Twilio (signed webhooks, TwiML followed). It then reads the
call's path and answers from the call state in Redis — the same Redis the server uses, found the
same way — when that is reachable.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import click
from redis.asyncio import Redis
from redis.exceptions import RedisError

from ivr.config import Settings
from ivr.deployment import Setup
from ivr.engine.state import CallState
from ivr.qualifier import Qualifier, open_qualifier
from ivr.redis_server import reachable_url, redis_url
from ivr.routing.router import open_router
from ivr.simulator.caller import Caller, ScriptedCaller, ScriptError
from ivr.simulator.carrier import Carrier, CarrierConfig
from ivr.simulator.local import UnknownNumber, call_locally
from ivr.simulator.model import CallGeo, CallRecord, Heard
from ivr.simulator.script import check, load_script
from ivr.simulator.terminal import HELP, TerminalCaller
from ivr.telephony.call_store import CallStore
from ivr.turns import Routing
from scoring.qualification import Qualification

DEFAULT_ACCOUNT_SID = "AC" + "5" * 32


def number_config(
    server: str, auth_token: str, *, account_sid: str = DEFAULT_ACCOUNT_SID, **options: Any
) -> CarrierConfig:
    """A tracking number as Twilio holds it, its webhooks pointing at a Warmline server."""
    base = server.rstrip("/")
    return CarrierConfig(
        account_sid=account_sid,
        auth_token=auth_token,
        voice_url=f"{base}/twilio/voice",
        status_callback_url=f"{base}/twilio/status",
        **options,
    )


@dataclass
class CallSummary:
    """A finished simulated call, the same shape in both modes."""

    path: list[str]
    answers: dict[str, str]
    outcome: str | None
    said: list[str]
    transfer_to: str | None
    heard: list[Heard] = field(default_factory=list)
    record: CallRecord | None = None  # the carrier's full record, over HTTP only
    qualification: Qualification | None = None
    transfers: list[str] = field(default_factory=list)
    """Each officer tried, as ``"<officer> <outcome>"``."""
    consent: str | None = None
    """What the consent step left: notice, given, refused or unanswered; None: no consent step."""
    transfer_recorded: bool | None = None
    """Whether the last transfer was dialled with recording on; None: no transfer."""


async def call_in_process(
    setup: Setup,
    caller: Caller,
    to_number: str,
    from_number: str,
    qualifier: Qualifier | None = None,
    router: Routing | None = None,
    from_state: str | None = None,
) -> CallSummary:
    """``from_state``: the caller's state as Twilio would report it (None or empty: unknown)."""
    local = await call_locally(
        setup,
        caller,
        to_number,
        from_number,
        time.time,
        qualifier=qualifier,
        router=router,
        caller_state=from_state,
    )
    state = local.state
    return CallSummary(
        state.path,
        state.slots,
        state.outcome,
        local.said,
        local.transfer_to,
        local.heard,
        qualification=state.qualification,
        transfers=_transfers(state),
        consent=consent_outcome(state),
        transfer_recorded=local.transfer_recorded,
    )


async def call_server(
    server: str,
    caller: Caller,
    to_number: str,
    from_number: str,
    settings: Settings,
    redis_url: str | None,
    from_state: str | None = None,
) -> CallSummary:
    """Place the call as Twilio would; path and answers come from Redis when it is reachable.

    ``from_state`` is sent as ``FromState`` (None: the fake carrier's default caller, in TX).
    """
    if settings.twilio_auth_token is None:
        raise ValueError(
            "WARMLINE_TWILIO_AUTH_TOKEN is not set: the simulator signs webhooks with the same "
            "token as the server (scripts/run.sh prints it)."
        )
    config = number_config(
        server,
        settings.twilio_auth_token.get_secret_value(),
        account_sid=settings.twilio_account_sid or DEFAULT_ACCOUNT_SID,
    )
    async with Carrier(config) as carrier:
        geo = CallGeo(from_state=from_state) if from_state is not None else None
        record = await carrier.place_call(
            caller, from_number=from_number, to_number=to_number, geo=geo
        )
    heard = [h for h in record.heard if h.leg == "caller"]
    transfer_to = record.transfer.number if record.transfer else None
    recorded = record.transfer.recorded if record.transfer else None
    state = await _stored_state(redis_url, settings.call_ttl_s, record.call_sid)
    if state is None:
        return CallSummary(
            [], {}, None, record.said, transfer_to, heard, record, transfer_recorded=recorded
        )
    return CallSummary(
        state.path,
        state.slots,
        state.outcome,
        record.said,
        transfer_to,
        heard,
        record,
        state.qualification,
        _transfers(state),
        consent_outcome(state),
        recorded,
    )


def consent_outcome(state: CallState) -> str | None:
    """The consent step's result in a word (see :mod:`ivr.simulator.script`)."""
    consent = state.consent
    if consent is None:
        return None
    if not consent.asked:
        return "notice"
    return {True: "given", False: "refused", None: "unanswered"}[consent.given]


def _transfers(state: CallState) -> list[str]:
    return [f"{a.officer} {a.outcome or 'ringing'}" for a in state.transfers]


def run_simulation(
    setup: Setup,
    to_number: str,
    from_number: str,
    *,
    server: str | None,
    script: str | None,
    from_state: str | None = None,
) -> bool:
    """Run one call and print it; False when a scripted expectation was not met.

    ``from_state`` is the caller's ``FromState`` (default: the script's, else the carrier's).
    """
    return asyncio.run(_simulate(setup, to_number, from_number, server, script, from_state))


async def _simulate(
    setup: Setup,
    to_number: str,
    from_number: str,
    server: str | None,
    script_path: str | None,
    from_state: str | None = None,
) -> bool:
    script = load_script(script_path) if script_path else None
    to_number = (script.to_number if script else None) or to_number
    from_number = (script.from_number if script else None) or from_number
    if not server and setup.number(to_number) is None:
        # against a server, the server's own deployment decides what an unknown number gets
        known = ", ".join(n.number for n in setup.deployment.numbers)
        raise UnknownNumber(
            f"{to_number} is not a tracking number in {setup.path} (known: {known})"
        )
    terminal = TerminalCaller()
    scripted = ScriptedCaller(script.turns) if script else None
    caller: Caller = scripted if scripted is not None else terminal
    where = f"server {server}" if server else "the in-process engine"
    click.echo(f"Calling {to_number} from {from_number} through {where}.")
    if script is None:
        click.echo(HELP)
    try:
        if from_state is None and script is not None:
            from_state = script.from_state
        summary = await _call(setup, caller, to_number, from_number, server, from_state)
    except ScriptError as error:  # the app asked for what the script does not give
        if error.record is not None:
            for heard in error.record.heard:
                if heard.leg == "caller":
                    terminal.show(heard)
        click.secho(f"FAIL {error}", fg="red")
        return False
    if script is not None:
        for heard in summary.heard:
            terminal.show(heard)
    _print_summary(summary)
    if script is None or scripted is None:
        return True
    failures = check(script.expect, summary) if script.expect else []
    if scripted.remaining:
        failures.append(f"the call ended with {scripted.remaining} turn(s) of the script unused")
    for failure in failures:
        click.secho(f"FAIL {failure}", fg="red")
    if not failures:
        click.secho(f"PASS {script.name}", fg="green")
    return not failures


async def _call(
    setup: Setup,
    caller: Caller,
    to_number: str,
    from_number: str,
    server: str | None,
    from_state: str | None,
) -> CallSummary:
    settings = Settings()
    if not server:
        # No start-up warning here: the summary's score line says when the model is missing.
        qualifier = await open_qualifier(settings.intent_model, flows=())
        with redis_url(settings.redis_url) as url:  # routing's counters: the servers' Redis
            async with open_router(setup, url) as router:
                return await call_in_process(
                    setup, caller, to_number, from_number, qualifier, router, from_state
                )
    summary = await call_server(
        server,
        caller,
        to_number,
        from_number,
        settings,
        reachable_url(settings.redis_url),
        from_state,
    )
    if summary.record is not None and summary.record.ended_by == "application-error":
        click.secho(f"Application error {summary.record.error_code}.", fg="red")
    return summary


async def _stored_state(redis_url: str | None, ttl_s: int, call_sid: str) -> CallState | None:
    if redis_url is None:
        return None
    redis = Redis.from_url(redis_url)
    try:
        stored = await CallStore(redis, ttl_s).get(call_sid)
    except RedisError:
        return None
    finally:
        await redis.aclose()
    return stored.state if stored else None


def _print_summary(summary: CallSummary) -> None:
    click.echo("")
    if not summary.path:
        click.echo("(call state not readable from here: set WARMLINE_REDIS_URL to see the path)")
    click.echo(f"path:    {' → '.join(summary.path) if summary.path else '(unknown)'}")
    answers = ", ".join(f"{k}={v}" for k, v in summary.answers.items())
    click.echo(f"answers: {answers or '(none)'}")
    click.echo(f"outcome: {summary.outcome or '(unknown)'}")
    if summary.consent is not None:
        click.echo(f"consent: {summary.consent}")
    scored = summary.qualification
    if scored is not None:
        verdict = "qualified" if scored.qualified else "not qualified"
        click.echo(f"score:   {scored.score} ({verdict}): {'; '.join(scored.explained)}")
    if summary.transfer_to:
        click.echo(f"transfer: {summary.transfer_to}")
