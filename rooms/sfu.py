"""The selective forwarding unit of this process: its live rooms, by id.

Media is forwarded, never decoded (rooms/passthrough.py), by one ``LiveRoom`` per open room
(rooms/live.py). The registry lives on the app (``app.state.rooms``), made by the rooms
domain's start-up hook, which also brings back the rooms an earlier process left open
(``adopt_open``), and ends every room at shutdown. It closes a room whose idle timer runs
out (rooms/ending.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from rooms import ending
from rooms.hosts import HostRule, default_host_rules
from rooms.live import LiveRoom
from rooms.models import Room, RoomStatus
from service.db import unit_of_work
from service.storage import ContentStore

log = logging.getLogger("mediation.rooms")


@dataclass
class RoomServices:
    """What the live rooms need from the app."""

    sessionmaker: async_sessionmaker[AsyncSession]
    store: ContentStore
    ice_servers: list[dict[str, Any]]
    video_codec: str
    workdir: Path  # recording segments are written here before they are stored
    segment_seconds: float
    # room kind -> who hosts its rooms (rooms/hosts.py); a kind without one has no host
    host_rules: Mapping[str, HostRule] = field(default_factory=default_host_rules)
    # nobody in an open room for this long closes it (RtcSettings.room_idle_minutes)
    idle_seconds: float = 30 * 60.0


class RoomRegistry:
    """The live rooms of this process, by id (a room lives on one media node)."""

    def __init__(self, services: RoomServices) -> None:
        self.services = services
        self.rooms: dict[int, LiveRoom] = {}
        self._closing: set[asyncio.Task[None]] = set()  # idle rooms being closed

    def get_or_create(self, room: Room) -> LiveRoom:
        """The room's live room; a new one starts its idle timer: nobody is in it yet. A
        closed one stays here until its closing is on record (``close``), refusing whoever
        comes: a page or a socket that read the room as open meanwhile must not bring it
        back to life. (One made after that reads the record first: LiveRoom.load.)"""
        live = self.rooms.get(room.id or 0)
        if live is None:
            live = LiveRoom(room, self.services, on_idle=self._idle)
            self.rooms[live.room_id] = live
            live.idle.arm()
        return live

    def get(self, room_id: int) -> LiveRoom | None:
        return self.rooms.get(room_id)

    async def close(
        self, room_id: int, reason: str = "closed", *, target: AsyncSession | None = None
    ) -> None:
        """End a live room (``target``: the session of the request that closes it, and
        writes the closing; the closed live room is let go once that transaction ends)."""
        live = self.rooms.get(room_id)
        if live is None:
            return
        if target is None:
            self._forget(live)
            await live.close(reason)
            return
        try:
            await live.close(reason, target=target)
        except BaseException:
            self._forget(live)
            raise

        def ended(_session: Any, transaction: Any) -> None:
            if transaction.parent is None:  # (not a savepoint)
                self._forget(live)

        event.listen(target.sync_session, "after_transaction_end", ended)

    def _forget(self, live: LiveRoom) -> None:
        if self.rooms.get(live.room_id) is live:
            del self.rooms[live.room_id]

    async def close_all(self) -> None:
        for room_id in list(self.rooms):
            try:
                await self.close(room_id, "server_shutdown")
            except Exception:  # the others are still closed: their recordings end cleanly
                log.exception("closing a room at shutdown failed", extra={"room": room_id})
        # An idle close under way finishes (its transaction is not cut off half-way).
        await asyncio.gather(*self._closing, return_exceptions=True)

    async def adopt_open(self) -> list[int]:
        """At start-up: a room the database says is open has no live room in this process
        (the last one ended, or crashed, while people were in it). Nobody can be in it now,
        but they may come back (the page offers to join again after a restart), so it comes
        to life with its idle timer running from now, and closes if nobody does. Returns the
        rooms' ids."""
        async with unit_of_work(self.services.sessionmaker, read_only=True) as session:
            rows = await session.exec(select(Room).where(Room.status == RoomStatus.open))
            rooms = list(rows.all())
        for room in rooms:
            self.get_or_create(room)
        return [room.id or 0 for room in rooms]

    def _idle(self, live: LiveRoom) -> None:
        """``live``'s idle timer ran out: close it (if still empty) in a task of its own."""
        task = asyncio.ensure_future(self._close_idle(live))
        self._closing.add(task)
        task.add_done_callback(self._closed_idle)

    async def _close_idle(self, live: LiveRoom) -> None:
        try:
            if await ending.close_if_idle(live):
                log.info("room closed: nobody in it", extra={"room": live.room_id})
        finally:
            if live.closed and self.rooms.get(live.room_id) is live:
                del self.rooms[live.room_id]

    def _closed_idle(self, task: asyncio.Task[None]) -> None:
        self._closing.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            # The room stays open on record; the next start-up, or the next person to open
            # its page, gives it a new timer.
            log.error("closing an idle room failed", exc_info=exc)


def registry_of(app: Any) -> RoomRegistry:
    """The app's live rooms."""
    registry: RoomRegistry = app.state.rooms
    return registry
