"""Rooms' durable records: rooms, their event log, the consent ledger and recordings.

Async functions that take a session, add and flush, and raise domain errors; the caller
(one request, or one signalling message) owns the transaction.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from rooms.models import (
    Consent,
    ConsentKind,
    Recording,
    RecordingSegment,
    Room,
    RoomEvent,
    RoomKind,
    RoomStatus,
)
from service import audit, cases
from service.clock import now
from service.errors import Conflict, InvalidTransition, NotFound
from service.i18n import N_
from service.models import Case

ROOM_TRANSITIONS = {
    RoomStatus.scheduled: frozenset({RoomStatus.open, RoomStatus.closed}),
    RoomStatus.open: frozenset({RoomStatus.closed}),
    RoomStatus.closed: frozenset(),
}


LIVE = (RoomStatus.scheduled, RoomStatus.open)
STATUS_LABELS = {
    RoomStatus.scheduled: N_("Not started"),
    RoomStatus.open: N_("In progress"),
    RoomStatus.closed: N_("Ended"),
}


async def create_room(
    session: AsyncSession,
    *,
    case: Case,
    kind: RoomKind,
    auto_admit: bool,
    created_by: int,
    actor: audit.Actor,
) -> Room:
    """A new room of the case, refused (409, naming the room) while the case has a live one
    of the same kind: the parties' links lead into one room, and the mediator must be there."""
    cases.refuse_if_ended(case, N_("A case in state '{state}' ({state_label}) takes no new rooms."))
    earlier = await live_room(session, case_id=case.id or 0, kind=kind)
    if earlier is not None:
        raise already_live(earlier)
    room = Room(case_id=case.id or 0, kind=kind, auto_admit=auto_admit, created_by=created_by)
    try:
        # A savepoint, so that the request can still read the winner after losing the race.
        async with session.begin_nested():
            session.add(room)
            await session.flush()
    except IntegrityError:
        # Another request opened one between the check and the insert; the partial unique
        # index (migration 0004) refused this one.
        earlier = await live_room(session, case_id=case.id or 0, kind=kind)
        if earlier is None:
            raise  # some other constraint: not ours to explain away
        raise already_live(earlier) from None
    await audit.record(
        session,
        actor=actor,
        action="room.created",
        case_id=case.id,
        data={"room_id": room.id, "kind": kind},
    )
    return room


def already_live(room: Room) -> Conflict:
    """The 409 for a second live room: names the room in the message and in Location."""
    refused = Conflict(
        "This case already has a video room that is {status_label}: room {room_id}."
        " Enter it, or close it before opening another.",
        status_label=STATUS_LABELS[RoomStatus(room.status)],
        room_id=room.id,
    )
    refused.headers["Location"] = f"/rooms/{room.id}"
    return refused


async def live_room(session: AsyncSession, *, case_id: int, kind: str) -> Room | None:
    """The case's scheduled or open room of this kind (there is at most one)."""
    rows = await session.exec(
        select(Room)
        .where(Room.case_id == case_id, Room.kind == kind, col(Room.status).in_(LIVE))
        .order_by(col(Room.id).desc())
        .execution_options(populate_existing=True)
    )
    return rows.first()


async def get_room(session: AsyncSession, room_id: int, *, for_update: bool = False) -> Room:
    """``for_update``: lock the row until the transaction ends (PostgreSQL; SQLite's writer
    holds the whole database), so two transactions cannot both move it from one state."""
    room = await session.get(
        Room, room_id, with_for_update=for_update, populate_existing=for_update
    )
    if room is None:
        raise NotFound("No such room.")
    return room


async def rooms_of_case(session: AsyncSession, *, case_id: int) -> list[Room]:
    rows = await session.exec(select(Room).where(Room.case_id == case_id).order_by(col(Room.id)))
    return list(rows.all())


