"""Server-side recording: forwarded packets muxed without transcoding, hashed when closed."""

from __future__ import annotations

import asyncio
import hashlib
import io
import threading
import time
from typing import Any

import av
import pytest

from rooms import recording
from rooms import service as rooms_service
from service.i18n import DEFAULT_LANGUAGE, gettext
from tests.rooms.client import Client
from tests.rooms.conftest import Meeting, eventually, muxed
from tests.rooms.test_media import flowing


async def test_a_ten_second_recording_plays_and_its_hash_holds(meeting: Meeting) -> None:
    mediator = await meeting.join("mediator")
    applicant = await meeting.join("applicant")
    await mediator.send(type="admit", participant_id=applicant.participant_id)
    await flowing(mediator, applicant.participant_id, "video", more_than=10)
    await _consented(mediator, applicant)

    await meeting.api("GET", f"/api/rooms/{meeting.room_id}")  # signed in before timing
    started = time.monotonic()
    r = await meeting.api(
        "POST", f"/api/rooms/{meeting.room_id}/recording", json={"action": "start"}
    )
    assert r.status_code == 200 and r.json() == {"on": True}, r.text
    await eventually(lambda: bool(applicant.of_type("recording")), what="recording notice")
    assert applicant.of_type("recording")[-1]["on"] is True
    await asyncio.sleep(10)  # the recording's length (what is measured), not a wait for anything
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


