"""How a live room ends: closed by its host, at shutdown, or because nobody is in it.

``shut`` is the ending itself, the same whoever asks for it. Idle rooms close themselves:

A room that everyone has left would otherwise stay "in progress" for good, and the parties'
links would keep leading into an empty room. Each live room has a timer
(``RtcSettings.room_idle_minutes``), started when the room comes to life in this process and
whenever its last participant leaves, and cancelled when someone joins. When it runs out in
a room that is open and still empty, the room is shut as the host's close does (every
recorder stops and stores its last segment, every socket hears ``closed``), and the closing
is recorded, with reason "idle", in the same operation's one transaction.

A room left open by an earlier process (a restart, a crash) comes to life again at start-up
(rooms/sfu.py, ``RoomRegistry.adopt_open``), so its timer runs from then: the people who
were in it may come back (the room page offers to join again after a restart), and if
nobody does, it closes like any other.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from rooms import recorders, signaling
from rooms import service as rooms_service
from rooms.models import RoomStatus
from rooms.participant import Stage, move
from service import audit
from service.db import unit_of_work

if TYPE_CHECKING:
    from rooms.journal import Journal
    from rooms.live import LiveRoom


async def shut(room: LiveRoom, journal: Journal, reason: str) -> None:
    """Inside one of ``room``'s operations: stop every recorder (its last segment stored, its
    row closed with ``journal``), end every peer and tell every socket ``closed {reason}``.
    Idempotent. The caller cancels the room's tasks once the operation has ended."""
    if room.closed:
        return
    room.closed = True
    room.idle.cancel()
    for pid in list(room.recorders):
        await recorders.stop_recorder(room, journal, pid)
    everyone = [*room.participants.values(), *room.standbys]
    room.participants.clear()
    room.standbys = []
    for p in everyone:
        move(p, Stage.gone)
        if p.answer_timer is not None:
            p.answer_timer.cancel()
        peer, p.peer = p.peer, None
        if peer is not None:
            await peer.close()
        if p.transport is not None:
            transport, p.transport = p.transport, None
            with contextlib.suppress(Exception):  # a socket already gone
                await transport.send_text(signaling.out("closed", reason=reason))
                await transport.close(1000)


class IdleTimer:
    """One room's idle deadline: ``expired`` runs (on the event loop) once ``seconds`` have
    passed since the last ``arm`` without a ``cancel``."""

    def __init__(self, seconds: float, expired: Callable[[], None]) -> None:
        self.seconds = seconds
        self._expired = expired
        self._handle: asyncio.TimerHandle | None = None

    @property
    def armed(self) -> bool:
        return self._handle is not None

    def arm(self) -> None:
        self.cancel()
        self._handle = asyncio.get_running_loop().call_later(self.seconds, self._fire)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        self._handle = None
        self._expired()


async def close_if_idle(room: LiveRoom) -> bool:
    """Close ``room`` if it is still empty and open; returns whether it did. Someone who
    joined while the timer ran out is in ``participants`` by the time the lock is ours. A
    room not yet opened (scheduled) is left alone: it waits for its meeting."""
    async with room.operation() as journal:
        if room.closed or room.participants:
            return False
        async with unit_of_work(room.services.sessionmaker, read_only=True) as session:
            status = (await rooms_service.get_room(session, room.room_id)).status
        if status == RoomStatus.scheduled:
            return False
        # The recorders' last writes first, then the closing, in the operation's one journal.
        await shut(room, journal, "closed")
        if status == RoomStatus.open:
            journal.write(
                lambda session: rooms_service.close_room(
                    session, room_id=room.room_id, actor=audit.SYSTEM, reason="idle"
                )
            )
    room.tasks.cancel_all()
    return True
