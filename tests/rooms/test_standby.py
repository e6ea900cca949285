"""Standing by (?prejoin=1): the room page connects while the person checks their camera, so
that Join costs no ICE, DTLS or offer round trip. Until then they are not in the meeting."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx
import pytest

from rooms import negotiation
from rooms import service as rooms_service
from rooms.participant import Stage
from service.i18n import DEFAULT_LANGUAGE, gettext
from tests.rooms.client import Client
from tests.rooms.conftest import Meeting, eventually, server_took
from tests.rooms.test_media import flowing

ZH = DEFAULT_LANGUAGE  # the test clients' sockets name no language: refusals come in Chinese


async def stand_by(meeting: Meeting, who: str) -> Client:
    return await meeting.join(who, prejoin=True)


async def events(meeting: Meeting) -> list[tuple[str, str | None]]:
    async with meeting.factory.uow() as s:
        rows = await rooms_service.room_events(s, room_id=meeting.room_id)
    return [(e.kind, e.participant) for e in rows]


async def auto_admit_room(meeting: Meeting) -> None:
    await meeting.api("POST", f"/api/rooms/{meeting.room_id}/close")
    r = await meeting.api(
        "POST", f"/api/cases/{meeting.world.case.id}/rooms", json={"auto_admit": True}
    )
    assert r.status_code == 201, r.text
    meeting.room_id = r.json()["id"]


def standby_of(app: Any, meeting: Meeting, who: Client) -> Any:
    live = app.state.rooms.get(meeting.room_id)
    return next(s for s in live.standbys if s.id == who.participant_id)


def passed_on(standby: Any) -> list[bool]:
    """Whether the server passes each forwarded track on to ``standby``'s connection."""
    return [out.track.open for out in standby.peer.outgoing.values()]


async def test_a_standby_is_connected_but_nobody_sees_or_hears_it_until_join(
    meeting: Meeting, app: Any
) -> None:
    await auto_admit_room(meeting)
    mediator = await meeting.join("mediator")
    applicant = await stand_by(meeting, "applicant")
    assert applicant.of_type("welcome")[0]["joined"] is False
    await eventually(lambda: applicant.offers == 1, what="the standby's offer")
    await eventually(
        lambda: applicant.pc is not None and applicant.pc.connectionState == "connected",
        what="the standby's media connection",
    )
    waiting = standby_of(app, meeting, applicant)
    assert passed_on(waiting) and not any(passed_on(waiting)), "gates open to a standby"
    await server_took(app, meeting.room_id, mediator.participant_id)
    assert sum(applicant.frames.values()) == 0, "a standby received media"
    assert mediator.received(applicant.participant_id, "video") == 0
    assert applicant.of_type("participants") == []
    rosters = mediator.of_type("participants")
    assert all(p["id"] != applicant.participant_id for m in rosters for p in m["participants"]), (
        "the standby showed in the mediator's list"
    )
    assert ("join", applicant.participant_id) not in await events(meeting)

    # Only what connecting needs is accepted; the rest waits for Join.
    await applicant.send(type="chat", text="hello")
    await eventually(lambda: bool(applicant.of_type("error")), what="refusal")
    assert applicant.of_type("error")[-1]["detail"] == gettext(ZH, "Join the meeting first.")
    assert not [m for m in mediator.of_type("chat") if m["text"] == "hello"]

    offers = applicant.offers
    await applicant.join_meeting()
    await eventually(lambda: bool(applicant.of_type("joined")), what="joined")
    assert applicant.of_type("joined")[0]["admitted"] is True
    await flowing(applicant, mediator.participant_id, "video", within=5)
    await flowing(applicant, mediator.participant_id, "audio", within=5)
    await flowing(mediator, applicant.participant_id, "video", within=5)
    assert applicant.offers == offers, "joining needed a new offer: the standby was not used"
    assert ("join", applicant.participant_id) in await events(meeting)
    roster = mediator.of_type("participants")[-1]["participants"]
    assert any(p["id"] == applicant.participant_id and p["admitted"] for p in roster)

    await applicant.send(type="join")
    await eventually(
        lambda: (
            applicant.of_type("error")[-1]["detail"]
            == gettext(ZH, "You are already in the meeting.")
        ),
        what="a second join refused",
    )


