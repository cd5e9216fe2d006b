"""<Dial>: the child leg, the whisper document on the officer's side and the dial action.

The caller's script decides what the dialled party does (no answer, busy, failed, or answers and
presses a key or not); a party that would answer only after the `<Dial timeout>` is no-answer.
When a `<Number url>` is present and the party answers, the carrier runs that document on a new
child leg (Direction=outbound-dial, ParentCallSid) with the officer's key as the input of its
<Gather>. The legs are bridged when that document ends without <Hangup>/<Reject>
or an error. The dial action then reports DialCallStatus/DialCallSid/DialBridged, plus
DialCallDuration when the child was answered (DialCallStatus=completed), per reference §d:
completed with DialBridged=false is a declined screen, not a transfer.

If the caller hangs up while the officer's phone rings, the child leg ends `canceled` and the action
gets DialCallStatus=canceled (Twilio does not document this case). With several targets, only the
one that answers (or the first) gets a simulated child leg.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ivr.simulator.caller import (
    DialOutcome,
    DialSpec,
    Digits,
    GatherInput,
    GatherSpec,
    HangUp,
    RecordAnswer,
    RecordSpec,
    Silence,
)
from ivr.simulator.legs import SIP_CODES, Fetch, LegState, Step, rfc2822
from ivr.simulator.model import CallGeo, DialRecord, EndReason, Heard
from ivr.simulator.twiml_reader import Dial, DialTarget
from ivr.simulator.webhooks import resolve

if TYPE_CHECKING:
    from ivr.simulator.call import Call


class Officer:
    """The dialled party on the whisper leg: presses `accept_digit` at the first <Gather>."""

    def __init__(self, accept_digit: str | None) -> None:
        self._digit = accept_digit

    async def gather(self, heard: list[Heard], spec: GatherSpec) -> GatherInput:
        digit, self._digit = self._digit, None
        return Digits(digit) if digit else Silence()

    async def record(self, heard: list[Heard], spec: RecordSpec) -> RecordAnswer:
        return Silence()

    async def dial(self, heard: list[Heard], spec: DialSpec) -> DialOutcome:
        return DialOutcome("failed")


class _ChildCallbacks:
    """The <Number statusCallback> events of one child leg, numbered from 0 as they fire."""

    def __init__(self, call: Call, child: LegState, target: DialTarget, document_url: str) -> None:
        self._call = call
        self._child = child
        self._target = target
        self._url = (
            resolve(document_url, target.status_callback) if target.status_callback else None
        )
        self._sequence = 0

    def fire(self, event: str, call_status: str, extra: dict[str, str] | None = None) -> None:
        if self._url is None or event not in self._target.status_callback_events:
            return
        params = self._child.params(self._call.config.account_sid) | {
            "CallStatus": call_status,
            "Timestamp": rfc2822(self._call.now()),
            "CallbackSource": "call-progress-events",
            "SequenceNumber": str(self._sequence),
        }
        self._sequence += 1
        method = self._target.status_callback_method
        params |= extra or {}
        self._call.callback("child-status-callback", self._url, method, params, status=True)

    def finish(self, status: str, duration: int) -> None:
        extra = {"CallDuration": str(duration), "SipResponseCode": str(SIP_CODES[status])}
        if status == "completed":
            extra["Duration"] = str(max(1, math.ceil(duration / 60)))
        self.fire("completed", status, extra)


def _pick(targets: tuple[DialTarget, ...], number: str | None) -> DialTarget:
    for target in targets:
        if target.address == number:
            return target
    return targets[0]


def _child_leg(call: Call, parent: LegState, target: DialTarget, caller_id: str | None) -> LegState:
    from_number = caller_id or parent.from_number
    g = parent.geo
    if from_number == parent.from_number:  # the caller's ID and its lookup data
        geo = CallGeo(g.from_city, g.from_state, g.from_zip, g.from_country, "", "", "", "US")
    else:  # the Twilio number's
        geo = CallGeo(g.to_city, g.to_state, g.to_zip, g.to_country, "", "", "", "US")
    return LegState(
        call.new_sid("CA"),
        from_number,
        target.address,
        geo,
        direction="outbound-dial",
        status="initiated",
        parent_sid=parent.call_sid,
        leg="officer",
    )


async def run_dial(call: Call, leg: LegState, verb: Dial, document_url: str) -> Step:
    answer = await call.caller.dial(list(leg.heard), verb)
    call.note_input("dial", leg, answer)
    target = _pick(verb.targets, answer.number if isinstance(answer, DialOutcome) else None)
    child = _child_leg(call, leg, target, verb.caller_id)
    callbacks = _ChildCallbacks(call, child, target, document_url)
    callbacks.fire("initiated", "initiated")
    whisper_end: EndReason | None = None
    caller_gone = False
    if isinstance(answer, HangUp):
        callbacks.fire("ringing", "ringing")
        call.advance(2.0)
        status, bridged, duration = "canceled", False, 0
        caller_gone = True
    elif not answer.answered or answer.ring_s > verb.timeout:
        # Not picked up before <Dial timeout>: Twilio stops ringing and reports no-answer.
        status = "no-answer" if answer.status == "completed" else answer.status
        if status in ("no-answer", "canceled"):
            callbacks.fire("ringing", "ringing")
        call.advance(verb.timeout if status == "no-answer" else 1.0)
        bridged, duration = False, 0
    else:
        callbacks.fire("ringing", "ringing")
        call.advance(answer.ring_s)
        child.status = "in-progress"
        callbacks.fire("answered", "in-progress")
        if target.url is not None:
            whisper = Fetch(resolve(document_url, target.url), target.method, {}, "whisper")
            whisper_end = await call.run_leg(child, Officer(answer.accept_digit), whisper)
        bridged = whisper_end in (None, "end-of-document")
        call.advance(answer.duration_s)
        status, duration = "completed", int(answer.duration_s + 0.5)
        caller_gone = bridged and answer.caller_hangs_up
    child.status = status
    callbacks.finish(status, duration)
    dial_duration = duration if status == "completed" else None
    call.record.dials.append(
        DialRecord(
            target.address,
            child.call_sid,
            status,
            bridged,
            dial_duration,
            whisper_end,
            recorded=verb.record != "do-not-record",
        )
    )
    if caller_gone:
        leg.status = "completed"
    then_end: EndReason | None = "caller-hangup" if caller_gone else None
    if verb.action is None:
        return then_end
    extra = {
        "DialCallStatus": status,
        "DialCallSid": child.call_sid,
        "DialBridged": "true" if bridged else "false",
    }
    if dial_duration is not None:
        extra["DialCallDuration"] = str(dial_duration)
    return Fetch(resolve(document_url, verb.action), verb.method, extra, "dial-action", then_end)
