"""Notices of a meeting's time, and reminders before it, to each party and the mediator.

When a room's time is set (or moved) everyone of the case is told, with a calendar file;
then reminded ``NotifySettings.reminder_minutes`` before the start (60 and 10 by default).
They go out through the app's notifier (service/notify.py).

Durable: each notice is a room event ("reminder") written, under the room's lock, before
it is handed to the notifier, so a restart never sends one twice (a crash between the two
loses that one rather than repeating it). A reminder missed while the server was down is
sent at start-up if its window is still open: the window of a reminder lasts until the next
one is due, and only the latest due is sent (after an outage, one "starts in 8 minutes",
not also "in an hour"). Each event records that level, the minutes before the start of the
latest reminder due when it went out, so the notice that the time is set also stands for a
reminder already due then (a meeting set for 5 minutes from now gets one notice).

One task per process (``Reminders``), started and stopped by the rooms domain's hooks: it
looks when the next reminder is due, when woken (a time was set), and at least every
``poll_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from rooms import service as rooms_service
from rooms.calendar import meeting_ics
from rooms.models import Room, RoomEvent, RoomStatus
from rooms.schedule import iso, times_set
from service import cases
from service.clock import now
from service.db import unit_of_work
from service.i18n import N_
from service.models import Case, User
from service.notify import Attachment, Notice, Notifier, Recipient, notifier_of
from service.pages import local_time

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger("mediation.rooms.reminders")

SET = N_(
    "Case {number}: a video meeting is set for {time} (Beijing time). Open your case page a"
    " few minutes early to check your camera and microphone."
)
MOVED = N_("Case {number}: the video meeting has moved to {time} (Beijing time).")
REMINDER = N_(
    "Case {number}: the video meeting starts in {minutes} minutes, at {time} (Beijing time)."
)


@dataclass(frozen=True)
class Due:
    """What a room is owed now: ``notice`` "scheduled" (its time was set) or "reminder";
    ``level`` the minutes before the start of the latest reminder due (None: none yet)."""

    notice: str
    level: int | None


def current_level(starts: datetime, minutes: Sequence[int], at: datetime) -> int | None:
    """The latest reminder due at ``at``: the fewest minutes m with ``at >= starts - m``."""
    due = [m for m in minutes if at >= starts - timedelta(minutes=m)]
    return min(due) if due else None


def due(
    starts: datetime, minutes: Sequence[int], sent: Sequence[dict[str, object]], at: datetime
) -> Due | None:
    """What to send now for a meeting at ``starts``, given the events already sent for that
    time (their data). None once the meeting's time has come, or when nothing is owed."""
    if at >= starts:
        return None
    level = current_level(starts, minutes, at)
    if not sent:
        return Due("scheduled", level)
    handled = [int(str(e["level"])) for e in sent if e.get("level") is not None]
    if level is not None and (not handled or level < min(handled)):
        return Due("reminder", level)
    return None


def next_due(starts: datetime, minutes: Sequence[int], at: datetime) -> datetime | None:
    """When the next reminder for a meeting at ``starts`` falls due after ``at``."""
    later = [starts - timedelta(minutes=m) for m in minutes if starts - timedelta(minutes=m) > at]
    return min(later) if later else None