async def test_a_standby_bound_for_the_lobby_gets_no_peer_until_admitted(
    meeting: Meeting, app: Any
) -> None:
    mediator = await meeting.join("mediator")
    applicant = await stand_by(meeting, "applicant")
    await eventually(lambda: bool(applicant.of_type("welcome")), what="the welcome")
    # Bound for the lobby: no peer, and no offer naming who is in the meeting.
    assert standby_of(app, meeting, applicant).peer is None
    await server_took(app, meeting.room_id, mediator.participant_id)
    assert applicant.offers == 0
    await applicant.join_meeting()
    await eventually(lambda: bool(applicant.of_type("lobby")), what="lobby")
    assert applicant.of_type("joined")[0]["admitted"] is False
    waiting = app.state.rooms.get(meeting.room_id).participants[applicant.participant_id]
    assert waiting.stage == Stage.lobby and waiting.peer is None
    await server_took(app, meeting.room_id, mediator.participant_id)
    assert applicant.offers == 0
    assert sum(applicant.frames.values()) == 0
    assert mediator.received(applicant.participant_id, "video") == 0
    await mediator.send(type="admit", participant_id=applicant.participant_id)
    await eventually(lambda: applicant.offers == 1, what="the offer on admission")
    await flowing(applicant, mediator.participant_id, "video")
    await flowing(mediator, applicant.participant_id, "audio")


async def test_a_standby_that_leaves_leaves_no_trace_and_one_that_stays_hears_the_end(
    meeting: Meeting, app: Any
) -> None:
    await auto_admit_room(meeting)
    mediator = await meeting.join("mediator")
    gone = await stand_by(meeting, "applicant")
    await eventually(lambda: gone.offers == 1, what="the standby's offer")
    await gone.close()
    staying = await stand_by(meeting, "respondent")
    await eventually(lambda: staying.offers == 1, what="the second standby's offer")
    # A new publisher renegotiates standbys too, its media shut off from them.
    late = await meeting.join("applicant")
    await flowing(mediator, late.participant_id, "video")
    await eventually(lambda: staying.offers >= 2, what="the standby renegotiated")
    assert not any(passed_on(standby_of(app, meeting, staying))), "gates open to a standby"
    await flowing(mediator, late.participant_id, "video", more_than=30)  # the window
    assert sum(staying.frames.values()) == 0
    kinds = await events(meeting)
    assert ("disconnect", gone.participant_id) not in kinds
    assert ("leave", staying.participant_id) not in kinds

    r = await meeting.api("POST", f"/api/rooms/{meeting.room_id}/close")
    assert r.status_code == 200, r.text
    await eventually(lambda: bool(staying.of_type("closed")), what="the standby told")
    assert staying.of_type("closed")[0]["reason"] == "closed"


# -- the offer that comes with the room page ------------------------------------------------

# The head's data block for room/early.js, which answers the offer the page carries.
EARLY_DATA = re.compile(r'<script type="application/json" id="room-early">(.*?)</script>', re.S)


async def open_page(meeting: Meeting, token: str) -> dict[str, Any] | None:
    """GET the room page as the person's browser would; returns the offer it carries."""
    async with httpx.AsyncClient(base_url=meeting.server.base_url) as http:
        r = await http.get(
            f"/rooms/{meeting.room_id}", headers={"Authorization": f"Bearer {token}"}
        )
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"  # it holds a one-time offer
    found = EARLY_DATA.search(r.text)
    assert found is not None, "the page has no prepared-offer slot"
    prepared: dict[str, Any] | None = json.loads(found.group(1))["prepared"]
    return prepared


async def claim(meeting: Meeting, token: str, prepared: dict[str, Any]) -> Client:
    client = Client(meeting.signal_url, token, prepared=prepared)
    meeting.clients.append(client)
    await client.connect()
    await eventually(lambda: client.participant_id is not None, what="welcomed")
    return client


