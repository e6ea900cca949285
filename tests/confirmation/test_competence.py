"""Which courts may confirm an agreement (CPL 205): the court that referred the case, alone
when there is one; otherwise the committee's court, the parties' domiciles and the place of
the subject matter. The two facts a case records for it are checked where a mediator sets
them (intake, PATCH), and a refused one writes nothing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from sqlalchemy import text
from sqlmodel import select

from confirmation import competence
from confirmation.models import Application, Basis
from service import venue
from service.app import create_app
from service.db import make_engine
from service.migrate import alembic_config, upgrade
from service.models import AuditEvent, Case
from tests.confirmation.helpers import effective, queued
from tests.conftest import Databases, Factory, make_settings
from tests.test_cases import case_body, row_counts


async def _courts(client: httpx.AsyncClient, case_id: int, headers: dict[str, str]) -> list[Any]:
    r = await client.get(f"/api/cases/{case_id}/courts", headers=headers)
    assert r.status_code == 200, r.text
    return list(r.json())


async def _patch(
    client: httpx.AsyncClient, case_id: int, headers: dict[str, str], **body: Any
) -> httpx.Response:
    return await client.patch(f"/api/cases/{case_id}", json=body, headers=headers)


def _loc(r: httpx.Response) -> list[Any]:
    return [e["loc"] for e in r.json()["detail"]]


async def _updates(factory: Factory, case_id: int) -> list[dict[str, Any]]:
    async with factory.uow() as s:
        rows = (
            await s.exec(
                select(AuditEvent).where(
                    AuditEvent.case_id == case_id, AuditEvent.action == "case.updated"
                )
            )
        ).all()
    return [json.loads(e.data) for e in rows]


async def test_a_referred_case_goes_to_the_referring_court_alone(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    signing = await effective(client, factory)
    world = signing.world
    case_id = world.case.id or 0
    home = await factory.court()  # 晋0403, where the parties live
    before = {c["id"]: c["basis"] for c in await _courts(client, case_id, signing.mediator)}
    assert before[world.court.id] == "committee_location"
    assert before[home.id] == "party_domicile"

    referring = await factory.court(region_code="晋0405")
    r = await _patch(client, case_id, signing.mediator, referred_by_court_id=referring.id)
    assert r.status_code == 200, r.text
    assert r.json()["referred_by_court_id"] == referring.id
    assert r.json()["subject_region"] is None  # what was not sent stays as it was

    courts = await _courts(client, case_id, signing.applicant)
    assert [(c["id"], c["basis"]) for c in courts] == [(referring.id, "invited_by_court")]
    assert courts[0]["basis_label"]

    # The committee's own court is competent no more: the refusal names the one that is.
    r = await client.post(
        f"/api/cases/{case_id}/confirmation",
        json={"court_id": world.court.id},
        headers=signing.mediator,
    )
    assert r.status_code == 422, r.text
    assert _loc(r) == [["body", "court_id"]] and referring.name in r.text
    r = await client.post(
        f"/api/cases/{case_id}/confirmation",
        json={"court_id": referring.id},
        headers=signing.mediator,
    )
    assert r.status_code == 201, r.text
    assert r.json()["basis"] == "invited_by_court"
    async with factory.uow() as s:  # the database's CHECK on basis admits it
        stored = await s.get(Application, r.json()["id"])
        assert stored is not None and stored.basis == Basis.invited_by_court

    assert await _updates(factory, case_id) == [
        {"referred_by_court_id": {"from": None, "to": referring.id}}
    ]


async def test_the_court_where_the_subject_matter_is(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    signing = await effective(client, factory)
    world = signing.world
    case_id = world.case.id or 0
    there = await factory.court(region_code="晋0521")  # 140521, where no party lives
    assert there.id not in {c["id"] for c in await _courts(client, case_id, signing.mediator)}

    r = await _patch(client, case_id, signing.mediator, subject_region="140521")
    assert r.status_code == 200 and r.json()["subject_region"] == "140521", r.text
    courts = {c["id"]: c["basis"] for c in await _courts(client, case_id, signing.mediator)}
    assert courts[there.id] == "subject_matter"
    assert courts[world.court.id] == "committee_location"  # the others stay competent

    r = await client.post(
        f"/api/cases/{case_id}/confirmation",
        json={"court_id": there.id},
        headers=signing.applicant,
    )
    assert r.status_code == 201, r.text
    assert r.json()["basis"] == "subject_matter"


async def test_a_court_competent_twice_is_proposed_once(factory: Factory) -> None:
    world = await factory.world()  # the parties live in 140403, the court's region
    async with factory.uow() as s:
        case = await s.get(Case, world.case.id)
        assert case is not None
        case.subject_region = "140403"
        found = await competence.competent_courts(s, case)
    ids = [c.court.id for c in found]
    assert len(ids) == len(set(ids)) and world.court.id in ids
    assert next(c.basis for c in found if c.court.id == world.court.id) == Basis.party_domicile


async def test_intake_records_both(client: httpx.AsyncClient, factory: Factory) -> None:
    world = await factory.world()
    headers = await factory.login(client, world.mediator)
    body = case_body(referred_by_court_id=world.court.id, subject_region=" 140521 ")
    r = await client.post("/api/cases", json=body, headers=headers)
    assert r.status_code == 201, r.text
    made = r.json()
    assert (made["referred_by_court_id"], made["subject_region"]) == (world.court.id, "140521")
    r = await client.get(f"/api/cases/{made['id']}", headers=headers)
    assert r.json()["referred_by_court_id"] == world.court.id
    r = await client.get(f"/api/cases/{made['id']}/audit", headers=headers)
    created = next(e for e in r.json() if e["action"] == "case.created")
    assert created["data"]["referred_by_court_id"] == world.court.id
    assert created["data"]["subject_region"] == "140521"
    # Without them, the API is as it was.
    r = await client.post("/api/cases", json=case_body(), headers=headers)
    assert r.status_code == 201, r.text
    assert (r.json()["referred_by_court_id"], r.json()["subject_region"]) == (None, None)


BAD_REGIONS = ["14040", "1404031", "14040a", "１４０４０３", "990101", "140000", "140400", ""]


async def test_a_referring_court_must_be_a_court(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    world = await factory.world()
    headers = await factory.login(client, world.mediator)
    for court_id in (world.committee.id, 2**31 - 1, 0, "1"):
        before = await row_counts(factory)
        r = await client.post(
            "/api/cases",
            json=case_body(referred_by_court_id=court_id, subject_region="140521"),
            headers=headers,
        )
        assert r.status_code == 422, (court_id, r.text)
        assert _loc(r) == [["body", "referred_by_court_id"]], r.text
        assert await row_counts(factory) == before  # no case, party, event or number

        # Changed together with a good region: neither is written.
        r = await _patch(
            client,
            world.case.id or 0,
            headers,
            referred_by_court_id=court_id,
            subject_region="140521",
        )
        assert r.status_code == 422 and _loc(r) == [["body", "referred_by_court_id"]], r.text
    r = await client.get(f"/api/cases/{world.case.id}", headers=headers)
    assert (r.json()["referred_by_court_id"], r.json()["subject_region"]) == (None, None)
    assert await _updates(factory, world.case.id or 0) == []


@pytest.mark.parametrize("region", BAD_REGIONS)
async def test_a_subject_region_is_a_county_code(
    client: httpx.AsyncClient, factory: Factory, region: str
) -> None:
    world = await factory.world()
    headers = await factory.login(client, world.mediator)
    before = await row_counts(factory)
    r = await client.post(
        "/api/cases",
        json=case_body(subject_region=region, referred_by_court_id=world.court.id),
        headers=headers,
    )
    assert r.status_code == 422 and _loc(r) == [["body", "subject_region"]], r.text
    assert await row_counts(factory) == before
    r = await _patch(
        client,
        world.case.id or 0,
        headers,
        subject_region=region,
        referred_by_court_id=world.court.id,
    )
    assert r.status_code == 422 and _loc(r) == [["body", "subject_region"]], r.text
    message = r.json()["detail"][0]["msg"]
    assert "140403" in message or region[:2] in message, message  # says what to give
    r = await client.get(f"/api/cases/{world.case.id}", headers=headers)
    assert (r.json()["referred_by_court_id"], r.json()["subject_region"]) == (None, None)


def test_the_provinces_are_the_courts_provinces() -> None:
    assert set(competence.PROVINCES.values()) == venue.MAINLAND_PROVINCES
    assert venue.region_problem("110101") is None and venue.region_problem("650102") is None


async def test_cleared_and_refused_once_ended(client: httpx.AsyncClient, factory: Factory) -> None:
    world = await factory.world()
    headers = await factory.login(client, world.mediator)
    case_id = world.case.id or 0
    r = await _patch(client, case_id, headers, referred_by_court_id=world.court.id)
    assert r.status_code == 200, r.text
    r = await _patch(client, case_id, headers, referred_by_court_id=None)
    assert r.status_code == 200 and r.json()["referred_by_court_id"] is None, r.text
    r = await _patch(client, case_id, headers)  # nothing sent, nothing changed, no event
    assert r.status_code == 200, r.text
    assert len(await _updates(factory, case_id)) == 2

    r = await client.post(
        f"/api/cases/{case_id}/status",
        json={"status": "withdrawn", "reason": "申请人撤回。"},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    r = await _patch(client, case_id, headers, subject_region="140521")
    assert r.status_code == 409 and "withdrawn" in r.text, r.text


async def test_only_the_cases_mediators_change_it(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    world = await factory.world()
    case_id = world.case.id or 0
    token = await factory.invite(world.mediator, world.case, world.applicant)
    party = await factory.party_headers(client, token)
    client.cookies.clear()
    r = await _patch(client, case_id, party, subject_region="140521")
    assert r.status_code == 403, r.text
    stranger = await factory.world()
    other = await factory.login(client, stranger.mediator)
    client.cookies.clear()
    r = await _patch(client, case_id, other, subject_region="140521")
    assert r.status_code == 404, r.text


async def test_the_case_pages_offer_the_courts(client: httpx.AsyncClient, factory: Factory) -> None:
    world = await factory.world()
    await factory.login(client, world.mediator)  # the cookie session, as a browser has
    r = await client.get("/cases/new")
    assert r.status_code == 200 and 'name="referred_by_court_id"' in r.text
    assert f'<option value="{world.court.id}"' in r.text
    assert f'<option value="{world.committee.id}"' not in r.text  # courts only
    async with factory.uow() as s:
        case = await s.get(Case, world.case.id)
        assert case is not None
        case.referred_by_court_id, case.subject_region = world.court.id, "140521"
        s.add(case)
    r = await client.get(f"/cases/{world.case.id}")
    assert r.status_code == 200 and 'id="venue-form"' in r.text
    assert f'<option value="{world.court.id}" selected>' in r.text
    assert 'value="140521"' in r.text


async def test_the_migration_keeps_cases_and_applications(
    databases: Databases, tmp_path: Path
) -> None:
    """0011 adds the columns and widens the CHECK in place, on a database whose cases and
    applications other rows refer to (a table rebuild would fail there on SQLite), and goes
    down and up again; down is refused while an application names a new basis."""
    db = await databases.new()
    await asyncio.to_thread(upgrade, db.url)
    app = create_app(make_settings(db.url, tmp_path))
    async with app.router.lifespan_context(app):
        factory = Factory(app)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client:
            applied = await queued(client, factory)
    config = alembic_config(db.url)
    await asyncio.to_thread(command.downgrade, config, "0010")
    await asyncio.to_thread(upgrade, db.url)
    engine = make_engine(db.url)
    try:
        async with engine.begin() as conn:
            rows = await conn.execute(text("SELECT basis FROM confirmation_application"))
            assert [r[0] for r in rows] == ["committee_location"]
            await conn.execute(
                text("UPDATE confirmation_application SET basis = 'subject_matter' WHERE id = :id"),
                {"id": applied.id},
            )
            court = (
                await conn.execute(text("SELECT id FROM organisation WHERE kind = 'court'"))
            ).scalar()
            await conn.execute(
                text("UPDATE mediation_case SET referred_by_court_id = :c"), {"c": court}
            )
            with pytest.raises(Exception, match=r"(?i)foreign key|violates"):
                async with conn.begin_nested():
                    await conn.execute(text("UPDATE mediation_case SET referred_by_court_id = -5"))
            if db.kind == "sqlite":
                check = (await conn.execute(text("PRAGMA integrity_check"))).scalar_one()
                assert check == "ok"
        with pytest.raises(RuntimeError, match="not downgraded"):
            await asyncio.to_thread(command.downgrade, config, "0010")
        async with engine.connect() as conn:
            counted = await conn.execute(text("SELECT count(*) FROM confirmation_consent"))
            assert counted.scalar_one() == 2
    finally:
        await engine.dispose()


async def test_an_application_under_way_fixes_the_venue(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    applied = await queued(client, factory)
    case_id = applied.signing.world.case.id or 0
    referring = await factory.court(region_code="晋0405")
    before = await _updates(factory, case_id)
    r = await _patch(client, case_id, applied.signing.mediator, referred_by_court_id=referring.id)
    assert r.status_code == 409 and "请先撤回申请" in r.json()["detail"], r.text
    r = await _patch(client, case_id, applied.signing.mediator, subject_region="140521")
    assert r.status_code == 409, r.text
    assert await _updates(factory, case_id) == before  # nothing written
    async with factory.uow() as s:
        case = await s.get(Case, case_id)
        assert case is not None
        assert case.referred_by_court_id is None and case.subject_region is None
    # Withdrawn, the application no longer holds it.
    r = await client.post(
        f"/api/confirmations/{applied.id}/withdraw",
        json={"reason": "双方自行履行"},
        headers=applied.signing.applicant,
    )
    assert r.status_code == 200, r.text
    r = await _patch(client, case_id, applied.signing.mediator, subject_region="140521")
    assert r.status_code == 200, r.text