async def set_status(
    session: AsyncSession,
    *,
    room: Room,
    to: RoomStatus,
    actor: audit.Actor,
    reason: str | None = None,
) -> Room:
    """The room state machine: scheduled -> open -> closed (or scheduled -> closed).
    ``reason``: why, for the audit chain (a room closed for being idle, say)."""
    current = RoomStatus(room.status)
    if to not in ROOM_TRANSITIONS[current]:
        raise InvalidTransition(
            "The room is {state}; it cannot become {to}.", state=current.value, to=to.value
        )
    room.status = to
    if to == RoomStatus.open:
        room.opened_at = now()
    if to == RoomStatus.closed:
        room.closed_at = now()
    session.add(room)
    await session.flush()
    data: dict[str, Any] = {"room_id": room.id, "from": current, "to": to}
    if reason is not None:
        data["reason"] = reason
    await audit.record(
        session, actor=actor, action="room.status_changed", case_id=room.case_id, data=data
    )
    return room


async def close_room(
    session: AsyncSession,
    *,
    room_id: int,
    actor: audit.Actor,
    reason: str,
    participant: str | None = None,
) -> Room:
    """The room's closing on record: its status (and the audit chain) and its own log, with
    ``reason`` ("host": the host closed it; "idle": nobody was in it). Idempotent: a room
    already closed (another close came first) is left as it is. ``participant``: the host
    who closed it, as the room's log names people."""
    # Read again inside the writing transaction, locked: another close may have come first.
    room = await get_room(session, room_id, for_update=True)
    if room.status != RoomStatus.closed:
        await set_status(session, room=room, to=RoomStatus.closed, actor=actor, reason=reason)
        await log_event(
            session, room_id=room_id, kind="close", actor=participant, data={"reason": reason}
        )
    return room


async def log_event(
    session: AsyncSession,
    *,
    room_id: int,
    kind: str,
    participant: str | None = None,
    actor: str | None = None,
    data: dict[str, Any] | None = None,
) -> RoomEvent:
    event = RoomEvent(
        room_id=room_id,
        kind=kind,
        participant=participant,
        actor=actor,
        data=json.dumps(data or {}, ensure_ascii=False, sort_keys=True),
    )
    session.add(event)
    await session.flush()
    return event


async def removed_participants(session: AsyncSession, *, room_id: int) -> set[str]:
    """Whom the host removed from the room and has not admitted again, from its log: a
    ``remove``, or before that event was written a ``leave`` with why "removed", lifted by
    a later ``admit``."""
    rows = await session.exec(
        select(RoomEvent)
        .where(RoomEvent.room_id == room_id, col(RoomEvent.kind).in_(("remove", "admit", "leave")))
        .order_by(col(RoomEvent.id))
    )
    removed: set[str] = set()
    for event in rows:
        if event.participant is None:
            continue
        if event.kind == "admit":
            removed.discard(event.participant)
        elif event.kind == "remove" or json.loads(event.data).get("why") == "removed":
            removed.add(event.participant)
    return removed


async def room_events(session: AsyncSession, *, room_id: int) -> list[RoomEvent]:
    rows = await session.exec(
        select(RoomEvent).where(RoomEvent.room_id == room_id).order_by(col(RoomEvent.id))
    )
    return list(rows.all())


async def record_consent(
    session: AsyncSession,
    *,
    room: Room,
    kind: ConsentKind,
    given: bool,
    party_id: int | None,
    by_user_id: int | None,
    actor: audit.Actor,
) -> Consent:
    """One entry of the consent ledger, also written to the case's audit chain."""
    entry = Consent(
        case_id=room.case_id,
        room_id=room.id or 0,
        party_id=party_id,
        kind=kind,
        given=given,
        by_user_id=by_user_id,
    )
    session.add(entry)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action=f"consent.{kind}",
        case_id=room.case_id,
        data={"room_id": room.id, "party_id": party_id, "given": given},
    )
    return entry


async def consents_of_case(session: AsyncSession, *, case_id: int) -> list[Consent]:
    rows = await session.exec(
        select(Consent).where(Consent.case_id == case_id).order_by(col(Consent.id))
    )
    return list(rows.all())


async def latest_consents(
    session: AsyncSession, *, room_id: int
) -> dict[tuple[int | None, str], bool]:
    """(party, kind) -> the latest answer given in this room."""
    rows = await session.exec(
        select(Consent).where(Consent.room_id == room_id).order_by(col(Consent.id))
    )
    return {(c.party_id, c.kind): c.given for c in rows}


