"""One meeting per case at a time, and idle rooms closing themselves.

A case has at most one live (scheduled or open) room of a kind: a second is refused with 409
naming the first, also when two requests race (the partial unique index of migration 0004
decides). The case pages lead into the live room instead of offering another. A room that
nobody is in closes itself after ``RtcSettings.room_idle_minutes``, shortened here to
``IDLE`` seconds, with its closing on record (reason "idle"); after that the parties' links
lead to the case page again, and the mediator may start a new session.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from rooms import service as rooms_service
from rooms.models import Room, RoomKind, RoomStatus
from service import audit
from service.app import create_app
from service.db import make_engine
from service.errors import Conflict
from service.migrate import alembic_config, upgrade
from service.models import AuditEvent
from service.settings import RtcSettings, Settings
from tests.conftest import (
    LOOPBACK_ONLY,
    Database,
    Databases,
    Factory,
    Made,
    Server,
    make_settings,
    serving,
)
from tests.rooms.conftest import Meeting, eventually, muxed
from tests.rooms.test_media import flowing

IDLE = 1.5  # seconds: the idle time of the app under test here


# -- helpers --------------------------------------------------------------------------------


async def new_room(client: httpx.AsyncClient, headers: dict[str, str], case_id: int) -> Any:
    return await client.post(f"/api/cases/{case_id}/rooms", json={}, headers=headers)


async def status_of(factory: Factory, room_id: int) -> str:
    async with factory.uow() as s:
        return (await rooms_service.get_room(s, room_id)).status


async def live_rooms(factory: Factory, case_id: int) -> list[Room]:
    async with factory.uow() as s:
        rooms = await rooms_service.rooms_of_case(s, case_id=case_id)
    return [r for r in rooms if r.status in rooms_service.LIVE]


async def closed(factory: Factory, room_id: int) -> bool:
    return await status_of(factory, room_id) == RoomStatus.closed


async def room_audit(factory: Factory, case_id: int, room_id: int) -> list[AuditEvent]:
    async with factory.uow() as s:
        rows = await s.exec(
            select(AuditEvent).where(AuditEvent.case_id == case_id).order_by(col(AuditEvent.seq))
        )
    return [e for e in rows if json.loads(e.data).get("room_id") == room_id]


async def landing(base_url: str, token: str) -> str:
    """Where a party's join link leads (the first redirect)."""
    async with httpx.AsyncClient(base_url=base_url, trust_env=False) as http:
        r = await http.get(f"/join/{token}", follow_redirects=False)
    assert r.status_code == 303, r.text
    return r.headers["location"]


async def page_of(base_url: str, path: str, *, join: str | None = None, login: Any = None) -> str:
    """A page as a person sees it: a party through their join link, staff signed in."""
    async with httpx.AsyncClient(base_url=base_url, trust_env=False) as http:
        if join is not None:
            await http.get(f"/join/{join}", follow_redirects=False)
        if login is not None:
            r = await http.post("/api/auth/login", json=login)
            assert r.status_code == 200, r.text
        r = await http.get(path)
    assert r.status_code == 200, r.text
    return r.text


# -- one meeting per case -------------------------------------------------------------------


async def test_a_second_room_is_refused_while_one_is_live(
    client: httpx.AsyncClient, factory: Factory, world: Made
) -> None:
    """409 naming the live room (its number and state, and Location), whether it is still
    scheduled or on; once it is closed, a new session may start."""
    headers = await factory.login(client, world.mediator)
    first = await new_room(client, headers, world.case.id or 0)
    assert first.status_code == 201, first.text
    room_id = first.json()["id"]

    again = await new_room(client, headers, world.case.id or 0)
    assert again.status_code == 409, again.text
    assert again.headers["location"] == f"/rooms/{room_id}"
    detail = again.json()["detail"]
    assert f"{room_id} 号" in detail and "尚未开始" in detail, detail

    async with factory.uow() as s:
        room = await rooms_service.get_room(s, room_id)
        await rooms_service.set_status(s, room=room, to=RoomStatus.open, actor=audit.CLI)
    again = await new_room(client, headers, world.case.id or 0)
    assert again.status_code == 409, again.text
    assert "进行中" in again.json()["detail"]

    closed = await client.post(f"/api/rooms/{room_id}/close", headers=headers)
    assert closed.status_code == 200, closed.text
    second = await new_room(client, headers, world.case.id or 0)
    assert second.status_code == 201, second.text
    assert [r.id for r in await live_rooms(factory, world.case.id or 0)] == [second.json()["id"]]


