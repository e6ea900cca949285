"""The court queue's total is kept by the moves (confirmation_queue_count), not counted per
page: it must follow every move, once per move, including twenty judges claiming at once."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
from sqlalchemy import func
from sqlmodel import col, select

from confirmation import queue
from confirmation.models import Application
from confirmation.models import ApplicationStatus as S
from service import audit
from tests.confirmation.helpers import Applied, another_judge, hold_session, queued, staff_headers
from tests.conftest import Factory


async def _recounted(factory: Factory, court_id: int) -> dict[str, int]:
    async with factory.uow() as s:
        rows = await s.exec(
            select(Application.status, func.count())
            .where(col(Application.court_id) == court_id)
            .group_by(col(Application.status))
        )
        return {status: int(n) for status, n in rows.all()}


async def _kept(factory: Factory, court_id: int) -> dict[str, int]:
    async with factory.uow() as s:
        return {k: n for k, n in (await queue.counts(s, court_id)).items() if n}


async def _total(client: httpx.AsyncClient, applied: Applied, status: str | None = None) -> int:
    court_id = applied.signing.world.court.id
    params = {"status": status} if status else {}
    r = await client.get(f"/api/courts/{court_id}/queue", params=params, headers=applied.clerk)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] >= len(body["items"])
    return int(body["total"])


async def test_the_total_follows_every_move(client: httpx.AsyncClient, factory: Factory) -> None:
    applied = await queued(client, factory)
    court_id = applied.signing.world.court.id or 0
    assert await _kept(factory, court_id) == await _recounted(factory, court_id) == {"queued": 1}
    assert await _total(client, applied) == 1
    assert await _total(client, applied, "queued") == 1

    r = await client.post(
        f"/api/confirmations/{applied.id}/accept", json={"accept": True}, headers=applied.clerk
    )
    assert r.status_code == 200, r.text
    assert await _total(client, applied, "queued") == 0
    assert await _total(client, applied, "accepted") == 1
    assert await _kept(factory, court_id) == await _recounted(factory, court_id)

    judges = [await another_judge(factory, applied.signing.world.court) for _ in range(20)]
    headers = [await staff_headers(client, factory, judge) for judge in judges]
    results = await asyncio.gather(
        *(client.post(f"/api/confirmations/{applied.id}/claim", headers=h) for h in headers)
    )
    assert sorted(r.status_code for r in results) == [200] + [409] * 19
    assert await _kept(factory, court_id) == await _recounted(factory, court_id) == {"claimed": 1}
    assert await _total(client, applied) == 1

    winner = next(h for h, r in zip(headers, results, strict=True) if r.status_code == 200)
    applied.judge = winner
    await hold_session(client, applied)
    r = await client.post(
        f"/api/confirmations/{applied.id}/decision",
        json={"outcome": "confirmed", "notes": "双方均到场，确认自愿。"},
        headers=applied.judge,
    )
    assert r.status_code == 200, r.text
    assert await _total(client, applied) == 0
    assert await _total(client, applied, "confirmed") == 1
    assert await _kept(factory, court_id) == await _recounted(factory, court_id)


async def test_a_refused_move_changes_no_count(client: httpx.AsyncClient, factory: Factory) -> None:
    applied = await queued(client, factory)
    court_id = applied.signing.world.court.id or 0
    # A claim before acceptance is refused (409) and leaves the counts as they were.
    r = await client.post(f"/api/confirmations/{applied.id}/claim", headers=applied.judge)
    assert r.status_code == 409, r.text
    assert await _kept(factory, court_id) == {"queued": 1}
    r = await client.post(
        f"/api/confirmations/{applied.id}/accept",
        json={"accept": False, "reason": "不属于本院管辖。"},
        headers=applied.clerk,
    )
    assert r.status_code == 200, r.text
    assert await _kept(factory, court_id) == await _recounted(factory, court_id)
    assert await _kept(factory, court_id) == {"not_accepted": 1}
    assert await _total(client, applied) == 0


async def test_moves_that_lock_in_either_order_do_not_deadlock(factory: Factory) -> None:
    """A consent records its event and then moves the application to the queue; an acceptance
    moves first and records after. Both lock the audit chain and the court's counts: they
    must queue one behind the other, not deadlock (PostgreSQL would end one of them)."""
    court = await factory.court()
    court_id = court.id or 0
    event_held = asyncio.Event()
    moving = asyncio.Event()

    async def consent_like() -> None:
        async with factory.uow() as s:
            await audit.record(s, actor=audit.SYSTEM, action="confirmation.consented")
            event_held.set()
            # Give the other one time to reach its move (it waits on our lock, if it works).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(moving.wait(), 2)
            await asyncio.sleep(0.2)
            await queue.moved(s, court_id=court_id, before=None, after=S.queued)
            await audit.record(s, actor=audit.SYSTEM, action="confirmation.queued")

    async def accept_like() -> None:
        await event_held.wait()
        async with factory.uow() as s:
            moving.set()
            await queue.moved(s, court_id=court_id, before=S.queued, after=S.accepted)
            await audit.record(s, actor=audit.SYSTEM, action="confirmation.accepted")

    await asyncio.wait_for(asyncio.gather(consent_like(), accept_like()), 60)
    assert await _kept(factory, court_id) == {"accepted": 1}  # queued: +1 -1
