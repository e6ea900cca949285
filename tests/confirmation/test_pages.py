"""The confirmation pages and hooks, as served: the section on the case pages (the form to
apply, joining, the ruling), a join link leading to an application that awaits the party, the
court's queue (filters, deadlines, overdue marked in words), and the application page with its
materials, the decision form for the judge holding it, and the ruling.
(What the pages' scripts do is tested in Chromium: tests/browser/test_confirmation.py.)"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import httpx

from confirmation.models import Application
from service.clock import now
from tests.confirmation.helpers import (
    another_judge,
    claimed,
    effective,
    hold_session,
    queued,
    staff_headers,
)
from tests.conftest import Factory

ASKED = "请补充借条原件。"


def page_data(text: str) -> dict[str, Any]:
    found = re.search(
        r'<script type="application/json" id="confirmation-data">(.*?)</script>', text
    )
    assert found, "no confirmation-data block"
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def has(text: str, name: str) -> bool:
    return f'data-testid="{name}"' in text


async def test_the_case_page_offers_the_application_once_the_agreement_is_in_effect(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    signing = await effective(client, factory)
    world = signing.world
    r = await client.get(f"/cases/{world.case.id}", headers=signing.mediator)
    assert r.status_code == 200, r.text
    assert has(r.text, "confirmation-apply")
    assert has(r.text, f"court-{world.court.id}") and world.court.name in r.text
    assert has(r.text, "deadline-apply")  # the 30 days, with its date
    assert 'src="/static/js/confirmation/case.js"' in r.text

    r = await client.post(
        f"/api/cases/{world.case.id}/confirmation",
        json={"court_id": world.court.id},
        headers=signing.mediator,
    )
    assert r.status_code == 201, r.text
    application_id = r.json()["id"]
    r = await client.get(f"/cases/{world.case.id}", headers=signing.mediator)
    assert not has(r.text, "confirmation-apply")
    assert 'data-status="awaiting_consent"' in r.text
    assert world.applicant.name in r.text and has(r.text, "confirmation-awaiting")
    assert f'href="/confirmations/{application_id}"' in r.text

    # A party is asked to join it, on their case page; their join link leads there.
    r = await client.get("/my-case", headers=signing.applicant)
    assert r.status_code == 200, r.text
    assert has(r.text, "confirmation-consent") and has(r.text, "confirmation-withdraw")
    r = await client.post(f"/api/confirmations/{application_id}/consent", headers=signing.applicant)
    assert r.status_code == 200, r.text
    r = await client.get("/my-case", headers=signing.applicant)
    assert not has(r.text, "confirmation-consent")
    assert has(r.text, "confirmation-withdraw")


async def test_a_join_link_leads_to_the_application_awaiting_the_party(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    from confirmation.pages import party_landing

    signing = await effective(client, factory)
    world = signing.world
    async with factory.uow() as s:
        assert await party_landing(s, world.applicant) is None  # nothing to join yet
    r = await client.post(
        f"/api/cases/{world.case.id}/confirmation",
        json={"court_id": world.court.id},
        headers=signing.applicant,
    )
    assert r.status_code == 201, r.text
    async with factory.uow() as s:
        # The applicant joined by applying; the respondent is awaited.
        assert await party_landing(s, world.applicant) is None
        assert await party_landing(s, world.respondent) == "/my-case#confirmation"


async def test_the_late_application_is_not_offered(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    from agreements.models import Agreement

    signing = await effective(client, factory)
    async with factory.uow() as s:
        agreement = await s.get(Agreement, signing.id)
        assert agreement is not None
        agreement.effective_at = now() - timedelta(days=40)
        s.add(agreement)
    r = await client.get(f"/cases/{signing.world.case.id}", headers=signing.mediator)
    assert has(r.text, "confirmation-late") and not has(r.text, "confirmation-apply")


async def test_the_court_s_queue_page(client: httpx.AsyncClient, factory: Factory) -> None:
    applied = await queued(client, factory)
    court = applied.signing.world.court
    r = await client.get(f"/courts/{court.id}/queue", headers=applied.clerk)
    assert r.status_code == 200, r.text
    assert has(r.text, f"queue-item-{applied.id}")
    assert has(r.text, f"accept-{applied.id}") and has(r.text, f"refuse-{applied.id}")
    assert has(r.text, "deadline-accept") and not has(r.text, "overdue")
    assert 'src="/static/js/confirmation/queue.js"' in r.text

    # Past the three days the item is marked Overdue, in words.
    async with factory.uow() as s:
        application = await s.get(Application, applied.id)
        assert application is not None
        application.queued_at = now() - timedelta(days=6)
        s.add(application)
    r = await client.get(f"/courts/{court.id}/queue", headers=applied.judge)
    assert has(r.text, "overdue") and "queue-item overdue" in r.text

    # The staff home leads a judge or a clerk to their court's queue.
    r = await client.get("/home", headers=applied.judge)
    assert 'href="/queue"' in r.text
    r = await client.get("/queue", headers=applied.clerk, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/courts/{court.id}/queue"

    # Filters: nothing is accepted yet.
    r = await client.get(f"/courts/{court.id}/queue?status=accepted", headers=applied.judge)
    assert r.status_code == 200 and has(r.text, "queue-empty")
    r = await client.get(f"/courts/{court.id}/queue?status=nonsense", headers=applied.judge)
    assert r.status_code == 400 and has(r.text, "error-message")

    r = await client.post(
        f"/api/confirmations/{applied.id}/accept", json={"accept": True}, headers=applied.clerk
    )
    assert r.status_code == 200, r.text
    r = await client.get(f"/courts/{court.id}/queue?status=accepted", headers=applied.judge)
    assert has(r.text, f"claim-{applied.id}")  # judges claim
    r = await client.get(f"/courts/{court.id}/queue", headers=applied.clerk)
    assert not has(r.text, f"claim-{applied.id}")  # clerks do not


async def test_the_queue_is_its_court_s_alone(client: httpx.AsyncClient, factory: Factory) -> None:
    applied = await queued(client, factory)
    court = applied.signing.world.court
    other = await factory.world()
    judge = await staff_headers(client, factory, other.judge)
    r = await client.get(f"/courts/{court.id}/queue", headers=judge)
    assert r.status_code == 404 and has(r.text, "error-message")
    r = await client.get(f"/confirmations/{applied.id}", headers=judge)
    assert r.status_code == 404
    r = await client.get(f"/courts/{court.id}/queue", headers=applied.signing.mediator)
    assert r.status_code == 403
    r = await client.get("/queue", headers=applied.signing.mediator)
    assert r.status_code == 403
    r = await client.get(f"/courts/{court.id}/queue", headers=applied.signing.applicant)
    assert r.status_code in (401, 403)


async def test_the_application_page_shows_the_materials_to_the_court(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    applied = await queued(client, factory)
    world = applied.signing.world
    r = await client.get(f"/confirmations/{applied.id}", headers=applied.clerk)
    assert r.status_code == 200, r.text
    application = applied.application
    materials = f"/api/confirmations/{application['id']}/documents"
    assert f'href="{materials}/{application["agreement_sha256"]}"' in r.text
    assert f'href="{materials}/{application["record_sha256"]}"' in r.text
    for sha256 in (application["agreement_sha256"], application["record_sha256"]):
        pdf = await client.get(f"{materials}/{sha256}", headers=applied.clerk)
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert world.court.name in r.text and has(r.text, "accept")
    # Each party's identity for the court, the ID number masked.
    for party in (world.applicant, world.respondent):
        assert party.name in r.text
        if party.id_number:
            assert party.id_number not in r.text
            assert party.id_number[:6] + "********" + party.id_number[-4:] in r.text
    assert page_data(r.text)["application_id"] == applied.id
    assert not has(r.text, "decision-form")

    # A party sees it too, with their own details only.
    r = await client.get(f"/confirmations/{applied.id}", headers=applied.signing.respondent)
    assert r.status_code == 200, r.text
    assert has(r.text, "withdraw") and not has(r.text, "accept")
    if world.applicant.id_number:
        assert world.applicant.id_number[-4:] + "</dd>" not in r.text.split("application-party-")[1]


async def test_the_judge_holding_it_decides_and_the_parties_see_the_ruling(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    applied = await claimed(client, factory)
    r = await client.get(f"/confirmations/{applied.id}", headers=applied.judge)
    assert r.status_code == 200, r.text
    assert has(r.text, "decision-form")
    for ground in ("violates_mandatory_law", "not_voluntary", "content_unclear", "other"):
        assert has(r.text, f"ground-{ground}")
    # Another judge of the court reads it, but has no decision form.
    colleague = await another_judge(factory, applied.signing.world.court)
    r = await client.get(
        f"/confirmations/{applied.id}", headers=await staff_headers(client, factory, colleague)
    )
    assert r.status_code == 200 and not has(r.text, "decision-form")

    await hold_session(client, applied)
    r = await client.get(f"/confirmations/{applied.id}", headers=applied.signing.applicant)
    assert has(r.text, "session-link")
    r = await client.post(
        f"/api/confirmations/{applied.id}/decision",
        json={"outcome": "confirmed"},
        headers=applied.judge,
    )
    assert r.status_code == 200, r.text
    sha256 = r.json()["ruling_sha256"]
    for party in (applied.signing.applicant, applied.signing.respondent):
        r = await client.get("/my-case", headers=party)
        assert has(r.text, "confirmation-ruling")
        # Through the application's route, where opening it is the party's receipt.
        assert f'href="/api/confirmations/{applied.id}/documents/{sha256}"' in r.text
        assert not has(r.text, "confirmation-withdraw")
        r = await client.get(f"/confirmations/{applied.id}", headers=party)
        assert has(r.text, "ruling-section") and 'data-outcome="confirmed"' in r.text
        assert f'href="/api/confirmations/{applied.id}/documents/{sha256}"' in r.text


async def test_a_supplement_asked_for_is_handed_in_on_the_application_page(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    applied = await claimed(client, factory)
    due = (now() + timedelta(days=5)).isoformat()
    r = await client.post(
        f"/api/confirmations/{applied.id}/decision",
        json={"outcome": "supplement_requested", "reason": ASKED, "supplement_due": due},
        headers=applied.judge,
    )
    assert r.status_code == 200, r.text
    r = await client.get(f"/confirmations/{applied.id}", headers=applied.signing.applicant)
    assert has(r.text, "supplement-note") and ASKED in r.text
    assert has(r.text, "deadline-supplement")
    r = await client.get(f"/confirmations/{applied.id}", headers=applied.judge)
    assert not has(r.text, "supplement-note") and not has(r.text, "decision-form")
    # The party hands it in; the judge reads what they said in the application's history.
    handed = "已补充借款凭证原件照片。"
    r = await client.post(
        f"/api/confirmations/{applied.id}/supplement",
        json={"note": handed},
        headers=applied.signing.applicant,
    )
    assert r.status_code == 200 and r.json()["status"] == "claimed", r.text
    assert r.json()["history"][-1]["note"] == handed
    r = await client.get(f"/confirmations/{applied.id}", headers=applied.judge)
    assert has(r.text, "application-history") and f"<q>{handed}</q>" in r.text
