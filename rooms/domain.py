"""The rooms domain as the app sees it: its router, pages, tables, hooks and live registry."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from fastapi import FastAPI

from rooms import news, reminders
from rooms.hosts import HostRule, default_host_rules
from rooms.pages import ACTION_LABELS, case_section, party_landing
from rooms.peers import use_host_addresses
from rooms.router import router
from rooms.sfu import RoomRegistry, RoomServices
from rooms.strings import ROOM_SCRIPT_STRINGS
from service.domain import Domain, Hook


def _starter(host_rules: Mapping[str, HostRule]) -> Hook:
    async def start(app: FastAPI) -> None:
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
                host_rules=host_rules,
                idle_seconds=settings.rtc.room_idle_minutes * 60,
            )
        )
        await app.state.rooms.adopt_open()
        # A saved agreement version reaches the case's meeting (rooms/news.py).
        app.state.rooms_unsubscribe = app.state.hub.subscribe(
            news.AGREEMENT_TOPIC, news.agreement_news(app.state.rooms)
        )
        # Notices of meetings' times and reminders before them; its first look, right away,
        # sends what fell due while the server was down (rooms/reminders.py).
        reminders.start(app)

    return start


async def _stop(app: FastAPI) -> None:
    """Every live room ends: peers, recorders (their last segments are stored), sockets.
    Idempotent: the server runs it before closing sockets and the lifespan again after."""
    await reminders.stop(app)
    unsubscribe = getattr(app.state, "rooms_unsubscribe", None)
    if unsubscribe is not None:
        unsubscribe()
    rooms = getattr(app.state, "rooms", None)
    if isinstance(rooms, RoomRegistry):
        await rooms.close_all()


def domain(host_rules: Mapping[str, HostRule] | None = None) -> Domain:
    """``host_rules``: who hosts each kind of room beyond the mediation rooms (the
    confirmation domain passes the rule for its judges' rooms here)."""
    rules = {**default_host_rules(), **(host_rules or {})}
    return Domain(
        name="rooms",
        router=router,
        templates=Path(__file__).resolve().parent / "templates",
        models=("rooms.models",),
        action_labels=ACTION_LABELS,
        script_strings=tuple(ROOM_SCRIPT_STRINGS),
        case_sections=(case_section,),
        party_landing=party_landing,
        startup=_starter(rules),
        shutdown=_stop,
        signing_evidence=news.signing_evidence,
    )
