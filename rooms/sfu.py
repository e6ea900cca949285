"""The selective forwarding unit of this process: its live rooms, by id.

Media is forwarded, never decoded (rooms/passthrough.py), by one ``LiveRoom`` per open room
(rooms/live.py). The registry lives on the app (``app.state.rooms``), made by the rooms
domain's start-up hook, and ends every room at shutdown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from rooms.hosts import HostRule, default_host_rules
from rooms.live import LiveRoom
from rooms.models import Room
from service.storage import ContentStore


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


class RoomRegistry:
    """The live rooms of this process, by id (a room lives on one media node)."""

    def __init__(self, services: RoomServices) -> None:
        self.services = services
        self.rooms: dict[int, LiveRoom] = {}

    def get_or_create(self, room: Room) -> LiveRoom:
        live = self.rooms.get(room.id or 0)
        if live is None or live.closed:
            live = LiveRoom(room, self.services)
            self.rooms[live.room_id] = live
        return live

    def get(self, room_id: int) -> LiveRoom | None:
        return self.rooms.get(room_id)

    async def close(
        self, room_id: int, reason: str = "closed", *, target: AsyncSession | None = None
    ) -> None:
        """End a live room (``target``: the session of the request that closes it)."""
        live = self.rooms.pop(room_id, None)
        if live is not None:
            await live.close(reason, target=target)

    async def close_all(self) -> None:
        for room_id in list(self.rooms):
            await self.close(room_id, "server_shutdown")


def registry_of(app: Any) -> RoomRegistry:
    """The app's live rooms."""
    registry: RoomRegistry = app.state.rooms
    return registry