async def test_closing_the_room_leaves_nothing_running(
    meeting: Meeting, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Close ends every peer, recorder and socket of the room; the case page lists the
    recording with a player, for the mediator to play back."""
    mediator = await meeting.join("mediator")
    applicant = await meeting.join("applicant")
    await mediator.send(type="admit", participant_id=applicant.participant_id)
    await flowing(mediator, applicant.participant_id, "video")
    await flowing(applicant, mediator.participant_id, "video")
    r = await meeting.api(
        "POST", f"/api/rooms/{meeting.room_id}/recording", json={"action": "start"}
    )
    assert r.status_code == 200, r.text
    live = app.state.rooms.get(meeting.room_id)
    peers = [p.peer for p in live.participants.values()]
    recorders = [active.recorder for active in live.recorders.values()]
    assert peers and all(peers) and len(recorders) == 2
    await muxed(monkeypatch, recorders, packets=20)  # a segment worth storing, each

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


async def _start_recording(meeting: Meeting, app: Any) -> list[recording.ParticipantRecorder]:
    """Mediator and applicant in the meeting, media flowing, recording on: their recorders."""
    mediator = await meeting.join("mediator")
    applicant = await meeting.join("applicant")
    await mediator.send(type="admit", participant_id=applicant.participant_id)
    # Both ways: a recorder starts with the recording only for media the server already has.
    await flowing(mediator, applicant.participant_id, "video", more_than=10)
    await flowing(applicant, mediator.participant_id, "video", more_than=10)
    await _consented(mediator, applicant)
    r = await meeting.api(
        "POST", f"/api/rooms/{meeting.room_id}/recording", json={"action": "start"}
    )
    assert r.status_code == 200, r.text
    live = app.state.rooms.get(meeting.room_id)
    recorders = [active.recorder for active in live.recorders.values()]
    assert len(recorders) == 2
    return recorders


async def _consented(mediator: Client, party: Client) -> None:
    """Until the host's list shows the party's consent to recording."""
    await eventually(
        lambda: any(
            p["consents"]["recording"]
            for m in mediator.of_type("participants")
            for p in m["participants"]
            if p["id"] == party.participant_id
        ),
        what=f"{party.participant_id}'s consent to recording",
    )


async def _stop_recording(meeting: Meeting) -> list[dict[str, Any]]:
    r = await meeting.api(
        "POST", f"/api/rooms/{meeting.room_id}/recording", json={"action": "stop"}
    )
    assert r.json() == {"on": False}
    r = await meeting.api("GET", f"/api/rooms/{meeting.room_id}/recordings")
    recordings: list[dict[str, Any]] = r.json()
    return recordings


def _writer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("recorder-")]


async def test_muxing_runs_on_writer_threads_that_stop_ends(
    meeting: Meeting, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PyAV writes on one thread per recorder, never on the event loop that carries every
    room's video; stopping finalises and stores the segments and leaves no thread behind."""
    muxed_on: set[int] = set()
    mux = recording._mux

    def spy(container: Any, packet: av.Packet) -> None:
        muxed_on.add(threading.get_ident())
        mux(container, packet)

    monkeypatch.setattr(recording, "_mux", spy)
    recorders = await _start_recording(meeting, app)
    writers = [rec._thread for rec in recorders]
    assert all(w is not None and w.is_alive() for w in writers)
    await eventually(lambda: len(muxed_on) == len(recorders), what="both recorders muxing")
    assert muxed_on == {w.ident for w in writers if w is not None}
    assert threading.get_ident() not in muxed_on  # the loop's thread (server and test share it)

    recordings = await _stop_recording(meeting)
    assert all(rec.stopped for rec in recorders)
    assert not any(w is not None and w.is_alive() for w in writers)
    assert _writer_threads() == []
    assert len(recordings) == 2 and all(len(rec["segments"]) == 1 for rec in recordings)
    workdir = app.state.rooms.services.workdir
    assert not any(workdir.glob("*")), "a recording left a temporary file"


async def test_a_failing_writer_ends_the_recording_cleanly(
    meeting: Meeting, app: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An error on the writer thread is logged and ends that recording: the thread exits,
    the recorder stops reading, and stopping afterwards still works and leaves no file."""

    def broken(container: Any, packet: av.Packet) -> None:
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(recording, "_mux", broken)
    recorders = await _start_recording(meeting, app)
    await eventually(
        lambda: all(rec._thread is not None and not rec._thread.is_alive() for rec in recorders),
        what="the writers ending",
    )
    await eventually(
        lambda: all(t.readyState == "ended" for rec in recorders for t in rec.tracks.values()),
        what="the recorders no longer subscribed",
    )
    failures = [r for r in caplog.records if r.getMessage() == "recording writer failed"]
    assert len(failures) == 2 and all(r.exc_info for r in failures)

    # Not unnoticed: the rows are closed at once, and the host is told whose recording ended.
    mediator = meeting.clients[0]
    await eventually(
        lambda: (
            len([m for m in mediator.of_type("notice") if m["code"] == "recording_failed"]) == 2
        ),
        what="the host told of both failures",
    )
    r = await meeting.api("GET", f"/api/rooms/{meeting.room_id}/recordings")
    assert all(rec["stopped_at"] is not None for rec in r.json()), r.json()
    async with meeting.factory.uow() as s:
        kinds = [e.kind for e in await rooms_service.room_events(s, room_id=meeting.room_id)]
    assert kinds.count("recording_failed") == 2

    recordings = await _stop_recording(meeting)
    assert all(rec["stopped_at"] is not None and rec["segments"] == [] for rec in recordings)
    assert _writer_threads() == []
    workdir = app.state.rooms.services.workdir
    assert not any(workdir.glob("*")), "a failed recording left a temporary file"


async def test_a_stalled_writer_drops_media_but_never_holds_up_the_loop(
    meeting: Meeting, app: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A writer stuck on a slow disk: the backlog stays bounded, the meeting goes on, and
    once the writer is back the recording resumes at a keyframe and still plays."""
    release = threading.Event()
    mux = recording._mux
    video_muxed: dict[int, int] = {}  # writer thread -> video packets muxed

    def stalled(container: Any, packet: av.Packet) -> None:
        release.wait(30)
        mux(container, packet)
        if packet.stream.type == "video":
            video_muxed[threading.get_ident()] = video_muxed.get(threading.get_ident(), 0) + 1

    monkeypatch.setattr(recording, "MAX_BACKLOG", 40)
    monkeypatch.setattr(recording, "_mux", stalled)
    try:
        recorders = await _start_recording(meeting, app)
        await eventually(lambda: "falling behind" in caplog.text, what="the backlog warning")
        mediator, applicant = meeting.clients
        await flowing(mediator, applicant.participant_id, "video", more_than=30)
        await flowing(applicant, mediator.participant_id, "audio", more_than=50)
        # The stop marker aside, at most one segment start beyond the packets.
        assert all(rec._queue.qsize() <= recording.MAX_BACKLOG + 1 for rec in recorders)
    finally:
        release.set()
    await eventually(lambda: "caught up" in caplog.text, what="the writers catching up")
    before = dict(video_muxed)
    await eventually(
        lambda: (
            len(video_muxed) == 2
            and all(n >= before.get(t, 0) + 30 for t, n in video_muxed.items())
        ),
        what="a second of video muxed by each writer since it caught up",
    )

    recordings = await _stop_recording(meeting)
    assert _writer_threads() == []
    for rec in recordings:
        (segment,) = rec["segments"]
        body = (await meeting.api("GET", segment["url"])).content
        with av.open(io.BytesIO(body)) as container:
            assert sum(1 for _ in container.decode(video=0)) > 10


@pytest.mark.parametrize("fails", ["store", "record"])
async def test_a_segment_that_cannot_be_kept_is_logged_told_and_listed_as_a_gap(
    meeting: Meeting,
    app: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    fails: str,
) -> None:
    """A recording is evidence: a segment whose file cannot be stored ("store"), or whose
    row cannot be written ("record"), is logged with every id, the host is told, and the
    recording list shows the gap. A file that could not be stored is kept for the operator."""
    recorders = await _start_recording(meeting, app)
    await muxed(monkeypatch, recorders, packets=20)
    live = app.state.rooms.get(meeting.room_id)
    recording_ids = {pid: await a.recording_id() for pid, a in live.recorders.items()}
    services = app.state.rooms.services

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise OSError(28, "No space left on device")

    if fails == "store":
        monkeypatch.setattr(services.store, "put_file_async", broken)
    else:
        monkeypatch.setattr(rooms_service, "add_segment", broken)
    recordings = await _stop_recording(meeting)

    by_participant = {rec["participant"]: rec for rec in recordings}
    assert set(by_participant) == set(recording_ids)
    for pid, rec in by_participant.items():
        assert rec["id"] == recording_ids[pid]
        assert rec["segments"] == [] and rec["gaps"] == [{"seq": 1, "reason": fails}], rec
    logged = [
        r
        for r in caplog.records
        if r.levelname == "ERROR" and r.getMessage().startswith("recording segment 1 of recording")
    ]
    assert sorted((r.room, r.participant, r.recording, r.seq) for r in logged) == sorted(
        (meeting.room_id, pid, rid, 1) for pid, rid in recording_ids.items()
    )
    assert all(r.exc_info for r in logged)

    mediator, applicant = meeting.clients
    await eventually(
        lambda: (
            len([m for m in mediator.of_type("notice") if m["code"] == "recording_segment_failed"])
            == 2
        ),
        what="the host told of both gaps",
    )
    notices = [m for m in mediator.of_type("notice") if m["code"] == "recording_segment_failed"]
    assert {m["seq"] for m in notices} == {1} and all(m["text"] for m in notices)
    assert meeting.world.applicant.name in {m["name"] for m in notices}
    assert not [m for m in applicant.of_type("notice") if m["code"] == "recording_segment_failed"]

    page = await meeting.api("GET", f"/cases/{meeting.world.case.id}")
    for rid in recording_ids.values():
        assert f'data-testid="recording-gap-{rid}-1"' in page.text

    kept = sorted(services.workdir.glob("*"))
    if fails == "store":  # the only copy: kept where it was, and the log says where
        assert len(kept) == 2 and all(str(path) in caplog.text for path in kept)
        for path in kept:
            path.unlink()
    else:  # in the content store under its hash, which the log gives
        assert kept == []
        assert all(r.getMessage().count("stored under ") == 1 for r in logged)


async def test_a_recording_whose_row_was_never_written_lists_its_gap_under_its_participant(
    meeting: Meeting, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The start's rows refused once the recorders had media: each recorder ends, its last
    segment is stored with no row to enter it in, and the gap (with no recording id) is
    listed under its participant; the recording list and the case page still answer, and
    the host's notice does not say that the recording goes on."""
    mediator = await meeting.join("mediator")
    applicant = await meeting.join("applicant")
    await mediator.send(type="admit", participant_id=applicant.participant_id)
    await flowing(mediator, applicant.participant_id, "video", more_than=10)
    await _consented(mediator, applicant)
    live = app.state.rooms.get(meeting.room_id)
    start_recording = rooms_service.start_recording
    media_in = asyncio.Event()
    calls = 0

    async def refused_once_recording(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            await media_in.wait()
            raise OSError("the database went away mid-request")
        return await start_recording(*args, **kwargs)

    monkeypatch.setattr(rooms_service, "start_recording", refused_once_recording)
    start = asyncio.create_task(
        meeting.api("POST", f"/api/rooms/{meeting.room_id}/recording", json={"action": "start"})
    )
    await eventually(lambda: len(live.recorders) == 2, what="the recorders started")
    await muxed(monkeypatch, [a.recorder for a in live.recorders.values()], packets=20)
    media_in.set()
    assert (await start).status_code == 500

    async def both_gaps() -> bool:
        async with meeting.factory.uow() as s:
            kinds = [e.kind for e in await rooms_service.room_events(s, room_id=meeting.room_id)]
        return kinds.count("segment_failed") == 2

    await eventually(both_gaps, what="both gaps recorded")
    r = await meeting.api("GET", f"/api/rooms/{meeting.room_id}/recordings")
    assert r.status_code == 200, r.text
    by_participant = {rec["participant"]: rec for rec in r.json()}
    assert set(by_participant) == {mediator.participant_id, applicant.participant_id}
    for rec in by_participant.values():
        assert rec["id"] is None and rec["segments"] == []
        assert rec["gaps"] == [{"seq": 1, "reason": "record"}]
    assert by_participant[applicant.participant_id]["participant_name"] == (
        meeting.world.applicant.name
    )
    page = await meeting.api("GET", f"/cases/{meeting.world.case.id}")
    assert page.status_code == 200
    for pid in by_participant:
        assert f'data-testid="recording-gap-lost-{pid}-1"' in page.text

    await eventually(
        lambda: (
            len([m for m in mediator.of_type("notice") if m["code"] == "recording_segment_failed"])
            == 2
        ),
        what="the host told of both gaps",
    )
    stopped = gettext(
        DEFAULT_LANGUAGE,
        "Part {seq} of {name}'s recording could not be saved. The case page lists the gap.",
        seq=1,
        name=meeting.world.applicant.name,
    )
    texts = [
        m["text"] for m in mediator.of_type("notice") if m["code"] == "recording_segment_failed"
    ]
    assert stopped in texts
