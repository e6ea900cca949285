"""Notifications (service/notify.py) and the rooms' reminders (rooms/reminders.py).

The notifier hands each notice to every configured channel, and one failing channel does
not stop the others; the console channel writes one line per notice that names no
credential, no phone number and no ID number. The reminders go out exactly once across
restarts of a real app on a real database, with the clock moved by time-machine: the notice
that a time is set, then 60 and 10 minutes before; a reminder missed while the server was
down is sent at start-up while its window is open.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import time_machine
from pydantic import ValidationError

from rooms import reminders, schedule
from rooms import service as rooms_service
from rooms.models import RoomKind
from rooms.reminders import REMINDER, Due, due
from service import audit
from service.app import create_app
from service.clock import now
from service.migrate import upgrade
from service.models import Case
from service.notify import (
    ChannelNotifier,
    ConsoleChannel,
    Notice,
    Recipient,
    make_notifier,
)
from service.pages import local_time
from service.settings import NotifySettings, Settings
from tests.conftest import Databases, Factory, Made, make_settings
from tests.rooms.conftest import eventually

NUMBER = "（2026）潞东调字第1号"


def notice(**kw: Any) -> Notice:
    return Notice(
        recipient=kw.pop("recipient", Recipient("party", 7, "张三", phone="13800000001")),
        topic=kw.pop("topic", "room.reminder"),
        case_number=NUMBER,
        message=kw.pop("message", REMINDER),
        params=kw.pop("params", {"number": NUMBER, "minutes": 10, "time": "2026-12-05 14:30"}),
        url=kw.pop("url", "http://127.0.0.1:8000/my-case"),
        **kw,
    )


def lines(caplog: pytest.LogCaptureFixture, case_number: str | None = None) -> list[str]:
    """The console channel's lines (about one case), each with its extra fields."""
    found = []
    for record in caplog.records:
        if record.name != "mediation.notify":
            continue
        text = record.getMessage()
        if case_number is None or case_number in text:
            found.append(f"{text} {record.__dict__}")
    return found


# -- the interface ----------------------------------------------------------------------------


async def test_the_console_channel_writes_one_line_without_personal_data(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="mediation.notify")
    deliveries = await ChannelNotifier([ConsoleChannel()]).notify([notice()])
    assert [(d.channel, d.recipient, d.ok) for d in deliveries] == [("console", "party-7", True)]
    (record,) = [r for r in caplog.records if r.name == "mediation.notify"]
    assert record.levelno == logging.INFO
    text = record.getMessage()
    assert "party-7" in text and NUMBER in text and "10 分钟后" in text  # in Chinese
    assert "http://127.0.0.1:8000/my-case" in text
    everything = f"{text} {record.__dict__}"
    assert "13800000001" not in everything and "张三" not in everything


async def test_an_id_number_in_a_notice_is_masked_in_the_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="mediation.notify")
    leaky = notice(params={"number": "110105198001011234", "minutes": 5, "time": "x"})
    await ChannelNotifier([ConsoleChannel()]).notify([leaky])
    (line,) = lines(caplog)
    assert "110105198001011234" not in line and "110105********1234" in line


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8000/join/abcdef", "http://127.0.0.1:8000/my-case?token=abc"]
)
def test_a_notice_refuses_a_link_with_a_credential(url: str) -> None:
    with pytest.raises(ValueError, match="credential"):
        notice(url=url)


class Broken:
    name = "broken"

    async def deliver(self, notice: Notice) -> None:
        raise ConnectionRefusedError("the gateway is down")


async def test_a_failing_channel_is_reported_and_the_others_still_deliver(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="mediation.notify")
    two = [notice(), notice(recipient=Recipient("staff", 3, "李四"))]
    deliveries = await ChannelNotifier([Broken(), ConsoleChannel()]).notify(two)
    assert [(d.channel, d.recipient, d.ok, d.error) for d in deliveries] == [
        ("broken", "party-7", False, "ConnectionRefusedError"),
        ("console", "party-7", True, None),
        ("broken", "staff-3", False, "ConnectionRefusedError"),
        ("console", "staff-3", True, None),
    ]
    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(failures) == 2 and all(r.exc_info for r in failures)


