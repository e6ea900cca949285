"""Scheduled meetings over the API and on the pages: a time set when a room is opened or
moved while it waits (422 for a time past, too far ahead or without its offset; 409 once
the meeting has started or ended; 403 and 404 for those who may not), the .ics every party
and the mediator can download, and the time shown in Beijing time on the case pages and
above the room page's device check."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from icalendar import Calendar

from rooms import service as rooms_service
from rooms.models import Room, RoomEvent, RoomStatus
from service import audit
from service.clock import now
from service.models import AuditEvent
from tests.conftest import Factory, Made
from tests.test_authz import bearer, staff_session

CHINA = ZoneInfo("Asia/Shanghai")


def ahead(**delta: float) -> datetime:
    """A time ahead of now, to the minute, in Beijing time (as the page sends it)."""
    return (now() + timedelta(**delta)).astimezone(CHINA).replace(second=0, microsecond=0)


async def mediator_headers(factory: Factory, world: Made) -> dict[str, str]:
    return bearer(await staff_session(factory, world.mediator))


async def party_headers(
    client: httpx.AsyncClient, factory: Factory, world: Made, which: str = "applicant"
) -> tuple[dict[str, str], str]:
    """A party's bearer headers, and the join token they came from (a credential that no
    calendar file may carry)."""
    party = world.applicant if which == "applicant" else world.respondent
    token = await factory.invite(world.mediator, world.case, party)
    headers = await factory.party_headers(client, token)
    client.cookies.clear()
    return headers, token


async def open_room(
    client: httpx.AsyncClient, world: Made, headers: dict[str, str], **body: Any
) -> httpx.Response:
    return await client.post(
        f"/api/cases/{world.case.id}/rooms", json={"kind": "mediation", **body}, headers=headers
    )


async def rows(factory: Factory, world: Made, room_id: int) -> tuple[Room, list[RoomEvent]]:
    async with factory.uow() as s:
        room = await rooms_service.get_room(s, room_id)
        return room, await rooms_service.room_events(s, room_id=room_id)


async def audit_actions(factory: Factory, world: Made) -> list[tuple[str, dict[str, Any]]]:
    from sqlmodel import col, select

    async with factory.uow() as s:
        found = await s.exec(
            select(AuditEvent)
            .where(AuditEvent.case_id == world.case.id)
            .order_by(col(AuditEvent.seq))
        )
        return [(e.action, json.loads(e.data)) for e in found]


async def set_status(factory: Factory, room_id: int, to: RoomStatus) -> None:
    async with factory.uow() as s:
        room = await rooms_service.get_room(s, room_id, for_update=True)
        await rooms_service.set_status(s, room=room, to=to, actor=audit.SYSTEM)


# -- opening with a time ------------------------------------------------------------------


async def test_a_room_opened_with_a_time_waits_for_it(
    client: httpx.AsyncClient, factory: Factory, world: Made
) -> None:
    headers = await mediator_headers(factory, world)
    when = ahead(days=2)
    r = await open_room(client, world, headers, scheduled_for=when.isoformat())
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["status"] == "scheduled"
    assert datetime.fromisoformat(out["scheduled_for"]) == when
    room, events = await rows(factory, world, out["id"])
    assert room.scheduled_for == when.astimezone(UTC)
    assert [(e.kind, json.loads(e.data)) for e in events] == [
        ("scheduled", {"for": when.astimezone(UTC).isoformat(), "previous": None})
    ]
    assert (
        "room.scheduled",
        {"room_id": out["id"], "for": when.astimezone(UTC).isoformat(), "previous": None},
    ) in await audit_actions(factory, world)
    # GET says the same.
    got = await client.get(f"/api/rooms/{out['id']}", headers=headers)
    assert datetime.fromisoformat(got.json()["scheduled_for"]) == when


async def test_a_room_opened_without_a_time_has_none(
    client: httpx.AsyncClient, factory: Factory, world: Made
) -> None:
    r = await open_room(client, world, await mediator_headers(factory, world))
    assert r.status_code == 201, r.text
    assert r.json()["scheduled_for"] is None


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("past", "passed"),
        ("far", "365 days"),
        ("naive", "UTC offset"),
        ("date only", "UTC offset"),
        ("number", None),
        ("garbage", None),
    ],
)
async def test_a_bad_time_is_refused_and_nothing_is_written(
    client: httpx.AsyncClient, factory: Factory, world: Made, value: str, words: str | None
) -> None:
    sent: object = {
        "past": (now() - timedelta(minutes=1)).isoformat(),
        "far": ahead(days=366).isoformat(),
        "naive": ahead(days=1).replace(tzinfo=None).isoformat(),
        "date only": ahead(days=1).date().isoformat(),
        "number": int(ahead(days=1).timestamp()),
        "garbage": "next tuesday",
    }[value]
    headers = await mediator_headers(factory, world)
    r = await client.post(
        f"/api/cases/{world.case.id}/rooms?lang=en",
        json={"kind": "mediation", "scheduled_for": sent},
        headers=headers,
    )
    client.cookies.clear()
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail[0]["loc"][-1] == "scheduled_for"
    if words:
        assert words in detail[0]["msg"]
    listed = await client.get(f"/api/cases/{world.case.id}/rooms", headers=headers)
    assert listed.json() == []
    assert not [a for a, _ in await audit_actions(factory, world) if a.startswith("room.")]


async def test_the_refusal_is_in_chinese_by_default(
    client: httpx.AsyncClient, factory: Factory, world: Made
) -> None:
    r = await open_room(
        client,
        world,
        await mediator_headers(factory, world),
        scheduled_for=(now() - timedelta(hours=1)).isoformat(),
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["msg"] == "该时间已经过去，请选择将来的时间。"


# -- moving the time ------------------------------------------------------------------------


async def test_the_mediator_moves_the_time_while_the_room_waits(
    client: httpx.AsyncClient, factory: Factory, world: Made
) -> None:
    headers = await mediator_headers(factory, world)
    first, second = ahead(days=1), ahead(days=3, hours=2)
    room_id = (await open_room(client, world, headers, scheduled_for=first.isoformat())).json()[
        "id"
    ]
    r = await client.put(
        f"/api/rooms/{room_id}/schedule",
        json={"scheduled_for": second.isoformat()},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    assert datetime.fromisoformat(r.json()["scheduled_for"]) == second
    room, events = await rows(factory, world, room_id)
    assert room.scheduled_for == second and room.status == RoomStatus.scheduled
    assert [json.loads(e.data) for e in events if e.kind == "scheduled"][-1] == {
        "for": second.astimezone(UTC).isoformat(),
        "previous": first.astimezone(UTC).isoformat(),
    }
    # A room opened without a time may be given one.
    await set_status(factory, room_id, RoomStatus.closed)
    plain = (await open_room(client, world, headers)).json()["id"]
    r = await client.put(
        f"/api/rooms/{plain}/schedule", json={"scheduled_for": first.isoformat()}, headers=headers
    )
    assert r.status_code == 200, r.text


async def test_moving_the_time_is_refused_to_others_and_once_it_has_started(
    client: httpx.AsyncClient, factory: Factory, world: Made
) -> None:
    headers = await mediator_headers(factory, world)
    room_id = (
        await open_room(client, world, headers, scheduled_for=ahead(days=1).isoformat())
    ).json()["id"]
    body = {"scheduled_for": ahead(days=2).isoformat()}
    party, _ = await party_headers(client, factory, world)
    outsider_org = await factory.committee()
    from service.models import Role

    outsider = await factory.user(Role.mediator, outsider_org)
    callers = {
        "party": party,
        "judge": bearer(await staff_session(factory, world.judge)),
        "other committee's mediator": bearer(await staff_session(factory, outsider)),
        "nobody": {},
    }
    got = {
        who: (await client.put(f"/api/rooms/{room_id}/schedule", json=body, headers=h)).status_code
        for who, h in callers.items()
    }
    assert got == {
        "party": 403,
        "judge": 403,
        "other committee's mediator": 404,
        "nobody": 401,
    }
    missing = await client.put("/api/rooms/999999/schedule", json=body, headers=headers)
    assert missing.status_code == 404
    # Bad input for a room that exists: 422, the time unchanged.
    past = {"scheduled_for": (now() - timedelta(minutes=5)).isoformat()}
    assert (
        await client.put(f"/api/rooms/{room_id}/schedule", json=past, headers=headers)
    ).status_code == 422
    extra = {**body, "status": "open"}
    assert (
        await client.put(f"/api/rooms/{room_id}/schedule", json=extra, headers=headers)
    ).status_code == 422

    before, _ = await rows(factory, world, room_id)
    await set_status(factory, room_id, RoomStatus.open)  # its host joined
    started = await client.put(f"/api/rooms/{room_id}/schedule", json=body, headers=headers)
    assert started.status_code == 409, started.text
    await set_status(factory, room_id, RoomStatus.closed)
    ended = await client.put(f"/api/rooms/{room_id}/schedule", json=body, headers=headers)
    assert ended.status_code == 409, ended.text
    assert started.json()["detail"] != ended.json()["detail"]  # each names its state
    after, events = await rows(factory, world, room_id)
    assert after.scheduled_for == before.scheduled_for
    assert len([e for e in events if e.kind == "scheduled"]) == 1


# -- the calendar file ----------------------------------------------------------------------


async def test_each_party_downloads_a_calendar_file_without_a_credential(
    client: httpx.AsyncClient, factory: Factory, world: Made
) -> None:
    headers = await mediator_headers(factory, world)
    when = ahead(days=1, hours=3)
    room_id = (await open_room(client, world, headers, scheduled_for=when.isoformat())).json()["id"]
    uids = set()
    for which in ("applicant", "respondent"):
        party, join_token = await party_headers(client, factory, world, which)
        r = await client.get(f"/api/rooms/{room_id}/calendar.ics", headers=party)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/calendar")
        assert "attachment" in r.headers["content-disposition"]
        text = r.content.decode()
        for secret in (join_token, party["Authorization"].removeprefix("Bearer ")):
            assert secret not in text
        assert "/join/" not in text and "token" not in text.lower()

        calendar = Calendar.from_ical(r.content)
        (event,) = calendar.events
        assert world.case.number in str(event["SUMMARY"])
        assert world.case.number in str(event["DESCRIPTION"])
        assert event["DTSTART"].params["TZID"] == "Asia/Shanghai"
        assert event.start == when
        assert event.start.utcoffset() == timedelta(hours=8)
        assert [tz.tz_name for tz in calendar.timezones] == ["Asia/Shanghai"]
        assert str(event["URL"]) == "http://testserver/my-case"
        uids.add(str(event["UID"]))
    assert len(uids) == 1  # one meeting, one entry, whoever downloads it

    # The mediator's links to the case page; a moved time updates the same entry.
    r = await client.put(
        f"/api/rooms/{room_id}/schedule",
        json={"scheduled_for": (when + timedelta(hours=1)).isoformat()},
        headers=headers,
    )
    assert r.status_code == 200
    mine = Calendar.from_ical(
        (await client.get(f"/api/rooms/{room_id}/calendar.ics", headers=headers)).content
    )
    (event,) = mine.events
    assert str(event["UID"]) in uids
    assert int(event["SEQUENCE"]) == 1
    assert event.start == when + timedelta(hours=1)
    assert str(event["URL"]) == f"http://testserver/cases/{world.case.id}"


async def test_the_calendar_file_is_refused_to_others_and_without_a_time(
    client: httpx.AsyncClient, factory: Factory, world: Made
) -> None:
    headers = await mediator_headers(factory, world)
    room_id = (
        await open_room(client, world, headers, scheduled_for=ahead(hours=5).isoformat())
    ).json()["id"]
    other_world = await factory.world()
    stranger, _ = await party_headers(client, factory, other_world)
    judge = bearer(await staff_session(factory, world.judge))
    path = f"/api/rooms/{room_id}/calendar.ics"
    assert (await client.get(path, headers=stranger)).status_code == 404
    assert (await client.get(path, headers=judge)).status_code == 403
    assert (await client.get(path)).status_code == 401
    assert (await client.get("/api/rooms/999999/calendar.ics", headers=headers)).status_code == 404

    await set_status(factory, room_id, RoomStatus.open)
    assert (await client.get(path, headers=headers)).status_code == 409
    await set_status(factory, room_id, RoomStatus.closed)
    untimed = (await open_room(client, world, headers)).json()["id"]
    r = await client.get(f"/api/rooms/{untimed}/calendar.ics", headers=headers)
    assert r.status_code == 404


# -- the pages ------------------------------------------------------------------------------


async def test_the_case_pages_and_the_room_page_show_the_time_in_beijing_time(
    client: httpx.AsyncClient, factory: Factory, world: Made
) -> None:
    headers = await mediator_headers(factory, world)
    # 23:30 UTC is 07:30 the next day in Beijing: the date shows which zone the page uses.
    day = (now() + timedelta(days=2)).astimezone(UTC).date()
    when = datetime(day.year, day.month, day.day, 23, 30, tzinfo=UTC)
    room_id = (await open_room(client, world, headers, scheduled_for=when.isoformat())).json()["id"]
    shown = when.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
    assert shown.endswith("07:30")

    staff_page = await client.get(f"/cases/{world.case.id}", headers=headers)
    assert staff_page.status_code == 200
    assert shown in staff_page.text
    assert f"/api/rooms/{room_id}/calendar.ics" in staff_page.text

    party, _ = await party_headers(client, factory, world)
    party_page = await client.get("/my-case", headers=party)
    assert party_page.status_code == 200
    assert shown in party_page.text
    assert f'href="/api/rooms/{room_id}/calendar.ics"' in party_page.text

    room_page = await client.get(f"/rooms/{room_id}", headers=party)
    assert room_page.status_code == 200
    notice = room_page.text.split('data-testid="scheduled-for"')[1].split("</p>")[0]
    assert shown in notice
    # Above the device check's preview.
    assert room_page.text.index('data-testid="scheduled-for"') < room_page.text.index(
        'id="preview"'
    )


async def test_the_room_page_shows_no_time_once_the_meeting_is_on(
    client: httpx.AsyncClient, factory: Factory, world: Made
) -> None:
    headers = await mediator_headers(factory, world)
    room_id = (
        await open_room(client, world, headers, scheduled_for=ahead(hours=2).isoformat())
    ).json()["id"]
    await set_status(factory, room_id, RoomStatus.open)
    party, _ = await party_headers(client, factory, world)
    page = await client.get(f"/rooms/{room_id}", headers=party)
    assert page.status_code == 200
    assert 'data-testid="scheduled-for"' not in page.text
    await set_status(factory, room_id, RoomStatus.closed)
