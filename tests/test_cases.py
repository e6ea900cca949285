"""Cases through the JSON API: intake and numbering, validation, the state machine, listing.

Every test makes its own committee (``desk`` or ``world``), so its counts and numbers are its own.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import select

from service import audit, cases
from service.errors import InvalidTransition
from service.models import (
    AuditEvent,
    Case,
    CaseCounter,
    CaseStatus,
    DisputeType,
    Organisation,
    Party,
    Role,
    User,
)
from service.personal import id_check_char
from tests.conftest import Factory, Made, unique, valid_id

VALID_USCC = "91350100M000100Y43"


def this_year() -> int:
    return datetime.now(ZoneInfo("Asia/Shanghai")).year


def case_body(**overrides: Any) -> dict[str, Any]:
    """A valid intake request: one applicant and one respondent, both persons."""
    body: dict[str, Any] = {
        "dispute_type": "neighbour",
        "title": unique("漏水纠纷"),
        "summary": "楼上漏水，损坏楼下天花板。",
        "parties": [
            {
                "role": "applicant",
                "kind": "person",
                "name": unique("张"),
                "id_number": valid_id(),
                "phone": "13800000001",
                "address": "英雄中路2号",
            },
            {"role": "respondent", "kind": "person", "name": unique("李"), "id_number": valid_id()},
        ],
    }
    body.update(overrides)
    return body


def number_pattern(org: Organisation) -> re.Pattern[str]:
    return re.compile(rf"（{this_year()}）{re.escape(org.short_name)}调字第(\d+)号")


def seq_of(org: Organisation, number: str) -> int:
    match = number_pattern(org).fullmatch(number)
    assert match, f"{number!r} is not a case number of {org.short_name!r}"
    return int(match.group(1))


async def mediator_of_new_committee(
    factory: Factory, client: httpx.AsyncClient
) -> tuple[Organisation, User, dict[str, str]]:
    org = await factory.committee()
    mediator = await factory.user(Role.mediator, org)
    return org, mediator, await factory.login(client, mediator)


async def row_counts(factory: Factory) -> tuple[int, ...]:
    """Cases, parties, audit events and numbers issued, across the whole database."""
    async with factory.uow() as s:
        counts = [
            (await s.exec(select(func.count()).select_from(model))).one()
            for model in (Case, Party, AuditEvent)
        ]
        issued = (await s.exec(select(func.coalesce(func.sum(CaseCounter.last), 0)))).one()
    return (*counts, issued)


@dataclass
class Desk:
    """A committee with one mediator (signed in) and one case in intake."""

    committee: Organisation
    mediator: User
    headers: dict[str, str]
    case: Case
    applicant: Party
    respondent: Party


@pytest.fixture
async def desk(client: httpx.AsyncClient, factory: Factory) -> Desk:
    committee = await factory.committee()
    mediator = await factory.user(Role.mediator, committee)
    case, (applicant, respondent) = await factory.case(mediator)
    headers = await factory.login(client, mediator)
    client.cookies.clear()  # callers choose their credentials per request
    return Desk(committee, mediator, headers, case, applicant, respondent)


def locs(response: httpx.Response) -> list[list[Any]]:
    return [e["loc"] for e in response.json()["detail"]]


# -- intake and numbering --------------------------------------------------------------------


async def test_intake_returns_the_case_with_number_status_and_parties(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    """POST /api/cases is 201 with number （year）简称调字第1号, status intake and party ids."""
    org, mediator, headers = await mediator_of_new_committee(factory, client)
    body = case_body(dispute_type="debt")
    r = await client.post("/api/cases", json=body, headers=headers)
    assert r.status_code == 201, r.text
    case = r.json()
    assert seq_of(org, case["number"]) == 1
    assert case["status"] == "intake"
    assert case["dispute_type"] == "debt"
    assert case["title"] == body["title"]
    assert case["org_id"] == org.id
    assert case["mediator_id"] == mediator.id
    assert [p["role"] for p in case["parties"]] == ["applicant", "respondent"]
    assert all(isinstance(p["id"], int) for p in case["parties"])


@pytest.mark.parametrize(
    "dispute_type",
    [
        "neighbour",
        "property_management",
        "family",
        "debt",
        "labour",
        "traffic",
        "consumer",
        "other",
    ],
)
async def test_every_dispute_type_is_accepted(
    client: httpx.AsyncClient, factory: Factory, desk: Desk, dispute_type: str
) -> None:
    """Each of the eight dispute types in API.md can be taken in."""
    headers = desk.headers
    r = await client.post("/api/cases", json=case_body(dispute_type=dispute_type), headers=headers)
    assert r.status_code == 201, r.text
    assert r.json()["dispute_type"] == dispute_type


async def test_numbers_increase_per_committee_and_restart_for_another(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    """A committee's numbers run 1, 2, 3; a second committee's first case is number 1."""
    org, _, headers = await mediator_of_new_committee(factory, client)
    seqs = []
    for _ in range(3):
        r = await client.post("/api/cases", json=case_body(), headers=headers)
        assert r.status_code == 201, r.text
        seqs.append(seq_of(org, r.json()["number"]))
    assert seqs == [1, 2, 3]

    other, _, other_headers = await mediator_of_new_committee(factory, client)
    r = await client.post("/api/cases", json=case_body(), headers=other_headers)
    assert r.status_code == 201, r.text
    assert seq_of(other, r.json()["number"]) == 1


async def test_concurrent_intakes_get_distinct_numbers(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    """Ten simultaneous intakes in a committee that has numbered before get ten distinct numbers."""
    org, mediator, headers = await mediator_of_new_committee(factory, client)
    await factory.case(mediator)  # number 1: this year's counter exists
    responses = await asyncio.gather(
        *(client.post("/api/cases", json=case_body(), headers=headers) for _ in range(10)),
        return_exceptions=True,
    )
    assert all(isinstance(r, httpx.Response) and r.status_code == 201 for r in responses), responses
    seqs = sorted(seq_of(org, r.json()["number"]) for r in responses)  # type: ignore[union-attr]
    assert seqs == list(range(2, 12))


async def test_concurrent_first_intakes_of_the_year_get_distinct_numbers(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    """Ten simultaneous intakes in a brand-new committee get numbers 1 to 10, none refused."""
    org, _, headers = await mediator_of_new_committee(factory, client)
    responses = await asyncio.gather(
        *(client.post("/api/cases", json=case_body(), headers=headers) for _ in range(10)),
        return_exceptions=True,
    )
    assert all(isinstance(r, httpx.Response) and r.status_code == 201 for r in responses), responses
    seqs = sorted(seq_of(org, r.json()["number"]) for r in responses)  # type: ignore[union-attr]
    assert seqs == list(range(1, 11))


async def test_a_second_committee_cannot_take_a_short_name_in_use(
    client: httpx.AsyncClient, factory: Factory, world: Made
) -> None:
    """Case numbers carry the committee's short name, so one in use is refused with 409."""
    short_name = unique("新庄村")
    await factory.committee(short_name=short_name)
    headers = await factory.login(client, world.admin)
    body = {
        "kind": "committee",
        "name": unique("另一个"),
        "level": "village",
        "short_name": short_name,
    }
    r = await client.post("/api/organisations", json=body, headers=headers)
    assert r.status_code == 409, r.text
    assert short_name in r.json()["detail"]


