"""The ruling's receipt and the objection deadline: a party opening the ruling through the
application's route receives it (once: opening it again, or staff opening it, changes
nothing), and that party's 15 days to object run from that day (CPL 85, Interp. 374), shown
to them and, per party, to the court. Time is frozen after the ruling, a few days ahead of
the real date (the seal's certificate is made for now)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
import time_machine
from sqlmodel import col, select

from confirmation.models import ServiceProof
from service.clock import CHINA, now
from service.models import AuditEvent
from tests.confirmation.helpers import Applied, claimed, staff_headers
from tests.conftest import Factory

DAY0 = now().astimezone(CHINA).date() + timedelta(days=2)


def bj(days: int, hour: int = 10) -> datetime:
    """``days`` after DAY0, at ``hour`` o'clock Beijing time."""
    return datetime.combine(DAY0 + timedelta(days=days), time(hour), tzinfo=CHINA).astimezone(UTC)


async def _ruled(client: httpx.AsyncClient, factory: Factory) -> tuple[Applied, str]:
    applied = await claimed(client, factory)
    r = await client.post(
        f"/api/confirmations/{applied.id}/decision",
        json={"outcome": "rejected", "grounds": ["content_unclear"], "reason": "履行期限不明确。"},
        headers=applied.judge,
    )
    assert r.status_code == 200, r.text
    return applied, str(r.json()["ruling_sha256"])


async def _party(client: httpx.AsyncClient, factory: Factory, applied: Applied, who: str) -> Any:
    """Fresh credentials (those from before the travel in time may have expired)."""
    world = applied.signing.world
    if who in ("judge", "clerk"):
        return await staff_headers(client, factory, getattr(world, who))
    token = await factory.invite(world.mediator, world.case, getattr(world, who))
    headers = await factory.party_headers(client, token)
    client.cookies.clear()
    return headers


async def _proofs(factory: Factory, applied: Applied) -> dict[int, datetime | None]:
    async with factory.uow() as s:
        rows = (
            await s.exec(select(ServiceProof).where(ServiceProof.application_id == applied.id))
        ).all()
    return {r.party_id: r.opened_at for r in rows}


async def _received_events(factory: Factory, applied: Applied) -> list[AuditEvent]:
    async with factory.uow() as s:
        return list(
            (
                await s.exec(
                    select(AuditEvent)
                    .where(AuditEvent.case_id == applied.signing.world.case.id)
                    .where(AuditEvent.action == "confirmation.ruling_received")
                    .order_by(col(AuditEvent.seq))
                )
            ).all()
        )


