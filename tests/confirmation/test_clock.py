"""The statutory clock with frozen time: the 30-day window for applying, the court's 3 days
to accept, the decision's 15-day target and 30-day limit (overdue in the application and in
the queue), and a supplement's deadline missed counting as withdrawal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import time_machine

from tests.confirmation.helpers import Applied, claimed, effective, queued, staff_headers
from tests.conftest import Factory

# 10:00 in Beijing on 2 March 2026: the day counted from is 2 March, the period's first
# day 3 March (CPL 85).
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def at(days: int, beijing_hour: int = 10) -> datetime:
    """``days`` after T0's Beijing date, at ``beijing_hour`` o'clock Beijing time."""
    return datetime(2026, 3, 2, tzinfo=UTC) + timedelta(days=days, hours=beijing_hour - 8)


async def _party(client: httpx.AsyncClient, factory: Factory, applied: Applied) -> dict[str, str]:
    world = applied.signing.world
    token = await factory.invite(world.mediator, world.case, world.applicant)
    headers = await factory.party_headers(client, token)
    client.cookies.clear()
    return headers


async def test_an_application_after_the_30_days_is_refused_naming_the_dates(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    with time_machine.travel(T0, tick=True):
        signing = await effective(client, factory)
    world = signing.world
    url = f"/api/cases/{world.case.id}/confirmation"
    body = {"court_id": world.court.id}
    with time_machine.travel(at(31, 0) + timedelta(minutes=1), tick=True):  # day 31, 00:01
        mediator = await staff_headers(client, factory, world.mediator)
        r = await client.post(url, json=body, headers=mediator)
        assert r.status_code == 409, r.text
        assert "2026-04-01" in r.text and "2026-03-02" in r.text, r.text
    with time_machine.travel(at(30, 23) + timedelta(minutes=59), tick=True):  # day 30, 23:59
        mediator = await staff_headers(client, factory, world.mediator)
        r = await client.post(url, json=body, headers=mediator)
        assert r.status_code == 201, r.text
        window = r.json()["deadlines"]
        assert [d["code"] for d in window] == ["apply"] and window[0]["overdue"] is False
        assert datetime.fromisoformat(window[0]["due"]) == at(31, 0) - timedelta(microseconds=1)


async def test_acceptance_and_decision_deadlines_and_overdue_flags(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    with time_machine.travel(T0, tick=True):
        applied = await queued(client, factory)
    court_id = applied.signing.world.court.id
    base, queue_url = f"/api/confirmations/{applied.id}", f"/api/courts/{court_id}/queue"

    def due_of(application: dict[str, object], code: str) -> dict[str, object]:
        deadlines = application["deadlines"]
        assert isinstance(deadlines, list)
        return next(d for d in deadlines if d["code"] == code)

    def queued_item(page: dict[str, object]) -> dict[str, object]:
        items = page["items"]
        assert isinstance(items, list)
        return next(i for i in items if i["id"] == applied.id)

    with time_machine.travel(at(3, 23), tick=True):  # the third day: still in time
        clerk = await staff_headers(client, factory, applied.signing.world.clerk)
        accept = due_of((await client.get(base, headers=clerk)).json(), "accept")
        assert accept["overdue"] is False and accept["who"] == "court"
        assert datetime.fromisoformat(accept["due"]) == at(4, 0) - timedelta(microseconds=1)
        assert 0 < accept["remaining_seconds"] <= 3600
    with time_machine.travel(at(4), tick=True):  # the fourth day: overdue, and stands out
        clerk = await staff_headers(client, factory, applied.signing.world.clerk)
        assert due_of((await client.get(base, headers=clerk)).json(), "accept")["overdue"]
        item = queued_item((await client.get(queue_url, headers=clerk)).json())
        assert item["deadline"]["code"] == "accept" and item["deadline"]["overdue"] is True
        r = await client.post(f"{base}/accept", json={"accept": True}, headers=clerk)
        assert r.status_code == 200, r.text
        target, limit = due_of(r.json(), "decide"), due_of(r.json(), "decide_limit")
        assert datetime.fromisoformat(target["due"]) == at(4 + 16, 0) - timedelta(microseconds=1)
        assert datetime.fromisoformat(limit["due"]) == at(4 + 31, 0) - timedelta(microseconds=1)
        assert not target["overdue"] and not limit["overdue"]
    with time_machine.travel(at(4 + 16), tick=True):  # past the 15-day target
        judge = await staff_headers(client, factory, applied.signing.world.judge)
        shown = (await client.get(base, headers=judge)).json()
        assert due_of(shown, "decide")["overdue"] and not due_of(shown, "decide_limit")["overdue"]
        item = queued_item((await client.get(queue_url, headers=judge)).json())
        assert item["deadline"]["code"] == "decide" and item["deadline"]["overdue"] is True
    with time_machine.travel(at(4 + 31), tick=True):  # past the statutory 30 days
        judge = await staff_headers(client, factory, applied.signing.world.judge)
        shown = (await client.get(base, headers=judge)).json()
        assert due_of(shown, "decide_limit")["overdue"] is True


async def test_a_missed_supplement_deadline_counts_as_withdrawal(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    with time_machine.travel(T0, tick=True):
        applied = await claimed(client, factory)
        due = at(5, 23)
        r = await client.post(
            f"/api/confirmations/{applied.id}/decision",
            json={
                "outcome": "supplement_requested",
                "reason": "请补充借款凭证。",
                "supplement_due": due.isoformat(),
            },
            headers=applied.judge,
        )
        assert r.status_code == 200 and r.json()["status"] == "supplement_requested", r.text
        assert [d["code"] for d in r.json()["deadlines"]] == ["supplement", "decide_limit"]
    with time_machine.travel(due + timedelta(minutes=1), tick=True):
        party = await _party(client, factory, applied)
        r = await client.get(f"/api/confirmations/{applied.id}", headers=party)
        assert r.status_code == 200 and r.json()["status"] == "withdrawn", r.text
        assert r.json()["history"][-1]["action"] == "confirmation.withdrawn"
        assert r.json()["history"][-1]["actor"] == "system"
        assert r.json()["history"][-1]["note"], "the history says why it was withdrawn"
        r = await client.post(
            f"/api/confirmations/{applied.id}/supplement", json={"note": "迟交"}, headers=party
        )
        assert r.status_code == 409, r.text
