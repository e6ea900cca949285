"""Judicial confirmation through the API: from an effective agreement to a confirmed ruling
and to a rejection, with the refusals the law and the roles call for."""

from __future__ import annotations

import asyncio
import re
import subprocess
from typing import Any

import httpx

from tests.confirmation.helpers import (
    another_judge,
    claimed,
    effective,
    hold_session,
    queued,
    staff_headers,
)
from tests.conftest import Factory


def _text(path: str) -> str:
    return subprocess.run(
        ["pdftotext", path, "-"], capture_output=True, text=True, check=True
    ).stdout


async def _ruling_text(
    client: httpx.AsyncClient, sha256: str, headers: dict[str, str], tmp: Any
) -> str:
    r = await client.get(f"/api/documents/{sha256}", headers=headers)
    assert r.status_code == 200, r.text
    path = tmp / f"{sha256}.pdf"
    path.write_bytes(r.content)
    verified = await client.post(
        "/api/documents/verify", content=r.content, headers={"Content-Type": "application/pdf"}
    )
    assert verified.status_code == 200, verified.text
    body = verified.json()
    assert body["genuine"] is True and body["seal"]["ours"] is True, body
    assert body["issued"]["kind"] == "ruling"
    return "".join(_text(str(path)).split())


async def test_from_an_effective_agreement_to_a_confirmed_ruling(
    client: httpx.AsyncClient, factory: Factory, tmp_path: Any
) -> None:
    applied = await queued(client, factory)
    application = applied.application
    assert application["record_sha256"], "the mediation record goes with the application"
    assert [d["code"] for d in application["deadlines"]] == ["accept"]
    r = await client.get(
        f"/api/courts/{applied.signing.world.court.id}/queue", headers=applied.clerk
    )
    assert r.status_code == 200 and applied.id in [i["id"] for i in r.json()["items"]]

    r = await client.post(
        f"/api/confirmations/{applied.id}/accept", json={"accept": True}, headers=applied.clerk
    )
    assert r.status_code == 200, r.text
    number = r.json()["number"]
    assert re.fullmatch(r"（\d{4}）晋0403民特\d+号", number), number
    assert [d["code"] for d in r.json()["deadlines"]] == ["decide", "decide_limit"]

    r = await client.post(f"/api/confirmations/{applied.id}/claim", headers=applied.judge)
    assert r.status_code == 200 and r.json()["status"] == "claimed"
    await hold_session(client, applied)
    r = await client.post(
        f"/api/confirmations/{applied.id}/decision",
        json={"outcome": "confirmed", "notes": "双方均到场，确认自愿。"},
        headers=applied.judge,
    )
    assert r.status_code == 200, r.text
    decided = r.json()
    assert decided["status"] == "confirmed" and decided["ruling_sha256"]
    text = await _ruling_text(client, decided["ruling_sha256"], applied.signing.applicant, tmp_path)
    world = applied.signing.world
    for expected in (number, world.applicant.name, world.respondent.name, "民事裁定书", "协议有效"):
        assert expected in text, expected
    actions = [h["action"] for h in decided["history"]]
    assert actions[:2] == ["confirmation.applied", "confirmation.consented"]
    assert actions[-1] == "confirmation.confirmed"


async def test_a_rejection_names_its_grounds(
    client: httpx.AsyncClient, factory: Factory, tmp_path: Any
) -> None:
    applied = await claimed(client, factory)
    r = await client.post(
        f"/api/confirmations/{applied.id}/decision",
        json={"outcome": "rejected", "reason": "履行期限不明确。"},
        headers=applied.judge,
    )
    assert (r.status_code == 422 and "ground" in r.text.lower()) or r.status_code == 422
    r = await client.get(f"/api/confirmations/{applied.id}", headers=applied.judge)
    assert r.json()["status"] == "claimed" and r.json()["decisions"] == []
    r = await client.post(
        f"/api/confirmations/{applied.id}/decision",
        json={"outcome": "rejected", "grounds": ["content_unclear"], "reason": "履行期限不明确。"},
        headers=applied.judge,
    )
    assert r.status_code == 200, r.text
    text = await _ruling_text(
        client, r.json()["ruling_sha256"], applied.signing.respondent, tmp_path
    )
    assert "驳回" in text and "内容不明确" in text