async def test_a_party_opening_the_ruling_receives_it_once_and_the_15_days_run(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    applied, sha = await _ruled(client, factory)
    world = applied.signing.world
    url = f"/api/confirmations/{applied.id}"
    ruling = f"{url}/documents/{sha}"
    # The court, and the generic document route, read it without anyone receiving it.
    for headers in (applied.judge, applied.clerk, applied.signing.mediator):
        r = await client.get(ruling, headers=headers)
        assert r.status_code == 200 and r.content.startswith(b"%PDF")
    for headers in (applied.signing.mediator, applied.signing.applicant):
        assert (await client.get(f"/api/documents/{sha}", headers=headers)).status_code == 200
    assert await _proofs(factory, applied) == {world.applicant.id: None, world.respondent.id: None}
    # Another of the application's documents is no receipt of the ruling.
    r = await client.get(
        f"{url}/documents/{applied.application['record_sha256']}",
        headers=applied.signing.applicant,
    )
    assert r.status_code == 200 and await _received_events(factory, applied) == []
    # The party sees that the 15 days run from receipt, not yet when.
    r = await client.get(url, headers=applied.signing.applicant)
    assert [(s["party_id"], s["opened_at"], s["objection"]) for s in r.json()["service"]] == [
        (world.applicant.id, None, None)
    ]

    with time_machine.travel(bj(3, 15), tick=True):
        applicant = await _party(client, factory, applied, "applicant")
        r = await client.get(ruling, headers=applicant)
        assert r.status_code == 200 and r.content.startswith(b"%PDF")
        opened = (await _proofs(factory, applied))[world.applicant.id]
        assert opened is not None and abs(opened - bj(3, 15)) < timedelta(minutes=1)
        shown = (await client.get(url, headers=applicant)).json()
        (mine,) = shown["service"]
        assert mine["party_id"] == world.applicant.id
        objection = mine["objection"]
        assert (objection["code"], objection["who"], objection["rule"]) == (
            "objection",
            "parties",
            "Interp. 374",
        )
        # From the day after receipt, 15 days, to 24:00 Beijing of the last (CPL 85).
        assert datetime.fromisoformat(objection["due"]) == bj(19, 0) - timedelta(microseconds=1)
        assert objection["overdue"] is False
        assert shown["history"][-1]["action"] == "confirmation.ruling_received"

    with time_machine.travel(bj(18, 23), tick=True):  # opened again on the last day
        applicant = await _party(client, factory, applied, "applicant")
        assert (await client.get(ruling, headers=applicant)).status_code == 200
        assert (await _proofs(factory, applied))[world.applicant.id] == opened
        (mine,) = (await client.get(url, headers=applicant)).json()["service"]
        assert mine["objection"]["overdue"] is False
        assert 0 < mine["objection"]["remaining_seconds"] <= 3600
        # The court sees each party: one received (with the deadline), one not yet.
        judge = await _party(client, factory, applied, "judge")
        service = {
            s["party_id"]: s for s in (await client.get(url, headers=judge)).json()["service"]
        }
        assert service[world.applicant.id]["objection"]["due"] == mine["objection"]["due"]
        assert service[world.respondent.id]["opened_at"] is None
        assert service[world.respondent.id]["objection"] is None

    with time_machine.travel(bj(19), tick=True):  # the 16th day: the 15 days are over
        applicant = await _party(client, factory, applied, "applicant")
        (mine,) = (await client.get(url, headers=applicant)).json()["service"]
        assert mine["objection"]["overdue"] is True
        # The other party received it only now: their own 15 days start today.
        respondent = await _party(client, factory, applied, "respondent")
        assert (await client.get(ruling, headers=respondent)).status_code == 200
        (theirs,) = (await client.get(url, headers=respondent)).json()["service"]
        assert datetime.fromisoformat(theirs["objection"]["due"]) == bj(35, 0) - timedelta(
            microseconds=1
        )

    events = await _received_events(factory, applied)
    assert [e.actor_kind for e in events] == ["party", "party"]
    assert [json.loads(e.data)["party"] for e in events] == [
        world.applicant.id,
        world.respondent.id,
    ]


async def test_two_openings_at_once_record_one_receipt(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    applied, sha = await _ruled(client, factory)
    ruling = f"/api/confirmations/{applied.id}/documents/{sha}"
    results = await asyncio.gather(
        *(client.get(ruling, headers=applied.signing.respondent) for _ in range(4))
    )
    assert [r.status_code for r in results] == [200] * 4
    assert len(await _received_events(factory, applied)) == 1
    assert (await _proofs(factory, applied))[applied.signing.world.respondent.id] is not None


async def test_the_pages_link_the_ruling_through_its_receipt_and_show_the_deadline(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    applied, sha = await _ruled(client, factory)
    world = applied.signing.world
    ruling = f"/api/confirmations/{applied.id}/documents/{sha}"
    party = applied.signing.applicant
    page = (await client.get("/my-case", headers=party)).text
    assert f'href="{ruling}"' in page and f'href="/api/documents/{sha}"' not in page
    assert 'data-testid="objection-pending"' in page
    assert 'data-testid="deadline-objection"' not in page
    view = (await client.get(f"/confirmations/{applied.id}", headers=party)).text
    assert f'href="{ruling}"' in view and 'data-testid="objection-pending"' in view

    assert (await client.get(ruling, headers=party)).status_code == 200
    page = (await client.get("/my-case", headers=party)).text
    assert 'data-testid="deadline-objection"' in page and "objection-pending" not in page
    assert "对裁定提出异议" in page
    view = (await client.get(f"/confirmations/{applied.id}", headers=party)).text
    assert 'data-testid="deadline-objection"' in view
    assert f'data-testid="receipt-{world.respondent.id}"' not in view  # only their own

    view = (await client.get(f"/confirmations/{applied.id}", headers=applied.judge)).text
    assert f'data-testid="receipt-{world.applicant.id}" data-received="true"' in view
    assert f'data-testid="receipt-{world.respondent.id}" data-received="false"' in view
    assert "可在" in view and "尚未签收" in view
