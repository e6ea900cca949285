"""Standing by (?prejoin=1): the room page connects while the person checks their camera, so
that Join costs no ICE, DTLS or offer round trip. Until then they are not in the meeting."""

from __future__ import annotations

import asyncio

from rooms import service as rooms_service
from tests.rooms.client import Client
from tests.rooms.conftest import Meeting, eventually
from tests.rooms.test_media import flowing


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


async def test_a_standby_is_connected_but_nobody_sees_or_hears_it_until_join(
    meeting: Meeting,
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
    await asyncio.sleep(1.5)
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
    assert applicant.of_type("error")[-1]["detail"] == "Join the meeting first."
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
        lambda: applicant.of_type("error")[-1]["detail"] == "You are already in the meeting.",
        what="a second join refused",
    )


async def test_a_standby_bound_for_the_lobby_gets_no_peer_until_admitted(
    meeting: Meeting,
) -> None:
    mediator = await meeting.join("mediator")
    applicant = await stand_by(meeting, "applicant")
    await eventually(lambda: bool(applicant.of_type("welcome")), what="the welcome")
    await asyncio.sleep(1.0)
    # Bound for the lobby: no peer, and no offer naming who is in the meeting.
    assert applicant.offers == 0
    await applicant.join_meeting()
    await eventually(lambda: bool(applicant.of_type("lobby")), what="lobby")
    assert applicant.of_type("joined")[0]["admitted"] is False
    await asyncio.sleep(1.0)
    assert applicant.offers == 0
    assert sum(applicant.frames.values()) == 0
    assert mediator.received(applicant.participant_id, "video") == 0
    await mediator.send(type="admit", participant_id=applicant.participant_id)
    await eventually(lambda: applicant.offers == 1, what="the offer on admission")
    await flowing(applicant, mediator.participant_id, "video")
    await flowing(mediator, applicant.participant_id, "audio")


async def test_a_standby_that_leaves_leaves_no_trace_and_one_that_stays_hears_the_end(
    meeting: Meeting,
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
    await asyncio.sleep(1.0)
    assert sum(staying.frames.values()) == 0
    kinds = await events(meeting)
    assert ("disconnect", gone.participant_id) not in kinds
    assert ("leave", staying.participant_id) not in kinds

    r = await meeting.api("POST", f"/api/rooms/{meeting.room_id}/close")
    assert r.status_code == 200, r.text
    await eventually(lambda: bool(staying.of_type("closed")), what="the standby told")
    assert staying.of_type("closed")[0]["reason"] == "closed"