async def test_committee_name_too_long_for_case_numbers_needs_a_short_name(
    client: httpx.AsyncClient, factory: Factory, world: Made
) -> None:
    """A committee whose name gives no short name of at most 60 characters is 422 at
    short_name, and nothing is written: a case number is a legal reference, never cut short
    silently. Given a short name, the same committee is taken in."""
    headers = await factory.login(client, world.admin)
    body = {"kind": "committee", "name": "长治市" + "很长的名字" * 15, "level": "village"}
    async with factory.uow() as s:
        before = (await s.exec(select(func.count()).select_from(Organisation))).one()
    r = await client.post("/api/organisations", json=body, headers=headers)
    assert r.status_code == 422, r.text
    assert ["body", "short_name"] in locs(r)
    async with factory.uow() as s:
        assert (await s.exec(select(func.count()).select_from(Organisation))).one() == before
    short_name = unique("长名")
    r = await client.post(
        "/api/organisations", json={**body, "short_name": short_name}, headers=headers
    )
    assert r.status_code == 201, r.text
    assert r.json()["short_name"] == short_name


async def test_organisation_party_with_credit_code_is_accepted(
    client: httpx.AsyncClient, factory: Factory, desk: Desk
) -> None:
    """A company respondent identified by a valid unified social credit code is taken in."""
    headers = desk.headers
    body = case_body(dispute_type="property_management")
    body["parties"][1] = {
        "role": "respondent",
        "kind": "organisation",
        "name": unique("物业公司"),
        "id_number": VALID_USCC.lower(),
        "representative": "王经理",
        "agent": {"name": "赵律师", "id_number": valid_id("19850615"), "phone": "13900000002"},
    }
    r = await client.post("/api/cases", json=body, headers=headers)
    assert r.status_code == 201, r.text
    company = r.json()["parties"][1]
    assert company["kind"] == "organisation"
    assert company["representative"] == "王经理"
    assert company["agent_name"] == "赵律师"


