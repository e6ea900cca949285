"""Notifications: email against a real SMTP server (aiosmtpd on 127.0.0.1), SMS against a
local HTTP listener, and the parties told in-app (and by SMS) as their application is
queued, accepted and ruled on, refused, sent back for a supplement and withdrawn (by a
party, or the supplement's deadline missed: told once, whoever looks first); the session's
notice carries an .ics."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import Message
from typing import Any

import httpx
import pytest
import time_machine
from aiosmtpd.controller import Controller
from sqlmodel import col, select

from confirmation import notices, tokens
from service.clock import CHINA, now
from service.inbox import InAppNotice
from service.notify import Attachment, ChannelNotifier, Notice, Recipient
from service.notify_channels import EmailChannel, InAppChannel, SmsChannel
from service.settings import NotifySettings
from tests.confirmation.helpers import claimed, queued, staff_headers
from tests.conftest import Factory

ICS = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            (list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default))
        )
        return "250 OK"


@dataclass
class Gateway:
    """A local SMS gateway: records each JSON POST; answers ``status``."""

    port: int = 0
    status: int = 200
    received: list[dict[str, Any]] = field(default_factory=list)
    auth: list[str] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:] if x)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.received.append(json.loads(body))
        self.auth.append(headers.get("authorization", ""))
        writer.write(f"HTTP/1.1 {self.status} X\r\ncontent-length: 0\r\n\r\n".encode())
        await writer.drain()
        writer.close()


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    g = Gateway()
    server = await asyncio.start_server(g.handle, "127.0.0.1", 0)
    g.port = server.sockets[0].getsockname()[1]
    try:
        yield g
    finally:
        server.close()
        await server.wait_closed()


def _notice(**kw: Any) -> Notice:
    values: dict[str, Any] = {
        "recipient": Recipient("party", 7, "张三", phone="13800000000", email="zs@example.test"),
        "topic": "confirmation.session",
        "case_number": "（2026）潞东调字第1号",
        "message": notices.SESSION_SET,
        "params": {"number": "（2026）潞东调字第1号", "time": "2026-12-04 09:30"},
        "url": "http://testserver/my-case",
        "attachments": (Attachment("session.ics", "text/calendar", ICS),),
    }
    values.update(kw)
    return Notice(**values)


async def test_email_reaches_a_real_smtp_server_with_the_ics() -> None:
    inbox = _Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    await asyncio.to_thread(controller.start)
    try:
        settings = NotifySettings(
            channels=["email"], smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False,
            smtp_sender="court@example.test",
        )  # fmt: skip
        notifier = ChannelNotifier([EmailChannel(settings)])
        sent = await notifier.notify([_notice(), _notice(recipient=Recipient("party", 8, "李四"))])
        assert [d.ok for d in sent] == [True, True]  # the second has no address: skipped
    finally:
        await asyncio.to_thread(controller.stop)
    assert len(inbox.messages) == 1
    rcpt, message = inbox.messages[0]
    assert rcpt == ["zs@example.test"] and message["From"] == "court@example.test"
    assert "（2026）潞东调字第1号" in str(message["Subject"])
    parts = {p.get_content_type(): p for p in message.walk()}
    assert "2026-12-04 09:30" in parts["text/plain"].get_payload(decode=True).decode()
    assert parts["text/calendar"].get_payload(decode=True) == ICS
    assert parts["text/calendar"].get_filename() == "session.ics"


async def test_sms_goes_to_the_gateway_and_a_refusal_is_recorded(gateway: Gateway) -> None:
    settings = NotifySettings(
        channels=["sms"], sms_url=f"http://127.0.0.1:{gateway.port}/send", sms_token="s3cret"
    )
    notifier = ChannelNotifier([SmsChannel(settings)])
    sent = await notifier.notify([_notice()])
    assert sent[0].ok is True
    assert gateway.received[0]["to"] == "13800000000"
    assert "2026-12-04 09:30" in gateway.received[0]["text"]
    assert gateway.auth == ["Bearer s3cret"]
    gateway.status = 503
    sent = await notifier.notify([_notice()])
    assert sent[0].ok is False and sent[0].error == "HTTPStatusError"


def test_channels_need_their_settings() -> None:
    with pytest.raises(ValueError, match="SMTP_HOST"):
        NotifySettings(channels=["email"])
    with pytest.raises(ValueError, match="SMS_URL"):
        NotifySettings(channels=["sms"], sms_url="ftp://x")


async def test_the_parties_are_told_as_the_application_moves(
    app: Any, client: httpx.AsyncClient, factory: Factory, gateway: Gateway
) -> None:
    sms = SmsChannel(NotifySettings(channels=["sms"], sms_url=f"http://127.0.0.1:{gateway.port}/"))
    before = getattr(app.state, "notifier", None)
    app.state.notifier = ChannelNotifier([InAppChannel(app.state.sessionmaker), sms])
    try:
        applied = await claimed(client, factory)
        r = await client.post(
            f"/api/confirmations/{applied.id}/decision",
            json={"outcome": "rejected", "grounds": ["content_unclear"], "reason": "不明确"},
            headers=applied.judge,
        )
        assert r.status_code == 200, r.text
    finally:
        app.state.notifier = before
    world = applied.signing.world
    async with factory.uow() as s:
        rows = (
            await s.exec(
                select(InAppNotice)
                .where(col(InAppNotice.party_id).in_([world.applicant.id, world.respondent.id]))
                .order_by(col(InAppNotice.id))
            )
        ).all()
    topics = [(n.party_id, n.topic) for n in rows]
    for party in (world.applicant.id, world.respondent.id):
        assert [t for p, t in topics if p == party] == [
            "confirmation.queued",
            "confirmation.accepted",
            "confirmation.ruling",
        ]
    # The party's case page lists them, in Chinese.
    page = await client.get("/my-case", headers=applied.signing.applicant)
    assert page.status_code == 200, page.text
    assert 'data-testid="notices-section"' in page.text and "已受理司法确认申请" in page.text
    texts = [g["text"] for g in gateway.received]
    phones = [p.phone for p in (world.applicant, world.respondent) if p.phone]
    assert len(texts) == 3 * len(phones)
    assert all(world.case.number in t and "/join/" not in t for t in texts)


async def _told(factory: Factory, applied: Any) -> dict[int, list[tuple[str, dict[str, Any]]]]:
    """Each party's in-app notices about the application: (topic, params), oldest first."""
    world = applied.signing.world
    parties = [world.applicant.id, world.respondent.id]
    async with factory.uow() as s:
        rows = (
            await s.exec(
                select(InAppNotice)
                .where(col(InAppNotice.party_id).in_(parties))
                .order_by(col(InAppNotice.id))
            )
        ).all()
    return {p: [(n.topic, n.params_dict()) for n in rows if n.party_id == p] for p in parties}