async def start_recording(
    session: AsyncSession, *, room: Room, participant: str, participant_name: str
) -> Recording:
    recording = Recording(
        room_id=room.id or 0, participant=participant, participant_name=participant_name
    )
    session.add(recording)
    await session.flush()
    return recording


async def stop_recording(session: AsyncSession, *, recording_id: int) -> None:
    recording = await session.get(Recording, recording_id)
    if recording is not None and recording.stopped_at is None:
        recording.stopped_at = now()
        session.add(recording)


async def add_segment(
    session: AsyncSession,
    *,
    recording_id: int,
    seq: int,
    sha256: str,
    size: int,
    duration: float,
    media_type: str,
) -> RecordingSegment:
    segment = RecordingSegment(
        recording_id=recording_id,
        seq=seq,
        sha256=sha256,
        size=size,
        duration=duration,
        media_type=media_type,
    )
    session.add(segment)
    await session.flush()
    return segment


class Gap(NamedTuple):
    """A segment of a recording that was lost: ``reason`` "store" (its file could not be
    stored) or "record" (stored, but its row could not be written)."""

    seq: int
    reason: str


class StoredRecording(NamedTuple):
    recording: Recording
    segments: list[RecordingSegment]
    gaps: list[Gap]


async def recording_gaps(
    session: AsyncSession, *, room_id: int
) -> tuple[dict[int, list[Gap]], list[StoredRecording]]:
    """recording id -> its lost segments, from the room's ``segment_failed`` events (the gap
    is an event rather than a row of its own: a segment that could not be written may well
    have failed for a reason that would stop its row too). A gap whose recording has no row
    (the row was never written) is listed under its participant, as a recording with no id
    and nothing but gaps, from the first gap's time to the last's."""
    rows = await session.exec(
        select(RoomEvent)
        .where(RoomEvent.room_id == room_id, RoomEvent.kind == "segment_failed")
        .order_by(col(RoomEvent.id))
    )
    gaps: dict[int, list[Gap]] = {}
    lost: dict[str, StoredRecording] = {}
    for event in rows:
        data = json.loads(event.data)
        gap = Gap(int(data["seq"]), str(data["reason"]))
        if data.get("recording_id") is not None:
            gaps.setdefault(int(data["recording_id"]), []).append(gap)
            continue
        participant = event.participant or ""
        if participant not in lost:
            name = str(data.get("name") or participant)
            row = Recording(room_id=room_id, participant=participant, participant_name=name)
            row.started_at = event.at
            lost[participant] = StoredRecording(row, [], [])
        lost[participant].recording.stopped_at = event.at
        lost[participant].gaps.append(gap)
    return gaps, list(lost.values())


async def recordings_of_room(session: AsyncSession, *, room_id: int) -> list[StoredRecording]:
    recordings = list(
        (
            await session.exec(
                select(Recording).where(Recording.room_id == room_id).order_by(col(Recording.id))
            )
        ).all()
    )
    ids = [r.id for r in recordings]
    segments: dict[int, list[RecordingSegment]] = {i or 0: [] for i in ids}
    if ids:
        rows = await session.exec(
            select(RecordingSegment)
            .where(col(RecordingSegment.recording_id).in_(ids))
            .order_by(col(RecordingSegment.recording_id), col(RecordingSegment.seq))
        )
        for segment in rows:
            segments[segment.recording_id].append(segment)
    gaps, lost = await recording_gaps(session, room_id=room_id)
    kept = [
        StoredRecording(r, segments[r.id or 0], sorted(gaps.get(r.id or 0, []))) for r in recordings
    ]
    return sorted([*kept, *lost], key=lambda stored: stored.recording.started_at)


async def segment_of(
    session: AsyncSession, *, room_id: int, recording_id: int, seq: int
) -> RecordingSegment:
    recording = await session.get(Recording, recording_id)
    if recording is None or recording.room_id != room_id:
        raise NotFound("No such recording.")
    segment = (
        await session.exec(
            select(RecordingSegment).where(
                RecordingSegment.recording_id == recording_id, RecordingSegment.seq == seq
            )
        )
    ).first()
    if segment is None:
        raise NotFound("No such recording.")
    return segment