async def page_in_auto_admit_room(meeting: Meeting) -> tuple[Client, str, dict[str, Any]]:
    """The mediator in a room that admits by itself; the applicant's page opened. Returns the
    mediator, the applicant's session token and the offer their page carried."""
    await auto_admit_room(meeting)
    mediator = await meeting.join("mediator")
    token = await meeting.token_for("applicant")
    prepared = await open_page(meeting, token)
    assert prepared is not None
    return mediator, token, prepared


def prepared_standbys(app: Any, meeting: Meeting) -> list[Any]:
    live = app.state.rooms.get(meeting.room_id)
    return [s for s in live.standbys if s.stage == Stage.prepared] if live else []


async def test_the_page_carries_an_offer_that_its_socket_claims_and_joins_on(
    meeting: Meeting, app: Any
) -> None:
    mediator, token, prepared = await page_in_auto_admit_room(meeting)
    assert prepared["sdp"].startswith("v=0") and set(prepared["upstream"]) == {"audio", "video"}
    assert prepared["ice_servers"] == []
    offered = {
        line.split()[4] for line in prepared["sdp"].splitlines() if line.startswith("a=candidate:")
    }
    assert offered == {"127.0.0.1"}, "media offered beyond MEDIATION_HOST_ADDRESSES"
    # What it offers already: the mediator's media, gates shut.
    assert {t["participant_id"] for t in prepared["tracks"].values()} == {mediator.participant_id}
    assert len(prepared_standbys(app, meeting)) == 1

    applicant = await claim(meeting, token, prepared)
    assert applicant.of_type("welcome")[0]["prepared"] is True
    assert prepared_standbys(app, meeting) == []  # claimed: an ordinary standby now
    await eventually(
        lambda: applicant.pc is not None and applicant.pc.connectionState == "connected",
        what="the prepared connection",
    )
    assert applicant.offers == 1 and applicant.of_type("offer") == [], "offered again"
    # Tagged messages count only for the connection this socket claimed.
    await applicant.send(type="answer", sdp=prepared["sdp"], standby="not-the-claimed-one")
    # Messages are handled in order: the refusal of the next one comes after the first.
    await applicant.send(type="chat", text="hello")
    await eventually(lambda: bool(applicant.of_type("error")), what="the chat refused")
    errors = [m["detail"] for m in applicant.of_type("error")]
    assert errors == [gettext(ZH, "Join the meeting first.")], (
        "a message for another connection was applied"
    )
    await server_took(app, meeting.room_id, mediator.participant_id)
    assert sum(applicant.frames.values()) == 0, "a standby received media"

    await applicant.join_meeting()
    await flowing(applicant, mediator.participant_id, "video", within=5)
    await flowing(mediator, applicant.participant_id, "video", within=5)
    await flowing(mediator, applicant.participant_id, "audio", within=5)
    assert applicant.offers == 1


async def test_a_page_bound_for_the_lobby_carries_no_offer(meeting: Meeting, app: Any) -> None:
    await meeting.join("mediator")
    token = await meeting.token_for("applicant")
    assert await open_page(meeting, token) is None  # not admitted: the lobby has no peer
    assert app.state.rooms.get(meeting.room_id).standbys == []


async def test_reloading_the_page_is_given_the_same_connection_and_a_late_tab_restarts(
    meeting: Meeting, app: Any
) -> None:
    """One prepared connection per person, reused: a reload (or a second tab) carries the
    same offer while it is unclaimed, rather than costing the server another peer. A page
    that finds it claimed already stands by afresh."""
    mediator, token, first = await page_in_auto_admit_room(meeting)
    [waiting] = prepared_standbys(app, meeting)
    peer = waiting.peer
    second = await open_page(meeting, token)
    assert second == first
    assert prepared_standbys(app, meeting) == [waiting] and waiting.peer is peer
    assert not peer.closed

    applicant = await claim(meeting, token, second)
    assert applicant.of_type("welcome")[0]["prepared"] is True
    # The other tab's socket finds nothing to claim: it stands by afresh, with a new offer.
    # The answer it sent at once, for the connection it did not get, is ignored.
    other_tab = await claim(meeting, token, first)
    assert other_tab.of_type("welcome")[0]["prepared"] is False
    await eventually(lambda: bool(other_tab.of_type("offer")), what="a fresh offer")
    await applicant.join_meeting()
    await flowing(applicant, mediator.participant_id, "video", within=5)
    assert applicant.offers == 1 and applicant.of_type("error") == []
    assert other_tab.of_type("error") == []
    assert prepared_standbys(app, meeting) == []