def _last(told: dict[int, list[tuple[str, dict[str, Any]]]]) -> list[tuple[str, dict[str, Any]]]:
    return [notices[-1] for notices in told.values()]


async def test_the_parties_are_told_the_court_refused_it_with_its_reason(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    applied = await queued(client, factory)
    reason = "申请人未提交身份证明材料。"
    r = await client.post(
        f"/api/confirmations/{applied.id}/accept",
        json={"accept": False, "reason": reason},
        headers=applied.clerk,
    )
    assert r.status_code == 200 and r.json()["status"] == "not_accepted", r.text
    for topic, params in _last(await _told(factory, applied)):
        assert topic == "confirmation.not_accepted" and params["reason"] == reason
    page = await client.get("/my-case", headers=applied.signing.respondent)
    assert "决定不予受理司法确认申请" in page.text and reason in page.text


async def test_the_parties_are_told_of_a_supplement_and_of_a_party_withdrawing(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    applied = await claimed(client, factory)
    due = now().replace(microsecond=0) + timedelta(days=5)
    r = await client.post(
        f"/api/confirmations/{applied.id}/decision",
        json={"outcome": "supplement_requested", "reason": "请补充借款凭证。",
              "supplement_due": due.isoformat()},
        headers=applied.judge,
    )  # fmt: skip
    assert r.status_code == 200, r.text
    beijing = due.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
    assert _last(await _told(factory, applied)) == [("confirmation.supplement", {
        "number": applied.signing.world.case.number, "due": beijing})] * 2  # fmt: skip
    page = await client.get("/my-case", headers=applied.signing.applicant)
    assert f"请于北京时间{beijing}前" in page.text and "视为撤回申请" in page.text

    r = await client.post(
        f"/api/confirmations/{applied.id}/withdraw",
        json={"reason": "双方已自行履行。"},
        headers=applied.signing.respondent,
    )
    assert r.status_code == 200 and r.json()["status"] == "withdrawn", r.text
    told = await _told(factory, applied)
    name = applied.signing.world.respondent.name
    for topic, params in _last(told):
        assert topic == "confirmation.withdrawn" and params["party"] == name
    for notices_of_party in told.values():
        assert [t for t, _ in notices_of_party] == [
            "confirmation.queued",
            "confirmation.accepted",
            "confirmation.supplement",
            "confirmation.withdrawn",
        ]


async def test_a_missed_supplement_deadline_is_told_once_whoever_looks_first(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    applied = await claimed(client, factory)
    court_id = applied.signing.world.court.id or 0
    async with factory.uow() as s:
        _, plain = await tokens.issue(s, court_id=court_id, name="审判流程管理系统")
    court = {"Authorization": f"Bearer {plain}"}
    due = now().replace(microsecond=0) + timedelta(days=2)
    r = await client.post(
        f"/api/ecf/filings/{applied.id}/decision",
        json={"outcome": "supplement_requested", "reason": "请补充借款凭证。",
              "supplement_due": due.isoformat()},
        headers=court,
    )  # fmt: skip
    assert r.status_code == 200 and r.json()["status"] == "supplement_requested", r.text
    assert [t for t, _ in _last(await _told(factory, applied))] == ["confirmation.supplement"] * 2

    with time_machine.travel(due + timedelta(minutes=1), tick=True):
        # The court's system looks first: the withdrawal is recorded, the parties told.
        r = await client.get(f"/api/ecf/filings/{applied.id}", headers=court)
        assert r.status_code == 200 and r.json()["status"] == "withdrawn", r.text
        world = applied.signing.world
        token = await factory.invite(world.mediator, world.case, world.applicant)
        party = await factory.party_headers(client, token)
        client.cookies.clear()
        # Later looks, on the page and through the API, tell no one again.
        assert (await client.get(f"/confirmations/{applied.id}", headers=party)).status_code == 200
        r = await client.get(f"/api/confirmations/{applied.id}", headers=party)
        assert r.json()["status"] == "withdrawn"
    told = await _told(factory, applied)
    beijing = due.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
    for notices_of_party in told.values():
        assert [t for t, _ in notices_of_party].count("confirmation.withdrawn") == 1
        topic, params = notices_of_party[-1]
        assert topic == "confirmation.withdrawn" and params["due"] == beijing
        assert "party" not in params


async def test_the_page_is_a_first_look_too(client: httpx.AsyncClient, factory: Factory) -> None:
    applied = await claimed(client, factory)
    due = now().replace(microsecond=0) + timedelta(days=1)
    r = await client.post(
        f"/api/confirmations/{applied.id}/decision",
        json={"outcome": "supplement_requested", "reason": "请补充。",
              "supplement_due": due.isoformat()},
        headers=applied.judge,
    )  # fmt: skip
    assert r.status_code == 200, r.text
    with time_machine.travel(due + timedelta(hours=1), tick=True):
        judge = await staff_headers(client, factory, applied.signing.world.judge)
        r = await client.get(f"/confirmations/{applied.id}", headers=judge)
        assert r.status_code == 200 and 'data-status="withdrawn"' in r.text
    assert [t for t, _ in _last(await _told(factory, applied))] == ["confirmation.withdrawn"] * 2