def test_channels_and_reminders_come_from_the_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MEDIATION_DATA_DIR", str(tmp_path))
    defaults = Settings()
    assert defaults.notify.channels == ["console"]
    assert defaults.notify.reminder_minutes == [60, 10]
    assert [c.name for c in make_notifier(defaults).channels] == ["console"]

    monkeypatch.setenv("MEDIATION_NOTIFY__CHANNELS", '["console", "console"]')
    monkeypatch.setenv("MEDIATION_NOTIFY__REMINDER_MINUTES", "[10, 1440, 60]")
    configured = Settings()
    assert configured.notify.channels == ["console"]
    assert configured.notify.reminder_minutes == [1440, 60, 10]

    for name, value in [
        ("MEDIATION_NOTIFY__CHANNELS", '["carrier-pigeon"]'),
        ("MEDIATION_NOTIFY__CHANNELS", "[]"),
        ("MEDIATION_NOTIFY__REMINDER_MINUTES", "[0]"),
    ]:
        monkeypatch.setenv(name, value)
        with pytest.raises(
            ValidationError, match=name.removeprefix("MEDIATION_").split("__")[0].lower()
        ):
            Settings()
        monkeypatch.delenv(name)


# -- what is due when ---------------------------------------------------------------------------

T = datetime(2026, 12, 5, 6, 30, tzinfo=UTC)
MINUTES = (60, 10)


def sent(*levels: int | None) -> list[dict[str, object]]:
    return [{"level": level} for level in levels]


@pytest.mark.parametrize(
    ("before", "already", "owed"),
    [
        (timedelta(days=2), sent(), Due("scheduled", None)),
        (timedelta(days=2), sent(None), None),
        (timedelta(minutes=61), sent(None), None),
        (timedelta(minutes=60), sent(None), Due("reminder", 60)),
        (timedelta(minutes=30), sent(None), Due("reminder", 60)),  # missed: its window is open
        (timedelta(minutes=30), sent(None, 60), None),
        (timedelta(minutes=8), sent(None), Due("reminder", 10)),  # only the latest of two
        (timedelta(minutes=8), sent(None, 60), Due("reminder", 10)),
        (timedelta(minutes=8), sent(None, 60, 10), None),
        (timedelta(minutes=5), sent(), Due("scheduled", 10)),  # set 5 minutes ahead: one notice
        (timedelta(minutes=2), sent(10), None),
        (timedelta(0), sent(None), None),  # the time has come
    ],
)
def test_what_is_due(before: timedelta, already: list[dict[str, object]], owed: Due | None) -> None:
    assert due(T, MINUTES, already, T - before) == owed


# -- reminders across restarts ------------------------------------------------------------------


@pytest.fixture
def frozen() -> Iterator[Any]:
    """Move the clock with ``frozen(at)``; it stands still at each point (tick=False)."""
    travellers: list[Any] = []

    def at(when: datetime) -> None:
        if travellers:
            travellers.pop().stop()
        traveller = time_machine.travel(when, tick=False)
        traveller.start()
        travellers.append(traveller)

    yield at
    for traveller in travellers:
        traveller.stop()


async def start_and_look(settings: Settings) -> Any:
    """Start the app as `mediation serve` would and wait for its reminders' first look."""
    app = create_app(settings)
    context = app.router.lifespan_context(app)
    await context.__aenter__()
    await eventually(lambda: app.state.reminders.passes >= 1, what="the start-up look")
    return app, context


async def scheduled_case(factory: Factory, world: Made, when: datetime) -> tuple[Case, int]:
    case, _ = await factory.case(world.mediator)
    async with factory.uow() as s:
        room = await rooms_service.create_room(
            s,
            case=case,
            kind=RoomKind.mediation,
            auto_admit=False,
            created_by=world.mediator.id or 0,
            actor=audit.SYSTEM,
        )
        await schedule.set_time(s, room=room, when=when, actor=audit.SYSTEM)
    return case, room.id or 0


