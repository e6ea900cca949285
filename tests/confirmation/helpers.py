"""Shared steps: an effective agreement whose committee has a basic court, an application
made and joined by both parties, accepted and claimed."""

from __future__ import annotations

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
        client, signing, signing.mediator, method="typed", image_png=None, typed_name="调解员"
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


async def queued(client: httpx.AsyncClient, factory: Factory) -> Applied:
    signing = await effective(client, factory)
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


async def claimed(client: httpx.AsyncClient, factory: Factory) -> Applied:
    applied = await queued(client, factory)
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