async def test_third_party_is_accepted(
    client: httpx.AsyncClient, factory: Factory, desk: Desk
) -> None:
    """A case may carry a third party beside the applicant and respondent."""
    headers = desk.headers
    body = case_body()
    body["parties"].append({"role": "third_party", "name": unique("王")})
    r = await client.post("/api/cases", json=body, headers=headers)
    assert r.status_code == 201, r.text
    assert [p["role"] for p in r.json()["parties"]] == ["applicant", "respondent", "third_party"]


# -- refused intakes: 422 with the field named, and nothing written ---------------------------


def _with_party(index: int, **changes: Any) -> dict[str, Any]:
    body = case_body()
    body["parties"][index] = {**body["parties"][index], **changes}
    return body


def _bad_check_digit() -> str:
    good = valid_id()
    return good[:17] + ("0" if good[17] != "0" else "1")


REFUSED_INTAKES: dict[str, tuple[Any, list[Any]]] = {
    # name: (body, the loc one of the errors must have)
    "wrong types": (
        case_body(title=123),
        ["body", "title"],
    ),
    "parties not a list": (case_body(parties="张三和李四"), ["body", "parties"]),
    "party role of the wrong type": (_with_party(0, role=5), ["body", "parties", 0, "role"]),
    "title over 200 characters": (case_body(title="纠" * 201), ["body", "title"]),
    "blank title": (case_body(title="   "), ["body", "title"]),
    "summary over 4000 characters": (case_body(summary="x" * 4001), ["body", "summary"]),
    "party name over 200 characters": (
        _with_party(1, name="李" * 201),
        ["body", "parties", 1, "name"],
    ),
    "address over 300 characters": (
        _with_party(0, address="路" * 301),
        ["body", "parties", 0, "address"],
    ),
    "ID number over 18 characters": (
        _with_party(0, id_number=valid_id() + "1"),
        ["body", "parties", 0, "id_number"],
    ),
    "phone that is no phone number": (
        _with_party(0, phone="call me"),
        ["body", "parties", 0, "phone"],
    ),
    "unknown dispute type": (case_body(dispute_type="murder"), ["body", "dispute_type"]),
    "unknown party role": (_with_party(0, role="witness"), ["body", "parties", 0, "role"]),
    "unknown field": (case_body(priority="high"), ["body", "priority"]),
    "one party only": (
        case_body(parties=case_body()["parties"][:1]),
        ["body", "parties"],
    ),
    "no respondent": (
        case_body(parties=[case_body()["parties"][0], {**case_body()["parties"][0]}]),
        ["body", "parties"],
    ),
    "no applicant": (
        case_body(parties=[case_body()["parties"][1], {**case_body()["parties"][1]}]),
        ["body", "parties"],
    ),
}


@pytest.mark.parametrize("name", list(REFUSED_INTAKES))
async def test_refused_intake_names_the_field_and_writes_nothing(
    client: httpx.AsyncClient, factory: Factory, desk: Desk, name: str
) -> None:
    """Each malformed intake is 422 naming its field; no case, party, event or number is kept."""
    body, expected_loc = REFUSED_INTAKES[name]
    headers = desk.headers
    before = await row_counts(factory)
    r = await client.post("/api/cases", json=body, headers=headers)
    assert r.status_code == 422, r.text
    found = [[str(part) for part in loc] for loc in locs(r)]
    assert [str(part) for part in expected_loc] in found, found
    assert await row_counts(factory) == before


