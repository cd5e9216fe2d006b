"""A signed webhook is good for its own URL and form only.

Replayed to another route, another turn or another public URL, or with one field changed, added
or removed, it is refused with 403 and the call's state in Redis is untouched. (The first checks
on ``/twilio/voice`` are ``test_forged_and_missing_signatures_get_403`` in
``tests/integration/test_webhooks.py``; an exact repeat is answered identically: see
``test_digits_advance_and_duplicate_webhook_replays_same_answer`` there and the repeats in
``test_webhook_properties.py``.)
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.hostile import FUZZ, ROUTES, Carrier, fresh_sid, odd_text, values
from tests.integration.test_webhooks import PUBLIC, said

pytestmark = pytest.mark.integration

SIGNED = "/twilio/gather?turn=1"


async def a_call_at_its_first_question(carrier: Carrier) -> tuple[dict[str, str], str]:
    """A new call waiting at turn 1; the signed keypad answer Twilio would send for it."""
    carrier.call_sid = fresh_sid()
    assert (await carrier.post("/twilio/voice", carrier.params(CallStatus="ringing")))[0] == 200
    params = carrier.params(Digits="1")
    return params, carrier.validator.compute_signature(PUBLIC + SIGNED, params)


async def refused_and_untouched(
    carrier: Carrier, url: str, params: dict[str, str], signature: str
) -> None:
    before = await carrier.state(carrier.call_sid)
    status, body = await carrier.send_raw(url, list(params.items()), signature)
    assert (status, body) == (403, "Invalid Twilio signature.\n"), url
    assert await carrier.state(carrier.call_sid) == before


async def accepted(carrier: Carrier, params: dict[str, str], signature: str) -> None:
    """The untampered request still works: the refusals above were the replay's, nothing else."""
    status, body = await carrier.post(SIGNED, params, signature=signature)
    assert status == 200 and "Which state is the property in?" in said(body)[0]
    state = await carrier.readable_state(carrier.call_sid)
    assert state is not None and state.turn == 2 and state.slots == {"loan_type": "refinance"}


OTHER_URLS = [
    *(route for route in ROUTES if route != "/twilio/gather"),
    *(f"{route}?turn=1" for route in ROUTES if route != "/twilio/gather"),
    "/twilio/gather",
    "/twilio/gather?turn=2",
    "/twilio/gather?turn=01",
    "/twilio/gather?turn=1&turn=1",
    "/twilio/gather?turn=1&x=1",
    "/twilio/gather/?turn=1",
    "/twilio//gather?turn=1",
]


@pytest.mark.parametrize("url", OTHER_URLS)
async def test_a_signed_request_replayed_to_another_url_is_refused(
    carrier: Carrier, url: str
) -> None:
    params, signature = await a_call_at_its_first_question(carrier)
    await refused_and_untouched(carrier, url, params, signature)
    await accepted(carrier, params, signature)


@pytest.mark.parametrize(
    "public",
    [
        "https://attacker.example.test",
        "https://ivr.example.test:8443",
        "http://ivr.example.test",
        "https://ivr.example.test.attacker.example",
        "https://IVR.example.test/prefix",
    ],
)
async def test_a_request_signed_for_another_public_url_is_refused(
    carrier: Carrier, public: str
) -> None:
    params, signature = await a_call_at_its_first_question(carrier)
    elsewhere = carrier.validator.compute_signature(public + SIGNED, params)
    await refused_and_untouched(carrier, SIGNED, params, elsewhere)
    await accepted(carrier, params, signature)


async def test_the_default_port_is_the_same_url(carrier: Carrier) -> None:
    """Twilio signs with or without :443, so both are accepted (the control for the above)."""
    params, _ = await a_call_at_its_first_question(carrier)
    with_port = PUBLIC.replace(".test", ".test:443") + SIGNED
    await accepted(carrier, params, carrier.validator.compute_signature(with_port, params))


@st.composite
def tampered(draw: st.DrawFn, params: dict[str, str]) -> dict[str, str]:
    """``params`` with one field changed, added or removed (a change that alters the form)."""
    how = draw(st.sampled_from(["change", "add", "remove"]))
    name = draw(st.sampled_from(sorted(params)))
    if how == "remove":
        return {k: v for k, v in params.items() if k != name}
    if how == "add":
        name = draw(odd_text.filter(lambda n: n not in params))
    # An added empty name with an empty value signs as nothing at all (Twilio's scheme signs
    # each name and value run together): the handlers see no difference either.
    value = draw(values.filter(lambda v: v != params.get(name) and bool(name + v)))
    return {**params, name: value}


@FUZZ
@given(data=st.data())
async def test_a_signed_request_with_one_field_tampered_is_refused(
    carrier: Carrier, data: st.DataObject
) -> None:
    params, signature = await a_call_at_its_first_question(carrier)
    forged = data.draw(tampered(params))
    assert forged != params
    await refused_and_untouched(carrier, SIGNED, forged, signature)
    await accepted(carrier, params, signature)
