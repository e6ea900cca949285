"""The registry of live rooms and the room's lock: a room being closed is not made again by
someone coming in; one room that fails to close does not keep the others open; and nothing
waits for a room's lock while it holds a database transaction (on SQLite, the one writer's
lock, for which the room's own operation may be waiting to commit)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from rooms import recorders, standby
from rooms import service as rooms_service
from rooms.models import Room
from rooms.participant import Identity
from rooms.sfu import RoomRegistry
from tests.rooms.client import Client
from tests.rooms.conftest import Meeting, eventually
from tests.rooms.test_standby import events

WITHIN = 10.0  # far below SQLite's busy timeout (30 s), far above a request on a busy machine


async def test_a_room_being_closed_is_not_made_again_by_someone_coming_in(
    meeting: Meeting, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the room's ending and its closing's commit the record still says open: a
    socket coming in then finds the closed live room (not a new one), and one made after
    from a stale read reads the record under its lock and lets nobody in."""
    await meeting.join("mediator")
    token = await meeting.token_for("applicant")
    registry = app.state.rooms
    async with meeting.factory.uow() as s:
        read_before = await rooms_service.get_room(s, meeting.room_id)

    closing, go_on = asyncio.Event(), asyncio.Event()
    close_room = rooms_service.close_room

    async def paused(session: Any, **kwargs: Any) -> Any:
        closing.set()
        await go_on.wait()
        return await close_room(session, **kwargs)

    monkeypatch.setattr(rooms_service, "close_room", paused)
    close = asyncio.create_task(meeting.api("POST", f"/api/rooms/{meeting.room_id}/close"))
    await asyncio.wait_for(closing.wait(), WITHIN)

    applicant = Client(meeting.signal_url, token)
    meeting.clients.append(applicant)
    await applicant.connect()
    await eventually(lambda: applicant.ws.close_code is not None, what="the socket refused")
    assert [m["reason"] for m in applicant.of_type("closed")] == ["closed"]
    assert applicant.participant_id is None
    live = registry.get(meeting.room_id)
    assert live is not None and live.closed and live.participants == {}

    go_on.set()
    r = await asyncio.wait_for(close, WITHIN)
    assert r.status_code == 200 and r.json()["status"] == "closed"
    assert registry.get(meeting.room_id) is None  # let go once the closing was committed

    party = meeting.world.applicant
    identity = Identity(
        participant_id=f"party-{party.id}",
        name=party.name,
        role=party.role,
        is_host=False,
        party_id=party.id,
    )
    stale = registry.get_or_create(read_before)
    assert await standby.prepare(stale, identity) is None
    assert stale.closed and stale.standbys == []


async def test_a_room_that_fails_to_close_at_shutdown_does_not_keep_the_others_open(
    app: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    registry = RoomRegistry(app.state.rooms.services)
    rooms = [
        registry.get_or_create(
            Room(id=10**9 + n, case_id=1, kind="mediation", auto_admit=False, created_by=1)
        )
        for n in range(3)
    ]

    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a peer would not close")

    monkeypatch.setattr(rooms[0], "close", broken)
    with caplog.at_level(logging.ERROR, logger="mediation.rooms"):
        await registry.close_all()
    assert registry.rooms == {}
    assert [r.closed for r in rooms[1:]] == [True, True]
    [failed] = [r for r in caplog.records if r.getMessage().startswith("closing a room")]
    assert failed.room == rooms[0].room_id and failed.exc_info


async def test_nothing_waits_for_a_busy_room_while_holding_the_database(
    meeting: Meeting, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A room operation holds the room's lock with a write to commit; a join (a socket) and
    a recording request (an HTTP request) wait for the lock meanwhile. Neither holds what the
    operation's commit needs: it commits at once, then both go through."""
    mediator = await meeting.join("mediator")
    token = await meeting.token_for("applicant")
    live = app.state.rooms.get(meeting.room_id)
    waiting: set[str] = set()
    both_wait = asyncio.Event()

    def noted(name: str, real: Any) -> Any:
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            waiting.add(name)
            if len(waiting) == 2:
                both_wait.set()
            return await real(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(live, "join", noted("join", live.join))
    monkeypatch.setattr(recorders, "set_recording", noted("recording", recorders.set_recording))
    busy = asyncio.Event()

    async def operation() -> None:
        async with live.operation() as journal:
            live.event(journal, "mute", participant=mediator.participant_id)
            busy.set()
            await both_wait.wait()

    held = asyncio.create_task(operation())
    await asyncio.wait_for(busy.wait(), WITHIN)
    applicant = Client(meeting.signal_url, token)
    meeting.clients.append(applicant)
    joining = asyncio.create_task(applicant.connect())
    stopping = asyncio.create_task(
        meeting.api("POST", f"/api/rooms/{meeting.room_id}/recording", json={"action": "stop"})
    )

    await asyncio.wait_for(held, WITHIN)  # its write committed, not locked out
    await asyncio.wait_for(joining, WITHIN)
    await eventually(lambda: applicant.participant_id is not None, what="the join", within=WITHIN)
    r = await asyncio.wait_for(stopping, WITHIN)
    assert r.status_code == 200 and r.json() == {"on": False}
    assert ("mute", mediator.participant_id) in await events(meeting)
