"""Drafting: templates, versions with hashes, optimistic saves, the check, the diff, and
refusals that leave everything as it was."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest

from tests.agreements.helpers import FACTS, drafted, in_mediation
from tests.conftest import Factory

TEMPLATES = {"property_management", "debt", "neighbour", "family", "labour", "traffic"}


async def test_templates_cover_the_dispute_types(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    _, mediator = await in_mediation(client, factory)
    r = await client.get("/api/templates", headers=mediator)
    assert r.status_code == 200
    assert {t["id"] for t in r.json()} >= TEMPLATES
    assert all(t["name"] and t["description"] for t in r.json())


@pytest.mark.parametrize("template", sorted(TEMPLATES))
async def test_a_template_is_filled_from_the_case(
    client: httpx.AsyncClient, factory: Factory, template: str
) -> None:
    world, mediator = await in_mediation(client, factory)
    r = await client.post(
        f"/api/cases/{world.case.id}/agreement", json={"template": template}, headers=mediator
    )
    assert r.status_code == 201, r.text
    version = r.json()["version"]
    assert version["number"] == 1 and len(version["content_sha256"]) == 64
    names = {p["name"] for p in version["parties"]}
    assert names == {world.applicant.name, world.respondent.name}
    assert world.respondent.name in version["content"]["facts"]
    term = version["content"]["terms"][0]
    assert term["obligor"] == world.respondent.id and term["obligee"] == world.applicant.id
    # The blanks the mediator must fill block signing until they are.
    assert "blank" in {f["code"] for f in version["findings"] if f["level"] == "error"}
    # ID numbers are masked in what the agreement names.
    assert all("*" in (p["id_number"] or "*") for p in version["parties"])


async def test_one_agreement_per_case(client: httpx.AsyncClient, factory: Factory) -> None:
    world, mediator = await in_mediation(client, factory)
    first = await client.post(
        f"/api/cases/{world.case.id}/agreement", json={"template": "debt"}, headers=mediator
    )
    second = await client.post(
        f"/api/cases/{world.case.id}/agreement", json={"template": "labour"}, headers=mediator
    )
    assert second.status_code == 409
    assert second.headers["location"] == f"/api/agreements/{first.json()['id']}"


async def test_saves_make_versions_and_a_stale_base_is_409(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    signing = await drafted(client, factory)
    agreement = signing.agreement
    assert agreement["latest_version"] == 2
    content = agreement["version"]["content"]
    # The same text again makes no version.
    r = await client.put(
        f"/api/agreements/{signing.id}",
        json={"base_version": 2, "content": content},
        headers=signing.mediator,
    )
    assert r.json()["latest_version"] == 2
    changed = copy.deepcopy(content)
    changed["terms"][0]["method"] = "现金"
    r = await client.put(
        f"/api/agreements/{signing.id}",
        json={"base_version": 2, "content": changed},
        headers=signing.mediator,
    )
    assert r.json()["latest_version"] == 3
    assert r.json()["version"]["content_sha256"] != agreement["version"]["content_sha256"]
    stale = await client.put(
        f"/api/agreements/{signing.id}",
        json={"base_version": 2, "content": content},
        headers=signing.mediator,
    )
    assert stale.status_code == 409 and "3" in stale.json()["detail"]
    r = await client.get(f"/api/agreements/{signing.id}/versions", headers=signing.mediator)
    assert [v["number"] for v in r.json()] == [1, 2, 3]
    r = await client.get(f"/api/agreements/{signing.id}/versions/2", headers=signing.applicant)
    assert r.status_code == 200, r.text
    assert r.json()["content_sha256"] == agreement["version"]["content_sha256"]


async def test_the_diff_marks_the_changed_clause(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    signing = await drafted(client, factory)
    content = copy.deepcopy(signing.agreement["version"]["content"])
    content["terms"][0]["method"] = "现金"
    content["other_terms"].append("双方互不追究。")
    await client.put(
        f"/api/agreements/{signing.id}",
        json={"base_version": 2, "content": content},
        headers=signing.mediator,
    )
    r = await client.get(
        f"/api/agreements/{signing.id}/diff?from=2&to=3", headers=signing.applicant
    )
    assert r.status_code == 200, r.text
    diff = r.json()
    assert diff["from"] == 2 and diff["to"] == 3
    changes = {c["key"]: c for c in diff["clauses"]}
    assert changes["facts"]["change"] == "same"
    assert changes["term-1"]["change"] == "changed"
    assert ["added", "现金"] in changes["term-1"]["ops"]
    assert ["removed", "银行转账"] in changes["term-1"]["ops"]
    assert changes["other-3"]["change"] == "added"


async def test_the_check_finds_indefinite_terms_and_warns_with_the_rule(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    signing = await drafted(client, factory)
    content = copy.deepcopy(signing.agreement["version"]["content"])
    content["terms"][0]["instalments"][0]["amount"] = "9999.00"  # no longer sums
    content["terms"].append({"kind": "act", "obligor": signing.world.applicant.id})
    content["other_terms"].append("双方同意解除婚姻关系。")
    r = await client.put(
        f"/api/agreements/{signing.id}",
        json={"base_version": 2, "content": content},
        headers=signing.mediator,
    )
    assert r.status_code == 200, r.text
    findings = r.json()["version"]["findings"]
    errors = {(f["clause"], f["code"]) for f in findings if f["level"] == "error"}
    assert {
        ("term-1", "instalments_sum"),
        ("term-2", "obligee"),
        ("term-2", "act"),
        ("term-2", "due"),
    } <= errors
    warnings = [f for f in findings if f["level"] == "warning"]
    assert warnings and all("357" in w["rule"] for w in warnings)
    r = await client.post(
        f"/api/agreements/{signing.id}/send-for-signing", headers=signing.mediator
    )
    assert r.status_code == 409
    r = await client.get(f"/api/agreements/{signing.id}", headers=signing.mediator)
    assert r.json()["status"] == "draft"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda c, w: c["terms"][0].update(amount="30000.123"), "amount"),
        (lambda c, w: c["terms"][0].update(amount="-5"), "amount"),
        (lambda c, w: c["terms"][0].update(amount=30000), "amount"),
        (lambda c, w: c["terms"][0].update(due="2026-02-30"), "due"),
        (lambda c, w: c["terms"][0].update(due="2020-01-01"), "due"),
        (lambda c, w: c["terms"][0].update(obligor=w.court.id + 10_000_000), "obligor"),
        (lambda c, w: c.update(facts="事" * 5001), "facts"),
        (lambda c, w: c.update(copies=0), "copies"),
        (lambda c, w: c.update(surprise=1), "surprise"),
    ],
)
async def test_bad_content_is_422_and_writes_nothing(
    client: httpx.AsyncClient, factory: Factory, change: Any, field: str
) -> None:
    signing = await drafted(client, factory)
    content = copy.deepcopy(signing.agreement["version"]["content"])
    change(content, signing.world)
    r = await client.put(
        f"/api/agreements/{signing.id}",
        json={"base_version": 2, "content": content},
        headers=signing.mediator,
    )
    assert r.status_code == 422, r.text
    assert field in str(r.json()), r.text
    r = await client.get(f"/api/agreements/{signing.id}", headers=signing.mediator)
    assert r.json()["latest_version"] == 2 and r.json()["version"]["content"]["facts"] == FACTS


async def test_a_party_sees_the_other_side_by_name_and_role_only(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    signing = await drafted(client, factory)
    r = await client.get(f"/api/agreements/{signing.id}", headers=signing.applicant)
    parties = {p["id"]: p for p in r.json()["version"]["parties"]}
    other = parties[signing.world.respondent.id]
    assert other["id_number"] is None and other["phone"] is None and other["address"] is None
    assert parties[signing.world.applicant.id]["phone"]