async def test_malformed_json_is_422_and_writes_nothing(
    client: httpx.AsyncClient, factory: Factory, desk: Desk
) -> None:
    """A body that is not JSON gets 422 (json_invalid) and nothing is written."""
    headers = desk.headers
    before = await row_counts(factory)
    r = await client.post(
        "/api/cases",
        content=b"{bad",
        headers={**headers, "content-type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"][0] == "body"
    assert r.json()["detail"][0]["type"] == "json_invalid"
    assert await row_counts(factory) == before


@pytest.mark.parametrize(
    ("label", "party"),
    [
        ("wrong check digit", {"id_number": _bad_check_digit()}),
        (
            "impossible birth date",
            {"id_number": "11010519990230002" + id_check_char("11010519990230002")},
        ),
        ("credit code for a person", {"id_number": VALID_USCC}),
        ("bad credit code", {"kind": "organisation", "id_number": VALID_USCC[:-1] + "4"}),
    ],
)
async def test_invalid_identity_number_names_the_party(
    client: httpx.AsyncClient, factory: Factory, desk: Desk, label: str, party: dict[str, str]
) -> None:
    """A bad ID or credit code of the second party is 422 at parties/1/id_number; nothing kept."""
    headers = desk.headers
    before = await row_counts(factory)
    r = await client.post("/api/cases", json=_with_party(1, **party), headers=headers)
    assert r.status_code == 422, r.text
    loc = r.json()["detail"][0]["loc"]
    assert [str(part) for part in loc[-3:]] == ["parties", "1", "id_number"], loc
    assert r.json()["detail"][0]["msg"]
    assert await row_counts(factory) == before


async def test_invalid_agent_id_number_is_named(
    client: httpx.AsyncClient, factory: Factory, desk: Desk
) -> None:
    """An agent's bad resident ID is refused at parties/0/agent/id_number."""
    headers = desk.headers
    body = _with_party(0, agent={"name": "代理人", "id_number": _bad_check_digit()})
    r = await client.post("/api/cases", json=body, headers=headers)
    assert r.status_code == 422, r.text
    assert [str(p) for p in r.json()["detail"][0]["loc"]] == [
        "body",
        "parties",
        "0",
        "agent",
        "id_number",
    ]


async def test_domain_and_schema_errors_name_party_positions_alike(
    client: httpx.AsyncClient, factory: Factory, desk: Desk
) -> None:
    """A bad ID number's loc uses an integer index, as FastAPI does for other party fields."""
    headers = desk.headers
    schema = await client.post("/api/cases", json=_with_party(1, name="李" * 201), headers=headers)
    domain = await client.post(
        "/api/cases", json=_with_party(1, id_number=_bad_check_digit()), headers=headers
    )
    assert schema.json()["detail"][0]["loc"] == ["body", "parties", 1, "name"]
    assert domain.json()["detail"][0]["loc"] == ["body", "parties", 1, "id_number"]


# -- who may do what ---------------------------------------------------------------------------


async def test_wrong_roles_are_forbidden(
    client: httpx.AsyncClient, factory: Factory, world: Made
) -> None:
    """Admins, judges and parties get 403 from the mediator's case endpoints; nothing is written."""
    admin = await factory.login(client, world.admin)
    judge = await factory.login(client, world.judge)
    party = await factory.party_headers(
        client, await factory.invite(world.mediator, world.case, world.applicant)
    )
    before = await row_counts(factory)
    case_url = f"/api/cases/{world.case.id}"
    assert (await client.post("/api/cases", json=case_body(), headers=admin)).status_code == 403
    assert (await client.post("/api/cases", json=case_body(), headers=party)).status_code == 403
    assert (await client.get("/api/cases", headers=judge)).status_code == 403
    assert (await client.get("/api/cases", headers=admin)).status_code == 403
    assert (await client.get(case_url, headers=judge)).status_code == 403
    r = await client.post(f"{case_url}/status", json={"status": "mediating"}, headers=party)
    assert r.status_code == 403
    assert (await client.get(f"{case_url}/audit", headers=party)).status_code == 403
    assert await row_counts(factory) == before


async def test_signed_out_callers_get_401(client: httpx.AsyncClient, desk: Desk) -> None:
    """Without a session the case endpoints answer 401."""
    assert (await client.get("/api/cases")).status_code == 401
    assert (await client.get(f"/api/cases/{desk.case.id}")).status_code == 401
    r = await client.post("/api/cases", json=case_body())
    assert r.status_code == 401


async def test_unknown_and_other_committees_cases_are_404(
    client: httpx.AsyncClient, factory: Factory, desk: Desk
) -> None:
    """Another committee's case and an id that does not exist both look like 404 to a mediator."""
    _, _, headers = await mediator_of_new_committee(factory, client)
    for case_id in (desk.case.id, 987_654_321):
        assert (await client.get(f"/api/cases/{case_id}", headers=headers)).status_code == 404
        r = await client.post(
            f"/api/cases/{case_id}/status", json={"status": "mediating"}, headers=headers
        )
        assert r.status_code == 404
        assert (await client.get(f"/api/cases/{case_id}/audit", headers=headers)).status_code == 404
    async with factory.uow() as s:
        unchanged = await s.get(Case, desk.case.id)
        assert unchanged is not None and unchanged.status == "intake"


async def test_party_cannot_see_another_case(
    client: httpx.AsyncClient, factory: Factory, desk: Desk
) -> None:
    """A party asking for a different case of the same committee gets 404."""
    other, _ = await factory.case(desk.mediator)
    party = await factory.party_headers(
        client, await factory.invite(desk.mediator, desk.case, desk.applicant)
    )
    assert (await client.get(f"/api/cases/{desk.case.id}", headers=party)).status_code == 200
    assert (await client.get(f"/api/cases/{other.id}", headers=party)).status_code == 404


async def test_out_of_range_case_id_is_not_found(
    client: httpx.AsyncClient, factory: Factory, desk: Desk
) -> None:
    """An id beyond the database's integer range answers 404 or 422, never a server error."""
    for case_id in (2**31, 2**63, 10**30):
        for method, url, body in (
            ("GET", f"/api/cases/{case_id}", None),
            ("GET", f"/api/cases/{case_id}/audit", None),
            ("POST", f"/api/cases/{case_id}/status", {"status": "mediating"}),
            ("GET", f"/cases/{case_id}", None),
        ):
            r = await client.request(method, url, json=body, headers=desk.headers)
            assert r.status_code in (404, 422), (url, r.text)


async def test_case_page_of_another_committee_is_404(
    client: httpx.AsyncClient, factory: Factory, desk: Desk
) -> None:
    """A mediator opening another committee's case page gets the 404 page, not the case."""
    _, _, headers = await mediator_of_new_committee(factory, client)
    r = await client.get(f"/cases/{desk.case.id}", headers=headers)
    assert r.status_code == 404
    assert desk.case.number not in r.text
    assert desk.applicant.name not in r.text


async def test_case_pages_refuse_other_roles(
    client: httpx.AsyncClient, factory: Factory, world: Made
) -> None:
    """A judge opening the case list or a case page gets the 403 page."""
    headers = await factory.login(client, world.judge)
    for path in ("/cases", f"/cases/{world.case.id}"):
        r = await client.get(path, headers=headers)
        assert r.status_code == 403, path
        assert world.case.number not in r.text


# -- the state machine -------------------------------------------------------------------------


async def change(
    client: httpx.AsyncClient, headers: dict[str, str], case_id: int | None, **body: Any
) -> httpx.Response:
    return await client.post(f"/api/cases/{case_id}/status", json=body, headers=headers)


async def test_intake_to_mediating(client: httpx.AsyncClient, factory: Factory, desk: Desk) -> None:
    """A mediator starts mediation: status mediating and mediation_started_at set."""
    headers = desk.headers
    r = await change(client, headers, desk.case.id, status="mediating")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "mediating"
    assert r.json()["mediation_started_at"] is not None
    assert r.json()["ended_at"] is None


async def test_a_colleague_of_the_same_committee_may_move_the_case(
    client: httpx.AsyncClient, factory: Factory, desk: Desk
) -> None:
    """Any mediator of the committee may move its cases, not only the one who took it in."""
    colleague = await factory.user(Role.mediator, desk.committee)
    headers = await factory.login(client, colleague)
    r = await change(client, headers, desk.case.id, status="mediating")
    assert r.status_code == 200, r.text


async def test_disallowed_transition_is_409_naming_the_state(
    client: httpx.AsyncClient, factory: Factory, desk: Desk
) -> None:
    """mediating -> closed is 409 naming 'mediating'; status and audit stay untouched."""
    headers = desk.headers
    assert (await change(client, headers, desk.case.id, status="mediating")).status_code == 200
    audit_before = (await client.get(f"/api/cases/{desk.case.id}/audit", headers=headers)).json()
    r = await change(client, headers, desk.case.id, status="closed")
    assert r.status_code == 409, r.text
    assert "mediating" in r.json()["detail"]
    after = await client.get(f"/api/cases/{desk.case.id}", headers=headers)
    assert after.json()["status"] == "mediating"
    audit_after = (await client.get(f"/api/cases/{desk.case.id}/audit", headers=headers)).json()
    assert audit_after == audit_before


async def test_intake_cannot_be_closed(
    client: httpx.AsyncClient, factory: Factory, desk: Desk
) -> None:
    """intake -> closed is 409 naming 'intake'."""
    headers = desk.headers
    r = await change(client, headers, desk.case.id, status="closed")
    assert r.status_code == 409
    assert "intake" in r.json()["detail"]


@pytest.mark.parametrize("ended", ["failed", "withdrawn"])
async def test_ended_case_cannot_move_again(
    client: httpx.AsyncClient, factory: Factory, desk: Desk, ended: str
) -> None:
    """After failed or withdrawn, any further move is 409 naming that state."""
    headers = desk.headers
    r = await change(client, headers, desk.case.id, status=ended, reason="双方不愿继续调解")
    assert r.status_code == 200, r.text
    assert r.json()["ended_at"] is not None
    assert r.json()["end_reason"] == "双方不愿继续调解"
    for to in ("mediating", "failed", "withdrawn", "closed"):
        r = await change(client, headers, desk.case.id, status=to, reason="再试一次")
        assert r.status_code == 409, (to, r.text)
        assert ended in r.json()["detail"]


@pytest.mark.parametrize("ended", ["failed", "withdrawn"])
@pytest.mark.parametrize("reason", [None, "", "   "])
async def test_failed_or_withdrawn_needs_a_reason(
    client: httpx.AsyncClient, factory: Factory, desk: Desk, ended: str, reason: str | None
) -> None:
    """Ending a mediation without a reason is 422 at 'reason', and the case does not move."""
    headers = desk.headers
    assert (await change(client, headers, desk.case.id, status="mediating")).status_code == 200
    body: dict[str, Any] = {"status": ended}
    if reason is not None:
        body["reason"] = reason
    before = await row_counts(factory)
    r = await client.post(f"/api/cases/{desk.case.id}/status", json=body, headers=headers)
    assert r.status_code == 422, r.text
    assert ["body", "reason"] in locs(r)
    assert (await client.get(f"/api/cases/{desk.case.id}", headers=headers)).json()[
        "status"
    ] == "mediating"
    assert await row_counts(factory) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "done"}, "status"),
        ({"status": 3}, "status"),
        ({}, "status"),
        ({"status": "failed", "reason": "r" * 1001}, "reason"),
        ({"status": "mediating", "why": "x"}, "why"),
    ],
)
async def test_malformed_status_change_is_422(
    client: httpx.AsyncClient, factory: Factory, desk: Desk, body: dict[str, Any], field: str
) -> None:
    """Unknown statuses, unknown fields and over-long reasons are 422 naming the field."""
    headers = desk.headers
    r = await client.post(f"/api/cases/{desk.case.id}/status", json=body, headers=headers)
    assert r.status_code == 422, r.text
    assert ["body", field] in locs(r)
    async with factory.uow() as s:
        case = await s.get(Case, desk.case.id)
        assert case is not None and case.status == "intake"


