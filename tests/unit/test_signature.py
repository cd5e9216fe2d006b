"""The one-HMAC signature check accepts exactly what twilio's ``RequestValidator.validate`` does."""

from __future__ import annotations

import pytest
from multidict import MultiDict, MultiDictProxy
from twilio.request_validator import RequestValidator

from ivr.telephony.twilio.signature import signature_matches

pytestmark = pytest.mark.unit

URLS = [
    "http://127.0.0.1:8080/twilio/voice",
    "http://127.0.0.1/twilio/voice",
    "http://127.0.0.1:80/twilio/voice",
    "https://ivr.example.com/twilio/gather?turn=3",
    "https://ivr.example.com:443/twilio/gather?turn=3",
    "https://ivr.example.com:8443/twilio/dial?turn=7",
    "https://ivr.example.com/twilio/status?",
]
PARAMS = MultiDictProxy(
    MultiDict([("CallSid", "CA" + "1" * 32), ("Digits", "1"), ("SpeechResult", "Zoë"), ("X", "b")])
)


@pytest.mark.parametrize("url", URLS)
def test_signature_matches_agrees_with_validate(url: str) -> None:
    validator = RequestValidator("test-auth-token")
    candidates = {validator.compute_signature(signed, PARAMS) for signed in URLS}
    candidates |= {validator.compute_signature(url.rstrip("?"), PARAMS), "Zm9yZ2Vk", "é" * 28}
    candidates.add(validator.compute_signature(url, {}))
    assert any(validator.validate(url, PARAMS, signature) for signature in candidates)
    for signature in candidates:
        expected = validator.validate(url, PARAMS, signature)
        assert signature_matches(validator, url, PARAMS, signature) == expected, signature
