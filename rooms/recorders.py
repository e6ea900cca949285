"""Recording control: which participants' recorders run (rooms/recording.py does the muxing),
their Recording rows, and what becomes of each closed segment.

A recording may stand in for the transcript, so nothing about it fails quietly: a recorder
that stops on an error, a row that was never written, a segment that could not be stored or
recorded. Each is logged with its ids, the host is told, and a lost segment is a gap that the
recording list shows (a ``segment_failed`` room event).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from sqlmodel.ext.asyncio.session import AsyncSession

from rooms import forwarding
from rooms import service as rooms_service
from rooms.journal import Journal
from rooms.participant import Participant
from rooms.peers import KINDS
from rooms.recording import ParticipantRecorder, Segment
from service import audit
from service.errors import Conflict
from service.i18n import N_, gettext

if TYPE_CHECKING:
    from rooms.live import LiveRoom

log = logging.getLogger("mediation.rooms")

ROW_WAIT = 30.0  # seconds a segment waits for its recording's row (a request's commit)

# Why a segment is missing: its file could not be stored ("store"), or it was stored under
# its hash but its row could not be written ("record").
SegmentFailure = Literal["store", "record"]


class RecordingNotWritten(RuntimeError):
    """The journal that was to write a recording's row was rolled back."""


@dataclass
class ActiveRecording:
    """One participant's recorder and its Recording row. The row is written by the journal
    of the operation that started recording, so its id is known only once that commits."""

    participant_id: str
    recorder: ParticipantRecorder
    row_id: asyncio.Future[int]
    flushed_id: int | None = None  # the id within the journal's transaction, before commit
    name: str = ""  # the participant's, as the recording's row names them

    async def recording_id(self) -> int | None:
        """The committed row's id; None if it was never written."""
        try:
            return await asyncio.wait_for(asyncio.shield(self.row_id), ROW_WAIT)
        except (RecordingNotWritten, TimeoutError):
            return None


async def set_recording(
    room: LiveRoom, on: bool, actor: audit.Actor, *, target: AsyncSession | None = None
) -> None:
    """Start or stop recording everyone in the meeting. ``target``: the session of the
    request that asked, which commits the recordings' rows and the event."""
    async with room.operation(target) as journal:
        if on == room.recording:
            return
        if on:
            missing = [
                p.identity.name
                for p in room.participants.values()
                if p.admitted and not p.identity.is_host and not p.gave_consent("recording")
            ]
            if missing:
                raise Conflict(
                    "Recording needs the consent of everyone in the meeting; not yet"
                    " given by: {names}.",
                    names="、".join(missing),
                )
        room.recording = on
        if on:
            for p in room.participants.values():
                if p.peer is not None and p.admitted:
                    record(room, journal, p)

            def not_started() -> None:
                # Its writes were not committed: each recorder ends itself (``record``), and
                # the room must not go on saying that it records.
                room.recording = False

            journal.on_abort(not_started)
        else:
            # (stopping cannot be undone: the recorders have ended, recorded or not)
            for pid in list(room.recorders):
                await stop_recorder(room, journal, pid)
        room.event(journal, "recording_on" if on else "recording_off", actor=actor.label)
        # Everyone is told once the outcome is known (a request commits after this returns).

        async def tell() -> None:
            await room.broadcast("recording", on=room.recording)

        journal.on_commit(lambda: room.tasks.spawn(room.then(tell)))
        journal.on_abort(lambda: room.tasks.spawn(room.then(tell)))


async def record_newcomer(room: LiveRoom, p: Participant) -> None:
    """Someone's media arrived while the room records: record them too."""
    async with room.operation() as journal:
        if room.recording and p.peer is not None and room.participants.get(p.id) is p:
            record(room, journal, p)


def record(room: LiveRoom, journal: Journal, p: Participant) -> None:
    """Start ``p``'s recorder; its row is written with ``journal``."""
    if p.id in room.recorders or p.peer is None or not p.peer.published:
        return
    recorder = ParticipantRecorder(
        room_id=room.room_id,
        participant_id=p.id,
        workdir=room.services.workdir,
        segment_seconds=room.services.segment_seconds,
        on_segment=lambda segment: _store_segment(room, active, segment),
        on_failed=lambda: room.tasks.spawn(recording_failed(room, active), participant=p.id),
    )
    active = ActiveRecording(
        p.id, recorder, asyncio.get_running_loop().create_future(), name=p.identity.name
    )

    async def write(session: AsyncSession) -> None:
        row = await rooms_service.start_recording(
            session,
            room=await rooms_service.get_room(session, room.room_id),
            participant=p.id,
            participant_name=p.identity.name,
        )
        active.flushed_id = row.id

    def written() -> None:
        if active.flushed_id is not None and not active.row_id.done():
            active.row_id.set_result(active.flushed_id)

    def lost() -> None:
        active.flushed_id = None
        if not active.row_id.done():
            active.row_id.set_exception(RecordingNotWritten(p.id))
            active.row_id.exception()  # (retrieved here; waiting segments see it too)
        # A recorder without a row records nothing that can be kept: end it, loudly.
        room.tasks.spawn(recording_failed(room, active), participant=p.id)

    journal.write(write)
    journal.on_commit(written)
    journal.on_abort(lost)
    allowed = forwarding.may_be_recorded(room, p)
    for kind in KINDS:
        fanout = p.peer.published.get(kind)
        if fanout is not None:
            recorder.add(kind, fanout, open=allowed)
    room.recorders[p.id] = active


