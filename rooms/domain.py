"""The rooms domain as the app sees it: its router, pages, tables, hooks and live registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI

from rooms.pages import ACTION_LABELS, case_section, party_landing
from rooms.peers import use_host_addresses
from rooms.router import router
from rooms.sfu import RoomRegistry, RoomServices
from rooms.strings import ROOM_SCRIPT_STRINGS
from service.domain import Domain


async def _start(app: FastAPI) -> None:
    """The live rooms of this process live on the app, not in a module global."""
    settings = app.state.settings
    use_host_addresses(settings.rtc.host_addresses)
    app.state.rooms = RoomRegistry(
        RoomServices(
            sessionmaker=app.state.sessionmaker,
            store=app.state.store,
            ice_servers=settings.rtc.ice_servers,
            video_codec=settings.rtc.video_codec,
            workdir=settings.data_dir / "recording-tmp",
            segment_seconds=settings.rtc.recording_segment_seconds,
        )
    )


async def _stop(app: FastAPI) -> None:
    """Every live room ends: peers, recorders (their last segments are stored), sockets.
    Idempotent: the server runs it before closing sockets and the lifespan again after."""
    rooms: Any = getattr(app.state, "rooms", None)
    if isinstance(rooms, RoomRegistry):
        await rooms.close_all()


def domain() -> Domain:
    return Domain(
        name="rooms",
        router=router,
        templates=Path(__file__).resolve().parent / "templates",
        models=("rooms.models",),
        action_labels=ACTION_LABELS,
        script_strings=tuple(ROOM_SCRIPT_STRINGS),
        case_sections=(case_section,),
        party_landing=party_landing,
        startup=_start,
        shutdown=_stop,
    )