async def test_reminders_go_out_once_across_restarts(
    databases: Databases, tmp_path: Path, caplog: pytest.LogCaptureFixture, frozen: Any
) -> None:
    caplog.set_level(logging.INFO, logger="mediation.notify")
    db = await databases.new()  # its own: no other app's reminders see these rooms
    await asyncio.to_thread(upgrade, db.url)
    settings = make_settings(db.url, tmp_path, notify=NotifySettings(poll_seconds=3600))

    start = now().replace(second=0, microsecond=0)
    first = start + timedelta(hours=3)
    second = first + timedelta(minutes=30)

    app, context = await start_and_look(settings)
    factory = Factory(app)
    world = await factory.world()
    case_1, room_1 = await scheduled_case(factory, world, first)
    case_2, room_2 = await scheduled_case(factory, world, second)
    # Credentials and personal data that exist for these cases, none of which may appear.
    secrets = [world.applicant.phone or "", world.applicant.id_number or ""]
    secrets.append(world.respondent.id_number or "")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        for party in (world.applicant, world.respondent):
            join = await factory.invite(world.mediator, world.case, party)
            session = (await factory.party_headers(client, join))["Authorization"]
            secrets += [join, session.removeprefix("Bearer ")]
    reminders.wake(app)  # as the API does once the time is committed
    # The time is set: each party of each case and the mediator are told, once.
    await eventually(lambda: len(lines(caplog, case_1.number)) == 3, what="room 1's notices")
    await eventually(lambda: len(lines(caplog, case_2.number)) == 3, what="room 2's notices")
    await context.__aexit__(None, None, None)

    async def restart_at(when: datetime) -> None:
        frozen(when)
        _, context = await start_and_look(settings)
        await context.__aexit__(None, None, None)

    def said(case: Case, words: str) -> int:
        return len([line for line in lines(caplog, case.number) if words in line])

    await restart_at(first - timedelta(minutes=59))  # room 1: its hour's reminder
    assert said(case_1, "将于 59 分钟后") == 3 and said(case_2, "分钟后") == 0
    await restart_at(first - timedelta(minutes=58))  # nothing new
    await restart_at(first - timedelta(minutes=58))
    assert said(case_1, "分钟后") == 3

    # Down from T-58 to T-9: room 1's ten minutes are due, and room 2's hour (due at its
    # T-60, room 1's T-30) was missed; its window is open until room 2's T-10.
    await restart_at(first - timedelta(minutes=9))
    assert said(case_1, "将于 9 分钟后") == 3 and said(case_1, "分钟后") == 6
    assert said(case_2, "将于 39 分钟后") == 3
    await restart_at(first + timedelta(minutes=1))  # room 1's time has come; room 2 is owed nothing
    assert said(case_1, "分钟后") == 6 and said(case_2, "分钟后") == 3
    await restart_at(second - timedelta(minutes=5))
    assert said(case_2, "将于 5 分钟后") == 3 and said(case_2, "分钟后") == 6
    await restart_at(second - timedelta(minutes=4))
    assert said(case_2, "分钟后") == 6

    # Each notice is on the room's record once: the time set, then two reminders.
    async with factory.uow() as s:
        for room_id in (room_1, room_2):
            events = await rooms_service.room_events(s, room_id=room_id)
            assert [e.kind for e in events if e.kind.startswith("reminder")] == ["reminder"] * 3

    everything = "\n".join(lines(caplog))
    assert len(lines(caplog)) == 18
    for secret in secrets:
        assert secret and secret not in everything
    assert "/join/" not in everything
    assert "13800000001" not in everything


async def test_a_moved_time_is_announced_and_reminded_afresh(
    databases: Databases, tmp_path: Path, caplog: pytest.LogCaptureFixture, frozen: Any
) -> None:
    caplog.set_level(logging.INFO, logger="mediation.notify")
    db = await databases.new()
    await asyncio.to_thread(upgrade, db.url)
    settings = make_settings(db.url, tmp_path, notify=NotifySettings(poll_seconds=3600))
    start = now().replace(second=0, microsecond=0)
    first, moved = start + timedelta(hours=2), start + timedelta(hours=5)

    frozen(start)
    app, context = await start_and_look(settings)
    try:
        factory = Factory(app)
        world = await factory.world()
        case, room_id = await scheduled_case(factory, world, first)
        looks = await app.state.reminders.run_once()
        assert looks == first - timedelta(minutes=60)  # when it will look next
        assert len(lines(caplog, case.number)) == 3
        frozen(first - timedelta(minutes=60))
        await app.state.reminders.run_once()
        assert len([x for x in lines(caplog, case.number) if "将于 60 分钟后" in x]) == 3

        async with factory.uow() as s:
            room = await rooms_service.get_room(s, room_id)
            await schedule.set_time(s, room=room, when=moved, actor=audit.SYSTEM)
        await app.state.reminders.run_once()
        told = [x for x in lines(caplog, case.number) if "改为" in x]
        assert len(told) == 3 and all(local_time(moved) in x for x in told)
        assert len([x for x in lines(caplog, case.number) if "定于" in x]) == 3  # the first
        frozen(moved - timedelta(minutes=60))
        await app.state.reminders.run_once()
        await app.state.reminders.run_once()
        assert len([x for x in lines(caplog, case.number) if "将于 60 分钟后" in x]) == 6
    finally:
        await context.__aexit__(None, None, None)