@pytest.mark.parametrize("start", ["intake", "mediating"])
@pytest.mark.parametrize("to", ["agreed", "intake"])
async def test_moves_a_mediator_may_not_choose_are_409_naming_the_state(
    client: httpx.AsyncClient, factory: Factory, desk: Desk, start: str, to: str
) -> None:
    """'agreed' is reached only when an agreement takes effect, and nothing returns to
    'intake': the state machine refuses both, 409 naming the state, and nothing is written."""
    headers = desk.headers
    if start == "mediating":
        assert (await change(client, headers, desk.case.id, status="mediating")).status_code == 200
    before = await row_counts(factory)
    r = await change(client, headers, desk.case.id, status=to)
    assert r.status_code == 409, r.text
    assert start in r.json()["detail"]
    assert await row_counts(factory) == before
    after = await client.get(f"/api/cases/{desk.case.id}", headers=headers)
    assert after.json()["status"] == start


async def test_agreed_is_the_agreements_move_then_the_mediator_closes(
    client: httpx.AsyncClient, factory: Factory, desk: Desk
) -> None:
    """The agreements domain's path (Via.agreement) moves a mediating case to agreed, and
    only that move; the mediator then closes it, which ends it."""
    headers = desk.headers
    agreements = audit.Actor("system", None, "agreements")
    async with factory.uow() as s:
        case = await s.get_one(Case, desk.case.id)
        with pytest.raises(InvalidTransition):  # not before mediation started
            await cases.transition(
                s, case=case, to=CaseStatus.agreed, via=cases.Via.agreement, actor=agreements
            )
    assert (await change(client, headers, desk.case.id, status="mediating")).status_code == 200
    async with factory.uow() as s:
        case = await s.get_one(Case, desk.case.id)
        with pytest.raises(InvalidTransition):  # the mediator's moves are not its to make
            await cases.transition(
                s,
                case=case,
                to=CaseStatus.failed,
                via=cases.Via.agreement,
                actor=agreements,
                reason="x",
            )
        await cases.transition(
            s, case=case, to=CaseStatus.agreed, via=cases.Via.agreement, actor=agreements
        )
        assert not cases.is_ended(case)
        assert cases.mediator_moves(case) == [CaseStatus.closed]
    r = await change(client, headers, desk.case.id, status="closed")
    assert r.status_code == 200, r.text
    assert r.json()["ended_at"] is not None
    events = (await client.get(f"/api/cases/{desk.case.id}/audit", headers=headers)).json()
    moves = [e["data"] for e in events if e["action"] == "case.status_changed"]
    assert [(m["to"], m["via"]) for m in moves] == [
        ("mediating", "mediator"),
        ("agreed", "agreement"),
        ("closed", "mediator"),
    ]
    r = await client.post(
        f"/api/cases/{desk.case.id}/invitations",
        json={"party_id": desk.applicant.id},
        headers=headers,
    )
    assert r.status_code == 409, r.text  # an ended case takes no new join links
    assert "closed" in r.json()["detail"]