class Reminders:
    """The reminders' task for one app: ``start``, ``wake`` when a time was set, ``stop``."""

    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        notifier: Notifier,
        minutes: Sequence[int],
        poll_seconds: float,
        public_url: str,
        language: str,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.notifier = notifier
        self.minutes = tuple(minutes)
        self.poll_seconds = poll_seconds
        self.public_url = public_url
        self.language = language
        self.passes = 0  # completed looks, for tests that wait for the start-up one
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="rooms.reminders")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        """Idempotent; a look under way is cancelled (its unit of work rolls back, and a
        notice recorded but not yet handed over is the crash case above)."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            wait = self.poll_seconds
            try:
                upcoming = await self.run_once()
            except Exception:
                # Logged, and tried again at the next poll: the database may be back by then.
                log.exception("looking for due reminders failed")
            else:
                if upcoming is not None:
                    wait = min(wait, max(0.0, (upcoming - now()).total_seconds()))
            self.passes += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    async def run_once(self) -> datetime | None:
        """Send what is due now; returns when the next reminder falls due (if known)."""
        at = now()
        async with unit_of_work(self.sessionmaker, read_only=True) as session:
            rooms = list(
                (
                    await session.exec(
                        select(Room).where(
                            Room.status == RoomStatus.scheduled,
                            col(Room.scheduled_for).is_not(None),
                            col(Room.scheduled_for) > at,
                        )
                    )
                ).all()
            )
            sent = await self._sent(session, [r.id or 0 for r in rooms])
        upcoming: list[datetime] = []
        for room in rooms:
            starts = room.scheduled_for
            if starts is None:
                continue
            if due(starts, self.minutes, sent.get((room.id or 0, iso(starts)), []), at):
                await self.send(room.id or 0)
            if (then := next_due(starts, self.minutes, at)) is not None:
                upcoming.append(then)
        return min(upcoming) if upcoming else None

    async def _sent(
        self, session: AsyncSession, room_ids: list[int]
    ) -> dict[tuple[int, str], list[dict[str, object]]]:
        """(room, time) -> the data of the notices sent for that time."""
        found: dict[tuple[int, str], list[dict[str, object]]] = {}
        if not room_ids:
            return found
        rows = await session.exec(
            select(RoomEvent).where(
                col(RoomEvent.room_id).in_(room_ids), RoomEvent.kind == "reminder"
            )
        )
        for event in rows:
            data = json.loads(event.data)
            found.setdefault((event.room_id, str(data.get("for"))), []).append(data)
        return found

    async def send(self, room_id: int) -> int:
        """Decide again under the room's lock, record, then hand over: returns how many
        notices went to the notifier (0 if another look, or another process, was first)."""
        async with unit_of_work(self.sessionmaker) as session:
            room = await rooms_service.get_room(session, room_id, for_update=True)
            starts = room.scheduled_for
            if room.status != RoomStatus.scheduled or starts is None:
                return 0
            at = now()
            sent = (await self._sent(session, [room_id])).get((room_id, iso(starts)), [])
            owed = due(starts, self.minutes, sent, at)
            if owed is None:
                return 0
            moved = owed.notice == "scheduled" and await self._moved(session, room_id, starts)
            notices = await self._notices(session, room, starts, owed, moved=moved, at=at)
            await rooms_service.log_event(
                session,
                room_id=room_id,
                kind="reminder",
                data={
                    "for": iso(starts),
                    "notice": owed.notice,
                    "level": owed.level,
                    "to": sorted({n.recipient.ref for n in notices}),
                },
            )
        deliveries = await self.notifier.notify(notices)
        failed = [d for d in deliveries if not d.ok]
        if failed:
            # What did not go out is on the room's record too, beside what did.
            async with unit_of_work(self.sessionmaker) as session:
                await rooms_service.log_event(
                    session,
                    room_id=room_id,
                    kind="reminder_failed",
                    data={
                        "for": iso(starts),
                        "failed": [
                            {"channel": d.channel, "to": d.recipient, "error": d.error}
                            for d in failed
                        ],
                    },
                )
        return len(notices)

    async def _moved(self, session: AsyncSession, room_id: int, starts: datetime) -> bool:
        """Whether people were already told of another time for this room."""
        told = await self._sent(session, [room_id])
        return any(time != iso(starts) for (_, time) in told)

    async def _notices(
        self,
        session: AsyncSession,
        room: Room,
        starts: datetime,
        owed: Due,
        *,
        moved: bool,
        at: datetime,
    ) -> list[Notice]:
        case = await session.get_one(Case, room.case_id)
        people = [
            (
                Recipient("party", p.id or 0, p.name, phone=p.phone, language=self.language),
                f"{self.public_url}/my-case",
            )
            for p in (await cases.parties_of(session, [case.id or 0]))[case.id or 0]
        ]
        for user_id in dict.fromkeys((case.mediator_id, room.created_by)):
            user = await session.get_one(User, user_id)
            people.append(
                (
                    Recipient("staff", user.id or 0, user.name, language=self.language),
                    f"{self.public_url}/cases/{case.id}",
                )
            )
        params: dict[str, str | int] = {"number": case.number, "time": local_time(starts)}
        if owed.notice == "reminder":
            params["minutes"] = max(1, math.ceil((starts - at).total_seconds() / 60))
            message, topic = REMINDER, "room.reminder"
        else:
            message, topic = (MOVED if moved else SET), "room.scheduled"
        sequence = max(0, await times_set(session, room_id=room.id or 0) - 1)
        notices = []
        for recipient, url in people:
            attachments: tuple[Attachment, ...] = ()
            if owed.notice == "scheduled":
                ics = meeting_ics(
                    room_id=room.id or 0,
                    case_number=case.number,
                    starts=starts,
                    sequence=sequence,
                    page_url=url,
                    public_url=self.public_url,
                    stamp=at,
                    language=recipient.language,
                )
                attachments = (Attachment(f"meeting-{room.id}.ics", "text/calendar", ics),)
            notices.append(
                Notice(
                    recipient=recipient,
                    topic=topic,
                    case_number=case.number,
                    message=message,
                    params=params,
                    url=url,
                    attachments=attachments,
                )
            )
        return notices


def start(app: FastAPI) -> Reminders:
    """The app's reminders' task, started (the rooms domain's start-up hook)."""
    settings = app.state.settings
    reminders = Reminders(
        sessionmaker=app.state.sessionmaker,
        notifier=notifier_of(app),
        minutes=settings.notify.reminder_minutes,
        poll_seconds=settings.notify.poll_seconds,
        public_url=settings.public_url,
        language=settings.default_language,
    )
    app.state.reminders = reminders
    reminders.start()
    return reminders


async def stop(app: FastAPI) -> None:
    reminders = getattr(app.state, "reminders", None)
    if isinstance(reminders, Reminders):
        await reminders.stop()


def wake(app: FastAPI) -> None:
    """A time was set (after the request's commit): look now rather than at the next poll."""
    reminders = getattr(app.state, "reminders", None)
    if isinstance(reminders, Reminders):
        reminders.wake()