async def recording_failed(room: LiveRoom, active: ActiveRecording) -> None:
    """A recording that may stand in for the transcript must not end unnoticed: close its
    row, log it, and tell the host, who can turn recording off and on again."""
    async with room.operation() as journal:
        if room.recorders.get(active.participant_id) is not active:
            return  # already stopped
        await stop_recorder(room, journal, active.participant_id)
        room.event(journal, "recording_failed", participant=active.participant_id)
        p = room.participants.get(active.participant_id)
        name = p.identity.name if p is not None else ""
        for host in room.participants.values():
            if host.identity.is_host:
                await room.send(host, "notice", code="recording_failed", name=name)


async def stop_recorder(room: LiveRoom, journal: Journal, participant_id: str) -> None:
    """Stop ``participant_id``'s recorder (its last segment is stored first) and close its
    row with ``journal``."""
    active = room.recorders.pop(participant_id, None)
    if active is None:
        return
    await active.recorder.stop()
    # Known before the transaction begins: never wait on another one from inside it.
    recording_id = await active.recording_id()
    if recording_id is not None:  # (a row never written has nothing to close)
        journal.write(
            lambda session: rooms_service.stop_recording(session, recording_id=recording_id)
        )


async def _store_segment(room: LiveRoom, active: ActiveRecording, segment: Segment) -> None:
    """Hash and store a closed segment off the event loop, then record it, in a unit of
    work of its own (it belongs to no message)."""
    try:
        size = segment.path.stat().st_size
        sha256 = await room.services.store.put_file_async(segment.path)
    except Exception as exc:
        # The temporary file is the only copy left: keep it for the operator.
        recording_id = await active.recording_id()  # (its gap is listed under it)
        await _segment_failed(room, active, segment, "store", exc, recording_id)
        return
    segment.path.unlink(missing_ok=True)
    recording_id = await active.recording_id()
    try:
        if recording_id is None:
            raise RecordingNotWritten(f"no recording row for {active.participant_id}")
        journal = Journal()
        journal.write(
            lambda session: rooms_service.add_segment(
                session,
                recording_id=recording_id,
                seq=segment.seq,
                sha256=sha256,
                size=size,
                duration=round(segment.duration, 3),
                media_type=segment.media_type,
            )
        )
        await journal.commit(room.services.sessionmaker)
    except Exception as exc:  # stored under its hash, but not in the recording's list
        await _segment_failed(room, active, segment, "record", exc, recording_id, sha256=sha256)


async def _segment_failed(
    room: LiveRoom,
    active: ActiveRecording,
    segment: Segment,
    reason: SegmentFailure,
    exc: BaseException,
    recording_id: int | None,
    *,
    sha256: str | None = None,
) -> None:
    """Log it with every id, mark the gap durably (the recording list shows it, under its
    participant if the recording has no row: ``recording_id`` None), and tell the host, who
    may want to say again what the missing minutes held."""
    participant_id = active.participant_id
    ids = {
        "room": room.room_id,
        "participant": participant_id,
        "recording": recording_id,
        "seq": segment.seq,
    }
    log.error(
        "recording segment %d of recording %s (room %d, participant %s) was not %s: %s; it is %s",
        segment.seq,
        recording_id,
        room.room_id,
        participant_id,
        "stored" if reason == "store" else "recorded",
        exc,
        f"stored under {sha256}" if sha256 else f"kept at {segment.path}",
        exc_info=exc,
        extra={**ids, "reason": reason},
    )
    journal = Journal()
    room.event(
        journal,
        "segment_failed",
        participant=participant_id,
        data={
            "recording_id": recording_id,
            "seq": segment.seq,
            "reason": reason,
            "name": active.name,
            "sha256": sha256,  # where a segment stored but not recorded can be found
        },
    )
    try:
        await journal.commit(room.services.sessionmaker)
    except Exception:
        log.exception("the gap could not be recorded either", extra=ids)
    name = active.name or participant_id
    # The last segment of a recording that has stopped (or that failed) is stored after it.
    if room.recorders.get(participant_id) is active:
        notice = N_(
            "Part {seq} of {name}'s recording could not be saved. The recording goes on;"
            " the case page lists the gap."
        )
    else:
        notice = N_(
            "Part {seq} of {name}'s recording could not be saved. The case page lists the gap."
        )
    for host in list(room.participants.values()):
        if host.identity.is_host and host.transport is not None:
            text = gettext(host.transport.language, notice, seq=segment.seq, name=name)
            await room.send(
                host,
                "notice",
                code="recording_segment_failed",
                name=name,
                seq=segment.seq,
                text=text,
            )
