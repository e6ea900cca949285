"""The agreements' pages and hooks, as served: the mediator's editor, the party's signing page,
the agreement on the case pages, and a join link leading to a signature that is awaited.
(What the pages' scripts do is tested in Chromium: tests/browser/test_agreement.py.)"""

from __future__ import annotations

import html
import json
import re
from typing import Any

import httpx

from tests.agreements.helpers import drafted, in_mediation, out_for_signing, sign
from tests.conftest import Factory

TEMPLATES = ("property_management", "debt", "neighbour", "family", "labour", "traffic")


def page_data(text: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="agreement-data">(.*?)</script>', text)
    assert found, "no agreement-data block"
    data: dict[str, Any] = json.loads(found.group(1))
    return data


async def test_the_editor_starts_from_a_template_then_shows_the_agreement(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    world, mediator = await in_mediation(client, factory)
    r = await client.get(f"/cases/{world.case.id}/agreement", headers=mediator)
    assert r.status_code == 200, r.text
    for template in TEMPLATES:
        assert f'data-testid="template-{template}"' in r.text
    # The case's own kind of dispute is offered first (the factory's cases are neighbours').
    assert re.search(r'value="neighbour" data-testid="template-neighbour" checked', r.text)
    assert page_data(r.text)["agreement"] is None

    r = await client.post(
        f"/api/cases/{world.case.id}/agreement", json={"template": "debt"}, headers=mediator
    )
    assert r.status_code == 201, r.text
    r = await client.get(f"/cases/{world.case.id}/agreement", headers=mediator)
    data = page_data(r.text)
    assert data["agreement"]["latest_version"] == 1
    assert {p["id"] for p in data["parties"]} == {world.applicant.id, world.respondent.id}
    assert data["signs"] is True and data["mediating"] is True
    assert 'src="/static/js/agreement/editor.js"' in r.text


async def test_the_editor_is_for_the_committee_s_mediators_only(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    signing = await drafted(client, factory)
    case_id = signing.world.case.id
    other = await factory.world()
    r = await client.get(
        f"/cases/{case_id}/agreement", headers=await factory.login(client, other.mediator)
    )
    assert r.status_code == 404
    assert 'data-testid="error-message"' in r.text
    client.cookies.clear()
    r = await client.get(f"/cases/{case_id}/agreement", headers=signing.applicant)
    assert r.status_code == 403
    # Another mediator of the committee edits it, but only the case's own signs it.
    colleague = await factory.login(client, signing.world.other_mediator)
    r = await client.get(f"/cases/{case_id}/agreement", headers=colleague)
    assert r.status_code == 200 and page_data(r.text)["signs"] is False


async def test_the_signing_page_shows_the_version_out_for_signing_bound_to_its_hash(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    signing = await out_for_signing(client, factory)
    world, version = signing.world, signing.agreement["version"]
    r = await client.get(f"/agreements/{signing.id}/sign", headers=signing.respondent)
    assert r.status_code == 200, r.text
    assert f'data-version="{signing.agreement["signing_version"]}"' in r.text
    assert f'data-sha256="{version["content_sha256"]}"' in r.text
    for clause in version["clauses"]:
        assert html.escape(clause["text"], quote=False) in r.text
    assert 'data-testid="sign-box"' in r.text and "agreement/sign.js" in r.text
    # The other party by name and role only: the applicant's phone is not on the page.
    assert world.applicant.name in r.text and "13800000001" not in r.text
    r = await client.get(f"/agreements/{signing.id}/sign", headers=signing.applicant)
    assert "13800000001" in r.text  # their own

    r = await sign(client, signing, signing.respondent)
    assert r.status_code == 201, r.text
    r = await client.get(f"/agreements/{signing.id}/sign", headers=signing.respondent)
    assert 'data-testid="sign-box"' not in r.text and "agreement/sign.js" not in r.text
    assert 'data-testid="sign-state"' in r.text and 'data-testid="awaiting"' in r.text


async def test_the_signing_page_says_when_the_text_read_was_replaced(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    signing = await out_for_signing(client, factory)
    content = signing.agreement["version"]["content"]
    content["other_terms"].append("双方确认本协议系自愿达成。")
    r = await client.put(
        f"/api/agreements/{signing.id}",
        json={"base_version": signing.agreement["latest_version"], "content": content},
        headers=signing.mediator,
    )
    assert r.status_code == 200, r.text
    old = signing.agreement["latest_version"]
    r = await client.get(f"/agreements/{signing.id}/sign?changed={old}", headers=signing.applicant)
    assert r.status_code == 200
    assert 'data-testid="changed-notice"' in r.text
    assert 'data-testid="sign-box"' not in r.text  # a draft again: nothing to sign


async def test_who_may_open_a_signing_page(client: httpx.AsyncClient, factory: Factory) -> None:
    signing = await out_for_signing(client, factory)
    r = await client.get(f"/agreements/{signing.id}/sign", headers=signing.mediator)
    assert r.status_code == 303
    assert r.headers["location"] == f"/cases/{signing.world.case.id}/agreement"
    r = await client.get(f"/agreements/{signing.id}/sign")  # no session: how to get back in
    assert r.status_code == 401 and 'data-testid="error-message"' in r.text
    other = await drafted(client, factory)
    r = await client.get(f"/agreements/{signing.id}/sign", headers=other.applicant)
    assert r.status_code == 404
    r = await client.get("/agreements/999999999/sign", headers=signing.applicant)
    assert r.status_code == 404


async def test_the_case_pages_lead_to_the_agreement(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    world, mediator = await in_mediation(client, factory)
    r = await client.get(f"/cases/{world.case.id}", headers=mediator)
    assert 'data-testid="start-agreement-link"' in r.text

    signing = await out_for_signing(client, factory)
    case_id = signing.world.case.id
    r = await client.get(f"/cases/{case_id}", headers=signing.mediator)
    assert 'data-testid="open-agreement"' in r.text
    assert 'data-status="signing"' in r.text
    r = await client.get("/my-case", headers=signing.applicant)
    assert 'data-testid="agreement-waiting"' in r.text
    assert f'href="/agreements/{signing.id}/sign"' in r.text
    r = await sign(client, signing, signing.applicant)
    assert r.status_code == 201, r.text
    r = await client.get("/my-case", headers=signing.applicant)
    assert 'data-testid="agreement-waiting"' not in r.text
    assert 'data-testid="agreement-signed"' in r.text


async def test_a_join_link_leads_to_the_signature_awaited(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    signing = await out_for_signing(client, factory)
    world = signing.world
    token = await factory.invite(world.mediator, world.case, world.respondent)
    r = await client.get(f"/join/{token}")
    assert r.status_code == 303
    assert r.headers["location"] == f"/agreements/{signing.id}/sign"
    client.cookies.clear()
    r = await sign(client, signing, signing.respondent)
    assert r.status_code == 201, r.text
    token = await factory.invite(world.mediator, world.case, world.respondent)
    r = await client.get(f"/join/{token}")
    assert r.headers["location"] == "/my-case"  # signed: nothing waits for them


async def test_the_pages_escape_what_the_mediator_wrote(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    signing = await drafted(client, factory)
    content = signing.agreement["version"]["content"]
    content["facts"] = "</script><script>alert(1)</script>{{ 7*7 }}"
    r = await client.put(
        f"/api/agreements/{signing.id}",
        json={"base_version": signing.agreement["latest_version"], "content": content},
        headers=signing.mediator,
    )
    assert r.status_code == 200, r.text
    r = await client.get(f"/cases/{signing.world.case.id}/agreement", headers=signing.mediator)
    assert "<script>alert(1)" not in r.text and "</script><script>" not in r.text
    assert page_data(r.text)["agreement"]["version"]["content"]["facts"] == content["facts"]
    r = await client.get(f"/agreements/{signing.id}/sign", headers=signing.applicant)
    assert "<script>alert(1)" not in r.text and "{{ 7*7 }}" in r.text


async def test_a_voided_agreement_leaves_the_editor_to_start_another(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    signing = await out_for_signing(client, factory)
    r = await client.post(
        f"/api/agreements/{signing.id}/void",
        json={"reason": "双方另行协商"},
        headers=signing.mediator,
    )
    assert r.status_code == 200, r.text
    r = await client.get(f"/cases/{signing.world.case.id}/agreement", headers=signing.mediator)
    assert page_data(r.text)["agreement"] is None and 'data-testid="start-agreement"' in r.text
    r = await client.get(f"/agreements/{signing.id}/sign", headers=signing.applicant)
    assert r.status_code == 200 and 'data-status="void"' in r.text
    assert 'data-testid="sign-box"' not in r.text
    r = await client.get("/my-case", headers=signing.applicant)
    assert 'data-testid="agreement-section"' not in r.text