async def test_twenty_judges_claim_at_once_and_one_holds_it(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    applied = await queued(client, factory)
    await client.post(
        f"/api/confirmations/{applied.id}/accept", json={"accept": True}, headers=applied.clerk
    )
    court = applied.signing.world.court
    judges = [await another_judge(factory, court) for _ in range(20)]
    headers = [await staff_headers(client, factory, judge) for judge in judges]
    results = await asyncio.gather(
        *(client.post(f"/api/confirmations/{applied.id}/claim", headers=h) for h in headers)
    )
    codes = sorted(r.status_code for r in results)
    assert codes == [200] + [409] * 19, codes
    winner = next(r for r in results if r.status_code == 200).json()["claimed_by"]
    r = await client.get(f"/api/confirmations/{applied.id}", headers=applied.judge)
    assert r.json()["claimed_by"] == winner


async def test_only_the_claiming_judge_decides(client: httpx.AsyncClient, factory: Factory) -> None:
    applied = await claimed(client, factory)
    other = await staff_headers(
        client, factory, await another_judge(factory, applied.signing.world.court)
    )
    r = await client.post(
        f"/api/confirmations/{applied.id}/decision", json={"outcome": "confirmed"}, headers=other
    )
    assert r.status_code == 403, r.text
    r = await client.get(f"/api/confirmations/{applied.id}", headers=applied.judge)
    assert r.json()["status"] == "claimed"


async def test_refusals_when_applying(client: httpx.AsyncClient, factory: Factory) -> None:
    signing = await effective(client, factory)
    case_id = signing.world.case.id
    elsewhere = await factory.court(region_code="晋0999")
    r = await client.post(
        f"/api/cases/{case_id}/confirmation",
        json={"court_id": elsewhere.id},
        headers=signing.mediator,
    )
    assert r.status_code == 422 and signing.world.court.name in r.text, r.text
    r = await client.post(
        f"/api/cases/{case_id}/confirmation",
        json={"court_id": signing.world.court.id},
        headers=signing.applicant,
    )
    assert r.status_code == 201, r.text
    application = r.json()
    assert application["awaiting_consent"] == [signing.world.respondent.id]
    r = await client.post(
        f"/api/cases/{case_id}/confirmation",
        json={"court_id": signing.world.court.id},
        headers=signing.mediator,
    )
    assert r.status_code == 409, r.text
    r = await client.post(
        f"/api/confirmations/{application['id']}/consent", headers=signing.applicant
    )
    assert r.status_code == 409, r.text  # joined already, when starting it
    r = await client.post(
        f"/api/confirmations/{application['id']}/consent", headers=signing.mediator
    )
    assert r.status_code == 403, r.text


async def test_a_judge_of_another_court_sees_nothing(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    applied = await queued(client, factory)
    other_court = await factory.court(region_code="晋0404")
    outsider = await staff_headers(client, factory, await another_judge(factory, other_court))
    assert (
        await client.get(f"/api/confirmations/{applied.id}", headers=outsider)
    ).status_code == 404
    r = await client.get(f"/api/courts/{applied.signing.world.court.id}/queue", headers=outsider)
    assert r.status_code == 404
    r = await client.post(
        f"/api/confirmations/{applied.id}/accept", json={"accept": True}, headers=outsider
    )
    assert r.status_code == 404
    r = await client.get(f"/api/documents/{applied.application['record_sha256']}", headers=outsider)
    assert r.status_code in (403, 404)


async def test_the_court_sees_an_application_only_once_every_party_joined(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    signing = await effective(client, factory)
    r = await client.post(
        f"/api/cases/{signing.world.case.id}/confirmation",
        json={"court_id": signing.world.court.id},
        headers=signing.applicant,
    )
    assert r.status_code == 201, r.text
    application_id = r.json()["id"]
    clerk = await staff_headers(client, factory, signing.world.clerk)
    assert (
        await client.get(f"/api/confirmations/{application_id}", headers=clerk)
    ).status_code == 404
    r = await client.get(
        f"/api/courts/{signing.world.court.id}/queue?status=awaiting_consent", headers=clerk
    )
    assert r.status_code == 422, r.text
    r = await client.post(
        f"/api/confirmations/{application_id}/consent", headers=signing.respondent
    )
    assert r.status_code == 200 and r.json()["status"] == "queued", r.text
    assert (
        await client.get(f"/api/confirmations/{application_id}", headers=clerk)
    ).status_code == 200


async def test_a_supplement_s_deadline_carries_its_offset(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    applied = await claimed(client, factory)
    r = await client.post(
        f"/api/confirmations/{applied.id}/decision",
        json={
            "outcome": "supplement_requested",
            "reason": "补充房产证明",
            "supplement_due": "2026-12-30T00:00",
        },
        headers=applied.judge,
    )
    assert r.status_code == 422 and "supplement_due" in r.text, r.text