async def test_a_prepared_connection_is_only_its_own_persons_and_goes_if_unclaimed(
    meeting: Meeting, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(negotiation, "ANSWER_TIMEOUT", 1.0)
    _, _, prepared = await page_in_auto_admit_room(meeting)
    [waiting] = prepared_standbys(app, meeting)
    peer = waiting.peer

    other = await claim(meeting, await meeting.token_for("respondent"), prepared)
    assert other.of_type("welcome")[0]["prepared"] is False  # not theirs to take
    assert prepared_standbys(app, meeting) == [waiting]
    assert waiting.peer is peer and peer.negotiating, "another's answer reached the connection"

    await eventually(lambda: prepared_standbys(app, meeting) == [], what="the unclaimed one gone")
    assert peer.closed and peer.pc.connectionState == "closed"
    live = app.state.rooms.get(meeting.room_id)
    assert all(s.id != waiting.id for s in live.standbys)


async def test_page_loads_at_once_leave_one_prepared_connection(meeting: Meeting, app: Any) -> None:
    """GET /rooms/{id} makes a peer: however often and however fast the page is loaded, a
    person has one prepared connection waiting, the first page's, which each carries."""
    _, token, first_page = await page_in_auto_admit_room(meeting)
    [first] = prepared_standbys(app, meeting)
    first_peer = first.peer
    pages = await asyncio.gather(*(open_page(meeting, token) for _ in range(4)))
    assert pages == [first_page] * 4
    assert prepared_standbys(app, meeting) == [first] and first.peer is first_peer
    live = app.state.rooms.get(meeting.room_id)
    assert [s for s in live.standbys if s.id == first.id] == [first]


async def test_a_prepared_connection_past_its_deadline_is_not_given_again(
    meeting: Meeting, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reused only while its answer may still come: once overdue it is replaced."""
    _, token, first_page = await page_in_auto_admit_room(meeting)
    [first] = prepared_standbys(app, meeting)
    first.answer_timer.cancel()  # as if overdue, its dropping queued behind the next page
    first.answer_timer = asyncio.get_running_loop().call_later(-1, lambda: None)
    second = await open_page(meeting, token)
    assert second is not None and second["token"] != first_page["token"]
    [waiting] = prepared_standbys(app, meeting)
    assert waiting is not first and first.peer is None


async def test_a_person_stands_by_on_two_sockets_at_most(meeting: Meeting, app: Any) -> None:
    """A second tab stands by beside the first; a third replaces the oldest, whose socket is
    closed as one replaced by the same person elsewhere (its page connects afresh on Join)."""
    await auto_admit_room(meeting)
    await meeting.join("mediator")
    tabs = [await stand_by(meeting, "applicant") for _ in range(2)]
    live = app.state.rooms.get(meeting.room_id)

    def mine() -> list[Any]:
        return [s for s in live.standbys if s.id == tabs[0].participant_id]

    assert len(mine()) == 2
    third = await stand_by(meeting, "applicant")
    await eventually(lambda: tabs[0].ws.close_code is not None, what="the oldest tab closed")
    assert tabs[0].ws.close_code == 4000 and tabs[1].ws.close_code is None
    assert len(mine()) == 2 and all(s.peer is not None for s in mine())
    await third.join_meeting()
    await eventually(lambda: bool(third.of_type("joined")), what="the newest tab joined")