@pytest.mark.parametrize(
    ("state", "moves"),
    [
        (CaseStatus.intake, [CaseStatus.mediating, CaseStatus.failed, CaseStatus.withdrawn]),
        (CaseStatus.mediating, [CaseStatus.failed, CaseStatus.withdrawn]),
        (CaseStatus.agreed, [CaseStatus.closed]),
        (CaseStatus.closed, []),
        (CaseStatus.failed, []),
        (CaseStatus.withdrawn, []),
    ],
)
def test_the_moves_a_mediator_may_choose(state: CaseStatus, moves: list[CaseStatus]) -> None:
    """What the case page offers: the state machine's moves that are the mediator's, and
    none once the case has ended."""
    case = Case(
        org_id=1,
        year=2026,
        seq=1,
        number="（2026）测试调字第1号",
        dispute_type=DisputeType.other,
        title="t",
        mediator_id=1,
        status=state,
    )
    assert cases.mediator_moves(case) == moves
    assert cases.is_ended(case) == (state in {"closed", "failed", "withdrawn"})
    assert cases.is_ended(case) == (not cases.MOVES[state])


async def test_case_page_offers_the_mediators_moves(
    client: httpx.AsyncClient, factory: Factory, desk: Desk
) -> None:
    """The case page's buttons are cases.mediator_moves: never 'agreed'."""
    headers = desk.headers
    assert (await change(client, headers, desk.case.id, status="mediating")).status_code == 200
    r = await client.get(f"/cases/{desk.case.id}", headers=headers)
    assert r.status_code == 200, r.text
    assert set(re.findall(r'data-status="(\w+)"', r.text)) == {"failed", "withdrawn"}


