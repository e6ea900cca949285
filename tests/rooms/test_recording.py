"""Server-side recording: forwarded packets muxed without transcoding, hashed when closed."""

from __future__ import annotations

import asyncio
import hashlib
import io
import time

import av

from tests.rooms.conftest import Meeting, eventually
from tests.rooms.test_media import flowing


async def test_a_ten_second_recording_plays_and_its_hash_holds(meeting: Meeting) -> None:
    mediator = await meeting.join("mediator")
    applicant = await meeting.join("applicant")
    await mediator.send(type="admit", participant_id=applicant.participant_id)
    await flowing(mediator, applicant.participant_id, "video", more_than=10)
    await eventually(
        lambda: any(
            p["consents"]["recording"]
            for m in mediator.of_type("participants")
            for p in m["participants"]
            if p["id"] == applicant.participant_id
        ),
        what="the applicant's consent to recording",
    )

    await meeting.api("GET", f"/api/rooms/{meeting.room_id}")  # signed in before timing
    started = time.monotonic()
    r = await meeting.api(
        "POST", f"/api/rooms/{meeting.room_id}/recording", json={"action": "start"}
    )
    assert r.status_code == 200 and r.json() == {"on": True}, r.text
    await eventually(lambda: bool(applicant.of_type("recording")), what="recording notice")
    assert applicant.of_type("recording")[-1]["on"] is True
    await asyncio.sleep(10)
    r = await meeting.api(
        "POST", f"/api/rooms/{meeting.room_id}/recording", json={"action": "stop"}
    )
    assert r.json() == {"on": False}
    talked = time.monotonic() - started  # about 10 s, plus the two requests

    r = await meeting.api("GET", f"/api/rooms/{meeting.room_id}/recordings")
    recordings = {rec["participant"]: rec for rec in r.json()}
    assert set(recordings) == {mediator.participant_id, applicant.participant_id}
    for rec in recordings.values():
        assert rec["stopped_at"] is not None
        assert abs(rec["duration"] - talked) <= 1, (rec, talked)
        (segment,) = rec["segments"]
        body = (await meeting.api("GET", segment["url"])).content
        assert hashlib.sha256(body).hexdigest() == segment["sha256"]
        with av.open(io.BytesIO(body)) as container:
            kinds = {s.type for s in container.streams}
            assert kinds == {"video", "audio"}
            seconds = container.duration / av.time_base
            assert abs(seconds - talked) <= 1, (seconds, talked)
            assert sum(1 for _ in container.decode(video=0)) > 100  # it really plays


async def test_recording_needs_everyone_s_consent(meeting: Meeting) -> None:
    """A party who did not agree to be recorded blocks recording (OMR 4): 409 naming them."""
    mediator = await meeting.join("mediator")
    applicant = await meeting.join("applicant", consent=False)
    await mediator.send(type="admit", participant_id=applicant.participant_id)
    await flowing(mediator, applicant.participant_id, "video")
    r = await meeting.api(
        "POST", f"/api/rooms/{meeting.room_id}/recording", json={"action": "start"}
    )
    assert r.status_code == 409
    assert meeting.world.applicant.name in r.json()["detail"]


async def test_closing_the_room_leaves_nothing_running(meeting: Meeting, app) -> None:
    """Close ends every peer, recorder and socket of the room; the case page lists the
    recording with a player, for the mediator to play back."""
    mediator = await meeting.join("mediator")
    applicant = await meeting.join("applicant")
    await mediator.send(type="admit", participant_id=applicant.participant_id)
    await flowing(mediator, applicant.participant_id, "video")
    r = await meeting.api(
        "POST", f"/api/rooms/{meeting.room_id}/recording", json={"action": "start"}
    )
    assert r.status_code == 200, r.text
    await asyncio.sleep(2)
    live = app.state.rooms.get(meeting.room_id)
    peers = [p.peer for p in live.participants.values()]
    recorders = [rec for _, rec in live.recorders.values()]
    assert peers and all(peers) and recorders

    r = await meeting.api("POST", f"/api/rooms/{meeting.room_id}/close")
    assert r.status_code == 200 and r.json()["status"] == "closed"
    assert app.state.rooms.get(meeting.room_id) is None
    assert all(p.closed and p.pc.connectionState == "closed" for p in peers)
    assert all(rec.stopped for rec in recorders)
    await eventually(
        lambda: bool(mediator.of_type("closed") and applicant.of_type("closed")),
        what="everyone told the meeting ended",
    )
    workdir = app.state.rooms.services.workdir
    assert not any(workdir.glob("*")), "a recording left a temporary file"

    page = await meeting.api("GET", f"/cases/{meeting.world.case.id}")
    assert page.status_code == 200
    assert f"/api/rooms/{meeting.room_id}/recordings/" in page.text and "<video" in page.text
