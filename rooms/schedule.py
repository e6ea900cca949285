"""A room's time: when its meeting is set for, and the rules for setting and moving it.

A room opened with a time is ``scheduled`` until its host first joins (rooms/live.py opens
it then, early or late); until then the mediator may move the time. Each setting is a room
event ("scheduled", with the time before and after) and an audit event, so that the record
shows what the parties were told; the notices and reminders follow from the time alone
(rooms/reminders.py).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from rooms import service as rooms_service
from rooms.models import Room, RoomEvent, RoomStatus
from service import audit
from service.clock import now
from service.errors import Invalid, InvalidTransition

# Far enough for any mediation's planning; farther is a typo for a year.
MAX_AHEAD = timedelta(days=365)
FIELD = "scheduled_for"


def check_time(when: datetime) -> datetime:
    """``when`` as an aware time in the future and within ``MAX_AHEAD``, or a 422 naming
    the field. A time without its offset is refused rather than guessed: a browser in
    another zone, or a script in UTC, would otherwise book the wrong hour."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise Invalid(
            "Give the time with its UTC offset, such as 2026-12-05T14:30:00+08:00.", field=FIELD
        )
    current = now()
    if when <= current:
        raise Invalid("This time has passed; choose a time in the future.", field=FIELD)
    if when > current + MAX_AHEAD:
        raise Invalid(
            "A meeting can be set at most {days} days ahead.", field=FIELD, days=MAX_AHEAD.days
        )
    return when


async def set_time(
    session: AsyncSession, *, room: Room, when: datetime, actor: audit.Actor
) -> Room:
    """Set or move the meeting's time: only while the room has not opened (409 naming the
    state once it has, or once it has closed). The room is read again, locked, so that a
    host joining at the same moment cannot open it under a time being moved."""
    when = check_time(when)
    room = await rooms_service.get_room(session, room.id or 0, for_update=True)
    refuse_unless_ahead(room)
    previous = room.scheduled_for
    room.scheduled_for = when.astimezone(UTC).replace(microsecond=0)
    session.add(room)
    await session.flush()
    data = {"for": iso(room.scheduled_for), "previous": iso(previous) if previous else None}
    await rooms_service.log_event(session, room_id=room.id or 0, kind="scheduled", data=data)
    await audit.record(
        session,
        actor=actor,
        action="room.scheduled",
        case_id=room.case_id,
        data={"room_id": room.id, **data},
    )
    return room


def refuse_unless_ahead(room: Room) -> None:
    """409 once the meeting has started or ended: its time is history by then."""
    if room.status == RoomStatus.open:
        raise InvalidTransition("The meeting has already started; its time can no longer change.")
    if room.status == RoomStatus.closed:
        raise InvalidTransition("The meeting has ended; its time can no longer change.")


def iso(when: datetime) -> str:
    """The form times take in the room's log: UTC, to the second (what reminders match)."""
    return when.astimezone(UTC).replace(microsecond=0).isoformat()


def upcoming(room: Room) -> datetime | None:
    """The room's time while it is still ahead and the room has not opened, else None: what
    the pages show as "the meeting is at"."""
    starts = room.scheduled_for
    if room.status == RoomStatus.scheduled and starts is not None and starts > now():
        return starts
    return None


async def times_set(session: AsyncSession, *, room_id: int) -> int:
    """How many times the room's time has been set (a calendar entry's SEQUENCE)."""
    count = await session.exec(
        select(func.count())
        .select_from(RoomEvent)
        .where(RoomEvent.room_id == room_id, col(RoomEvent.kind) == "scheduled")
    )
    return int(count.one())


def event_time(event: RoomEvent) -> str | None:
    """The time a "scheduled" or "reminder" event of the room's log is about."""
    value = json.loads(event.data).get("for")
    return str(value) if value is not None else None