async def test_two_concurrent_creates_make_one_room(
    client: httpx.AsyncClient, factory: Factory, world: Made
) -> None:
    headers = await factory.login(client, world.mediator)
    answers = await asyncio.gather(
        *(new_room(client, headers, world.case.id or 0) for _ in range(2))
    )
    assert sorted(r.status_code for r in answers) == [201, 409], [r.text for r in answers]
    made = next(r for r in answers if r.status_code == 201).json()["id"]
    refused = next(r for r in answers if r.status_code == 409)
    assert refused.headers["location"] == f"/rooms/{made}"
    assert [r.id for r in await live_rooms(factory, world.case.id or 0)] == [made]


async def test_the_index_decides_a_race_the_check_cannot_see(
    factory: Factory, world: Made, database: Database
) -> None:
    """Two transactions both past the service's check: the second insert waits for the first
    transaction (PostgreSQL; SQLite's writer lock makes the second wait at its start), then
    is refused by the partial unique index, and the 409 names the room that won."""

    async def create(s: Any) -> Room:
        return await rooms_service.create_room(
            s,
            case=world.case,
            kind=RoomKind.mediation,
            auto_admit=False,
            created_by=world.mediator.id or 0,
            actor=audit.SYSTEM,
        )

    async def second() -> Room:
        async with factory.uow() as s:
            return await create(s)

    async def waiting_on_a_lock() -> bool:
        async with factory.uow() as s:
            waiting = await s.exec(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
            return bool(waiting.scalar_one())

    async with factory.uow() as s:
        won = await create(s)
        racing = asyncio.create_task(second())
        if database.kind == "postgresql":
            await eventually(waiting_on_a_lock, what="the second insert waiting on the first")
    with pytest.raises(Conflict) as refused:
        await racing
    assert refused.value.headers["Location"] == f"/rooms/{won.id}"
    assert refused.value.params["room_id"] == won.id
    assert [r.id for r in await live_rooms(factory, world.case.id or 0)] == [won.id]


async def test_case_pages_lead_into_the_live_room(
    app: Any, factory: Factory, world: Made, server: Server
) -> None:
    """The mediator's case page offers to enter the meeting, not to open another; the
    parties' page says it has not started, then leads in; once it has ended, the mediator
    may start a new session and the parties read that none is on."""
    login = {"username": world.mediator.username, "password": "correct horse battery"}
    case_path = f"/cases/{world.case.id}"
    token = await factory.invite(world.mediator, world.case, world.applicant)

    page = await page_of(server.base_url, case_path, login=login)
    assert 'data-testid="open-room"' in page and 'data-testid="enter-room"' not in page
    assert "开设视频调解室" in page
    assert 'data-testid="party-meeting"' not in await page_of(
        server.base_url, "/my-case", join=token
    )

    async with factory.uow() as s:
        room = await rooms_service.create_room(
            s,
            case=world.case,
            kind=RoomKind.mediation,
            auto_admit=False,
            created_by=world.mediator.id or 0,
            actor=audit.SYSTEM,
        )
    page = await page_of(server.base_url, case_path, login=login)
    assert 'data-testid="open-room"' not in page
    assert re.search(rf'href="/rooms/{room.id}" data-testid="enter-room">进入视频调解室<', page)
    assert "尚未开始" in page
    party = await page_of(server.base_url, "/my-case", join=token)
    assert "调解员已安排视频会议，会议尚未开始。" in party
    assert f'href="/rooms/{room.id}" data-testid="join-room"' in party

    async with factory.uow() as s:
        await rooms_service.set_status(s, room=room, to=RoomStatus.open, actor=audit.CLI)
    page = await page_of(server.base_url, case_path, login=login)
    assert "视频会议正在进行。" in page and 'data-testid="enter-room"' in page
    assert await landing(server.base_url, token) == f"/rooms/{room.id}"

    async with factory.uow() as s:
        await rooms_service.close_room(s, room_id=room.id or 0, actor=audit.CLI, reason="host")
    page = await page_of(server.base_url, case_path, login=login)
    assert 'data-testid="enter-room"' not in page
    assert re.search(r'data-testid="open-room">开始新一次调解<', page)
    assert await landing(server.base_url, token) == "/my-case"
    party = await page_of(server.base_url, "/my-case", join=token)
    assert "目前没有正在进行的视频会议" in party and 'data-testid="join-room"' not in party


# -- idle rooms -----------------------------------------------------------------------------


@dataclass
class Quick:
    """An app of its own whose rooms close after ``IDLE`` seconds with nobody in them."""

    app: Any
    server: Server


@pytest.fixture
async def quick(
    database: Database, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Quick]:
    """``IDLE``, or (indirect parametrisation) another idle time in seconds."""
    seconds = getattr(request, "param", IDLE)
    rtc = RtcSettings(host_addresses=LOOPBACK_ONLY, room_idle_minutes=seconds / 60)
    application = create_app(make_settings(database.url, tmp_path / "data", rtc=rtc))
    async with serving(application, lifespan="on") as running:
        yield Quick(application, running.server)


@pytest.fixture
async def meeting_q(factory: Factory, world: Made, quick: Quick) -> AsyncIterator[Meeting]:
    made = Meeting(world, 0, quick.server, factory, [])
    r = await made.api("POST", f"/api/cases/{world.case.id}/rooms", json={"kind": "mediation"})
    assert r.status_code == 201, r.text
    made.room_id = r.json()["id"]
    yield made
    for client in made.clients:
        await client.close()


def test_the_idle_time_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().rtc.room_idle_minutes == 30
    monkeypatch.setenv("MEDIATION_RTC__ROOM_IDLE_MINUTES", "5")
    assert Settings().rtc.room_idle_minutes == 5
    monkeypatch.setenv("MEDIATION_RTC__ROOM_IDLE_MINUTES", "0")
    with pytest.raises(ValueError, match="room_idle_minutes"):
        Settings()


async def test_an_empty_room_closes_itself_with_its_recordings_finished(
    meeting_q: Meeting, quick: Quick, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Everyone leaves a recorded meeting: IDLE seconds later the room is closed, with a room
    event and an audit event saying "idle", every recording ended with its segments stored,
    and the party's link leads to the case page."""
    meeting = meeting_q
    world = meeting.world
    mediator = await meeting.join("mediator")
    applicant = await meeting.join("applicant")
    await mediator.send(type="admit", participant_id=applicant.participant_id)
    assert applicant.participant_id is not None
    await flowing(mediator, applicant.participant_id, "video")
    await eventually(
        lambda: any(
            p["consents"]["recording"]
            for m in mediator.of_type("participants")
            for p in m["participants"]
            if p["id"] == applicant.participant_id
        ),
        what="the applicant's consent to recording",
    )
    r = await meeting.api(
        "POST", f"/api/rooms/{meeting.room_id}/recording", json={"action": "start"}
    )
    assert r.status_code == 200, r.text
    live = quick.app.state.rooms.get(meeting.room_id)
    await muxed(monkeypatch, [a.recorder for a in live.recorders.values()], packets=20)
    token = await meeting.factory.invite(world.mediator, world.case, world.applicant)
    assert await landing(quick.server.base_url, token) == f"/rooms/{meeting.room_id}"

    await applicant.close()

    def left() -> bool:  # the server is done with the applicant's leaving
        rosters = mediator.of_type("participants")
        return all(p["id"] != applicant.participant_id for p in rosters[-1]["participants"])

    await eventually(left, what="the mediator's list without the applicant")
    assert not live.idle.armed  # the mediator is still there
    await mediator.close()
    await eventually(lambda: live.idle.armed, what="the idle timer started as the last left")
    await eventually(
        lambda: closed(meeting.factory, meeting.room_id),
        what="the idle room closed",
        within=IDLE + 15,
    )

    assert quick.app.state.rooms.get(meeting.room_id) is None
    async with meeting.factory.uow() as s:
        events = await rooms_service.room_events(s, room_id=meeting.room_id)
        recordings = await rooms_service.recordings_of_room(s, room_id=meeting.room_id)
    closes = [e for e in events if e.kind == "close"]
    assert [json.loads(e.data) for e in closes] == [{"reason": "idle"}]
    assert closes[0].actor is None
    changes = [
        json.loads(e.data)
        for e in await room_audit(meeting.factory, world.case.id or 0, meeting.room_id)
        if e.action == "room.status_changed"
    ]
    assert changes[-1] == {
        "room_id": meeting.room_id,
        "from": "open",
        "to": "closed",
        "reason": "idle",
    }
    assert len(recordings) == 2
    for rec, segments, gaps in recordings:
        assert rec.stopped_at is not None and segments and not gaps, (rec, segments, gaps)

    assert await landing(quick.server.base_url, token) == "/my-case"
    # The mediator starts a new session of the case.
    r = await meeting.api("POST", f"/api/cases/{world.case.id}/rooms", json={})
    assert r.status_code == 201, r.text
    meeting.room_id = r.json()["id"]


@pytest.mark.parametrize("quick", [600.0], indirect=True)
async def test_someone_joining_stops_the_idle_timer(meeting_q: Meeting, quick: Quick) -> None:
    """(An idle time the test cannot outlast: the join must come before the timer runs out.)"""
    meeting = meeting_q
    mediator = await meeting.join("mediator")
    live = quick.app.state.rooms.get(meeting.room_id)
    assert not live.idle.armed
    await mediator.close()
    await eventually(lambda: live.idle.armed, what="the idle timer started")
    await meeting.join("mediator")
    assert not live.idle.armed
    assert await status_of(meeting.factory, meeting.room_id) == "open"


async def test_rooms_left_open_by_an_earlier_process_close_when_nobody_returns(
    factory: Factory, world: Made, database: Database, tmp_path: Path
) -> None:
    """A room the database says is open, with no live room (the process that had it is
    gone), closes IDLE seconds after start-up; a room not yet opened stays scheduled even
    after its page (and so its live room) was opened and its timer ran out."""
    other, _parties = await factory.case(world.mediator)
    async with factory.uow() as s:
        left = await rooms_service.create_room(
            s,
            case=world.case,
            kind=RoomKind.mediation,
            auto_admit=False,
            created_by=world.mediator.id or 0,
            actor=audit.SYSTEM,
        )
        await rooms_service.set_status(s, room=left, to=RoomStatus.open, actor=audit.SYSTEM)
        waiting = await rooms_service.create_room(
            s,
            case=other,
            kind=RoomKind.mediation,
            auto_admit=False,
            created_by=world.mediator.id or 0,
            actor=audit.SYSTEM,
        )

    rtc = RtcSettings(host_addresses=LOOPBACK_ONLY, room_idle_minutes=IDLE / 60)
    application = create_app(make_settings(database.url, tmp_path / "data", rtc=rtc))
    async with serving(application, lifespan="on") as running:
        registry = application.state.rooms
        adopted = registry.get(left.id)
        assert adopted is not None and adopted.idle.armed

        login = {"username": world.mediator.username, "password": "correct horse battery"}
        page = await page_of(running.server.base_url, f"/rooms/{waiting.id}", login=login)
        assert 'data-testid="prejoin"' in page
        scheduled = registry.get(waiting.id)
        assert scheduled is not None and scheduled.idle.armed

        await eventually(
            lambda: closed(factory, left.id or 0),
            what="the abandoned room closed",
            within=IDLE + 15,
        )
        await eventually(
            lambda: not scheduled.idle.armed and not registry._closing,
            what="the scheduled room's timer ran out and was dealt with",
            within=IDLE + 15,
        )
        assert await status_of(factory, waiting.id or 0) == "scheduled"
        assert registry.get(waiting.id) is scheduled and not scheduled.closed

    async with factory.uow() as s:
        events = await rooms_service.room_events(s, room_id=left.id or 0)
    assert [json.loads(e.data) for e in events if e.kind == "close"] == [{"reason": "idle"}]
    changes = [
        json.loads(e.data)["reason"]
        for e in await room_audit(factory, world.case.id or 0, left.id or 0)
        if e.action == "room.status_changed" and json.loads(e.data)["to"] == "closed"
    ]
    assert changes == ["idle"]


# -- the migration --------------------------------------------------------------------------


async def test_migration_0004_closes_all_but_the_newest_of_duplicate_live_rooms(
    databases: Databases, tmp_path: Path
) -> None:
    """A database from before 0004 may hold two live rooms of one case (the bug): the
    upgrade keeps the newest, closes the others with a room event saying why, and from then
    on the index refuses a second."""
    db = await databases.new()
    await asyncio.to_thread(upgrade, db.url)
    application = create_app(make_settings(db.url, tmp_path / "data"))
    async with application.router.lifespan_context(application):
        made = await Factory(application).world()
    await asyncio.to_thread(command.downgrade, alembic_config(db.url), "0003")

    engine = make_engine(db.url)
    try:
        async with engine.begin() as conn:
            for status in ("open", "scheduled", "closed", "open"):
                await conn.execute(
                    text(
                        "INSERT INTO room (case_id, kind, status, auto_admit, created_by,"
                        " created_at) VALUES (:case, 'mediation', :status, false, :by,"
                        " CURRENT_TIMESTAMP)"
                    ),
                    {"case": made.case.id, "status": status, "by": made.mediator.id},
                )
        await asyncio.to_thread(upgrade, db.url, "0004")
        async with engine.begin() as conn:
            rows = (await conn.execute(text("SELECT id, status FROM room ORDER BY id"))).all()
            events = (await conn.execute(text("SELECT room_id, kind, data FROM room_event"))).all()
        ids = [r[0] for r in rows]
        assert [r[1] for r in rows] == ["closed", "closed", "closed", "open"]
        assert sorted((e[0], e[1], json.loads(e[2])) for e in events) == [
            (ids[0], "close", {"reason": "superseded"}),
            (ids[1], "close", {"reason": "superseded"}),
        ]
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(
                    text(
                        "INSERT INTO room (case_id, kind, status, auto_admit, created_by,"
                        " created_at) VALUES (:case, 'mediation', 'scheduled', false, :by,"
                        " CURRENT_TIMESTAMP)"
                    ),
                    {"case": made.case.id, "by": made.mediator.id},
                )
    finally:
        await engine.dispose()