async def test_each_transition_is_an_audit_event(
    client: httpx.AsyncClient, factory: Factory, desk: Desk
) -> None:
    """Intake, start and failure are audit events in order, with from, to and reason."""
    headers = desk.headers
    assert (await change(client, headers, desk.case.id, status="mediating")).status_code == 200
    r = await change(client, headers, desk.case.id, status="failed", reason="  协商未果  ")
    assert r.status_code == 200, r.text
    assert r.json()["end_reason"] == "协商未果"

    r = await client.get(f"/api/cases/{desk.case.id}/audit", headers=headers)
    assert r.status_code == 200, r.text
    events = r.json()
    assert [e["action"] for e in events] == [
        "case.created",
        "case.status_changed",
        "case.status_changed",
    ]
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert events[0]["data"]["number"] == desk.case.number
    assert events[1]["data"]["from"] == "intake"
    assert events[1]["data"]["to"] == "mediating"
    assert events[2]["data"]["from"] == "mediating"
    assert events[2]["data"]["to"] == "failed"
    assert events[2]["data"]["reason"].strip() == "协商未果"
    assert events[1]["actor_kind"] == "user"
    assert desk.mediator.username in events[1]["actor_label"]


# -- listing ---------------------------------------------------------------------------------


async def test_pagination(client: httpx.AsyncClient, factory: Factory) -> None:
    """25 cases at 10 a page: pages of 10, 10 and 5, newest first, each case once, total 25."""
    _, mediator, headers = await mediator_of_new_committee(factory, client)
    made = [(await factory.case(mediator))[0].id for _ in range(25)]
    seen: list[int] = []
    sizes = []
    for page in (1, 2, 3):
        r = await client.get("/api/cases", params={"page": page, "per_page": 10}, headers=headers)
        assert r.status_code == 200, r.text
        data = r.json()
        assert (data["total"], data["page"], data["per_page"]) == (25, page, 10)
        sizes.append(len(data["items"]))
        seen += [item["id"] for item in data["items"]]
    assert sizes == [10, 10, 5]
    assert seen == list(reversed(made))
    r = await client.get("/api/cases", params={"page": 4, "per_page": 10}, headers=headers)
    assert r.json()["items"] == [] and r.json()["total"] == 25


