"""The room page while the room is busy: GET /rooms/{id} waits for the room's lock (it prepares
the standby connection's offer under it) and must hold nothing the room's operations wait for.

bench/stall.py found the stalled page loads of bench/README.md this way: the page's request
read in a transaction that on SQLite holds the one writer's lock (BEGIN IMMEDIATE) and then
waited for the room, while a room operation (a leave, a consent, a join) held the room's lock
and waited for the writer's lock to commit its events. Neither gave way until SQLite's busy
timeout (30 s) failed the operation: the page came after 30 s and the operation's writes
were lost.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from rooms import standby
from tests.rooms.conftest import Meeting
from tests.rooms.test_standby import auto_admit_room, events, open_page

# Far below SQLite's busy timeout (30 s), far above a page on a busy machine.
WITHIN = 10.0


async def test_the_room_page_waits_for_a_busy_room_without_holding_the_database(
    meeting: Meeting, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    await auto_admit_room(meeting)
    mediator = await meeting.join("mediator")
    token = await meeting.token_for("applicant")
    live = app.state.rooms.get(meeting.room_id)

    # The page has read what it shows and is about to wait for the room's lock.
    page_waits = asyncio.Event()
    prepare = standby.prepare

    async def noted(room: Any, identity: Any) -> Any:
        page_waits.set()
        return await prepare(room, identity)

    monkeypatch.setattr(standby, "prepare", noted)

    # A room operation with a write to commit, holding the room until the page waits.
    busy = asyncio.Event()

    async def operation() -> None:
        async with live.operation() as journal:
            live.event(journal, "leave", participant=mediator.participant_id)
            busy.set()
            await page_waits.wait()

    held = asyncio.create_task(operation())
    await asyncio.wait_for(busy.wait(), WITHIN)
    page = asyncio.create_task(open_page(meeting, token))

    await asyncio.wait_for(held, WITHIN)  # its write committed, not locked out
    prepared = await asyncio.wait_for(page, WITHIN)
    assert prepared is not None and prepared["sdp"].startswith("v=0")
    assert ("leave", mediator.participant_id) in await events(meeting)
