"""Shared steps: an effective agreement whose committee has a basic court, an application
made and joined by both parties, accepted and claimed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from service.models import Organisation, Role, User
from tests.agreements.helpers import Signing, out_for_signing, sign
from tests.conftest import Factory


@dataclass
class Applied:
    signing: Signing
    application: dict[str, Any]
    judge: dict[str, str]
    clerk: dict[str, str]

    @property
    def id(self) -> int:
        return int(self.application["id"])


async def effective(client: httpx.AsyncClient, factory: Factory) -> Signing:
    signing = await out_for_signing(client, factory)
    for who in (signing.applicant, signing.respondent):
        assert (await sign(client, signing, who)).status_code == 201
    r = await sign(
        client,
        signing,
        signing.mediator,
        method="typed",
        image_png=None,
        typed_name=signing.world.mediator.name,
    )
    assert r.status_code == 201 and r.json()["status"] == "effective", r.text
    signing.agreement = r.json()
    async with factory.uow() as s:  # the committee's basic court: the world's court
        committee = await s.get(Organisation, signing.world.committee.id)
        assert committee is not None
        committee.court_id = signing.world.court.id
        s.add(committee)
    return signing


async def staff_headers(client: httpx.AsyncClient, factory: Factory, user: User) -> dict[str, str]:
    headers = await factory.login(client, user)
    client.cookies.clear()
    return headers


async def queued(
    client: httpx.AsyncClient,
    factory: Factory,
    before_consent: Callable[[Signing], Awaitable[None]] | None = None,
) -> Applied:
    signing = await effective(client, factory)
    if before_consent is not None:  # e.g. what the meetings left, for the mediation record
        await before_consent(signing)
    r = await client.post(
        f"/api/cases/{signing.world.case.id}/confirmation",
        json={"court_id": signing.world.court.id},
        headers=signing.mediator,
    )
    assert r.status_code == 201, r.text
    application = r.json()
    for party in (signing.applicant, signing.respondent):
        r = await client.post(f"/api/confirmations/{application['id']}/consent", headers=party)
        assert r.status_code == 200, r.text
    assert r.json()["status"] == "queued"
    return Applied(
        signing,
        r.json(),
        await staff_headers(client, factory, signing.world.judge),
        await staff_headers(client, factory, signing.world.clerk),
    )


async def claimed(
    client: httpx.AsyncClient,
    factory: Factory,
    before_consent: Callable[[Signing], Awaitable[None]] | None = None,
) -> Applied:
    applied = await queued(client, factory, before_consent)
    r = await client.post(
        f"/api/confirmations/{applied.id}/accept", json={"accept": True}, headers=applied.clerk
    )
    assert r.status_code == 200, r.text
    r = await client.post(f"/api/confirmations/{applied.id}/claim", headers=applied.judge)
    assert r.status_code == 200, r.text
    applied.application = r.json()
    return applied


async def another_judge(factory: Factory, court: Organisation) -> User:
    return await factory.user(Role.judge, court)


CHECKED = {
    "identity": True,
    "capacity": True,
    "voluntary": True,
    "understands_terms": True,
    "sham_warning": True,
}


async def hold_session(client: httpx.AsyncClient, applied: Applied) -> dict[str, Any]:
    """The claiming judge's joint session: opened, every party checked, the notes written
    and confirmed by each party. Returns the session record as GET shows it."""
    world = applied.signing.world
    r = await client.post(f"/api/confirmations/{applied.id}/session", headers=applied.judge)
    assert r.status_code in (200, 201), r.text
    r = await client.put(
        f"/api/confirmations/{applied.id}/session/record",
        json={
            "checklist": {str(p.id): CHECKED for p in (world.applicant, world.respondent)},
            "notes": "审判员核对双方身份；双方确认自愿达成协议，理解各项条款。",
        },
        headers=applied.judge,
    )
    assert r.status_code == 200, r.text
    sha = r.json()["notes_sha256"]
    for party in (applied.signing.applicant, applied.signing.respondent):
        r = await client.post(
            f"/api/confirmations/{applied.id}/session/record/confirm",
            json={"notes_sha256": sha},
            headers=party,
        )
        assert r.status_code == 200, r.text
    return dict(r.json())
