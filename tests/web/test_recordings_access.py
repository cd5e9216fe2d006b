"""Recordings are streamed only to signed-in users allowed to see the call, with range
requests; everyone and everything else gets the same 404 (or is sent to sign in)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.records import tables as t
from ivr.web.auth import SignedIn
from ivr.web.recordings import visible_calls
from tests.support.web import AUDIO, Site

pytestmark = pytest.mark.integration

ALL = ["RE-ana", "RE-ben", "RE-nobody"]


@pytest.mark.parametrize("username", ["root", "quinn"])
async def test_admin_and_qa_hear_every_recording(site: Site, username: str) -> None:
    browser = await site.signed_in(username)
    for sid in ALL:
        reply = await browser.get(f"/recordings/{sid}")
        assert reply.status == 200, sid
        assert reply.body == AUDIO
        assert reply.headers["Content-Type"] == "audio/wav"
        assert reply.headers["Cache-Control"] == "private, no-store"
        assert reply.headers["Accept-Ranges"] == "bytes"
        assert reply.headers["X-Content-Type-Options"] == "nosniff"


async def test_an_officer_hears_only_their_own_calls(site: Site) -> None:
    ana = await site.signed_in("ana")
    own = await ana.get("/recordings/RE-ana")
    assert (own.status, own.body) == (200, AUDIO)
    for sid in ("RE-ben", "RE-nobody", "RE-unknown"):
        reply = await ana.get(f"/recordings/{sid}")
        assert reply.status == 404, sid
        assert AUDIO[:64] not in reply.body
    ben = await site.signed_in("ben")
    assert (await ben.get("/recordings/RE-ben")).status == 200
    assert (await ben.get("/recordings/RE-ana")).status == 404


async def test_range_requests_return_the_asked_bytes(site: Site) -> None:
    browser = await site.signed_in("quinn")
    reply = await browser.get("/recordings/RE-ana", headers={"Range": "bytes=100-199"})
    assert reply.status == 206
    assert reply.body == AUDIO[100:200]
    assert reply.headers["Content-Range"] == f"bytes 100-199/{len(AUDIO)}"
    assert reply.headers["Content-Type"] == "audio/wav"
    tail = await browser.get("/recordings/RE-ana", headers={"Range": "bytes=-16"})
    assert (tail.status, tail.body) == (206, AUDIO[-16:])
    beyond = await browser.get("/recordings/RE-ana", headers={"Range": f"bytes={len(AUDIO)}-"})
    assert beyond.status == 416


async def test_signed_out_never_gets_audio(site: Site) -> None:
    browser = site.browser()
    page = await browser.get("/recordings/RE-ana")
    assert (page.status, page.location) == (303, "/login?next=/recordings/RE-ana")
    assert AUDIO[:64] not in page.body
    ranged = await browser.get("/recordings/RE-ana", headers={"Range": "bytes=0-10"})
    assert ranged.status == 303
    api = await browser.get("/recordings/RE-ana", headers={"Accept": "application/json"})
    assert api.status == 401 and AUDIO[:64] not in api.body
    # after signing in, the recording it was going to is where sign-in lands
    landed = await browser.login("quinn", next_path="/recordings/RE-ana")
    assert landed.location == "/recordings/RE-ana"


@pytest.mark.parametrize("sid", ["RE-escape", "RE-absolute", "RE-missing", "RE-unstored"])
async def test_stored_paths_outside_the_store_or_missing_are_404(site: Site, sid: str) -> None:
    outside = site.recordings.parent / "outside.wav"
    assert await asyncio.to_thread(outside.read_bytes) == AUDIO  # it is there
    browser = await site.signed_in("root")
    reply = await browser.get(f"/recordings/{sid}")
    assert reply.status == 404
    assert AUDIO[:64] not in reply.body


async def test_traversal_in_the_url_is_404(site: Site) -> None:
    browser = await site.signed_in("root")
    for path in ("/recordings/..%2Foutside.wav", "/recordings/%2e%2e%2foutside.wav"):
        reply = await browser.get(path)
        assert reply.status == 404, path


def _visible(site: Site, user: SignedIn) -> list[str]:
    with Session(site.records) as session:
        query = select(t.Call.call_sid).where(visible_calls(user)).order_by(t.Call.call_sid)
        return list(session.scalars(query))


async def test_visible_calls_is_the_one_rule(site: Site) -> None:
    def user(role: str, officer: str | None) -> SignedIn:
        return SignedIn(1, "x", role, officer, "csrf")  # type: ignore[arg-type]

    everything = ["CA-ana", "CA-ben", "CA-nobody"]
    assert await asyncio.to_thread(_visible, site, user("admin", None)) == everything
    assert await asyncio.to_thread(_visible, site, user("qa", None)) == everything
    assert await asyncio.to_thread(_visible, site, user("officer", "ana")) == ["CA-ana"]
    assert await asyncio.to_thread(_visible, site, user("officer", None)) == []