async def test_default_page_size_is_20(client: httpx.AsyncClient, factory: Factory) -> None:
    """Without paging parameters the list holds at most 20 cases and says so."""
    _, mediator, headers = await mediator_of_new_committee(factory, client)
    for _ in range(21):
        await factory.case(mediator)
    data = (await client.get("/api/cases", headers=headers)).json()
    assert (len(data["items"]), data["total"], data["page"], data["per_page"]) == (20, 21, 1, 20)


async def test_filters(client: httpx.AsyncClient, factory: Factory) -> None:
    """status, dispute_type and q (title or number) each narrow the list, and they combine."""
    _, mediator, headers = await mediator_of_new_committee(factory, client)
    token = unique("拖欠工资")
    debt, _ = await factory.case(mediator, dispute_type="debt")
    labour, _ = await factory.case(mediator, dispute_type="labour", title=f"{token}一案")
    neighbour, _ = await factory.case(mediator, dispute_type="neighbour")
    assert (await change(client, headers, labour.id, status="mediating")).status_code == 200
    assert (await change(client, headers, debt.id, status="mediating")).status_code == 200

    async def ids(**params: Any) -> tuple[set[int], int]:
        r = await client.get("/api/cases", params=params, headers=headers)
        assert r.status_code == 200, r.text
        return {item["id"] for item in r.json()["items"]}, r.json()["total"]

    assert await ids(status="mediating") == ({labour.id, debt.id}, 2)
    assert await ids(status="intake") == ({neighbour.id}, 1)
    assert await ids(status="closed") == (set(), 0)
    assert await ids(dispute_type="labour") == ({labour.id}, 1)
    assert await ids(q=token) == ({labour.id}, 1)
    assert await ids(q=neighbour.number) == ({neighbour.id}, 1)
    assert await ids(status="mediating", dispute_type="debt") == ({debt.id}, 1)
    assert await ids(status="intake", dispute_type="debt") == (set(), 0)


@pytest.mark.parametrize(
    "params",
    [
        {"per_page": 101},
        {"per_page": 0},
        {"page": 0},
        {"page": "two"},
        {"status": "pending"},
        {"dispute_type": "murder"},
        {"q": "q" * 101},
    ],
)
async def test_bad_list_parameters_are_422(
    client: httpx.AsyncClient, factory: Factory, desk: Desk, params: dict[str, Any]
) -> None:
    """Out-of-range paging, unknown filters and over-long queries are 422 naming the parameter."""
    headers = desk.headers
    r = await client.get("/api/cases", params=params, headers=headers)
    assert r.status_code == 422, r.text
    assert ["query", next(iter(params))] in locs(r)


async def test_mediator_lists_only_own_committee(
    client: httpx.AsyncClient, factory: Factory, desk: Desk
) -> None:
    """A mediator's list holds every case of their committee and none of another's."""
    _, outsider, outsider_headers = await mediator_of_new_committee(factory, client)
    theirs, _ = await factory.case(outsider)
    data = (await client.get("/api/cases", params={"per_page": 100}, headers=desk.headers)).json()
    assert {item["id"] for item in data["items"]} == {desk.case.id}
    assert data["total"] == 1
    data = (await client.get("/api/cases", headers=outsider_headers)).json()
    assert [item["id"] for item in data["items"]] == [theirs.id]


async def test_party_lists_only_its_own_case(
    client: httpx.AsyncClient, factory: Factory, desk: Desk
) -> None:
    """A party's list holds only the case it was invited to, with its parties."""
    await factory.case(desk.mediator)
    await factory.case(desk.mediator)
    party = await factory.party_headers(
        client, await factory.invite(desk.mediator, desk.case, desk.respondent)
    )
    r = await client.get("/api/cases", headers=party)
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["total"] == 1
    assert [item["id"] for item in data["items"]] == [desk.case.id]
    assert {p["id"] for p in data["items"][0]["parties"]} == {
        desk.applicant.id,
        desk.respondent.id,
    }
