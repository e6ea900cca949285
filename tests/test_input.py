"""Input that the database could not hold, or that means something else than it says.

Control characters are refused in every text field with 422 naming the field, the same on
SQLite (which would store them) and PostgreSQL (which cannot store NUL at all); summaries
and reasons keep their line breaks and tabs. Request models are strict: a string for a
boolean or a float for an id is refused, not coerced. Every message is translated.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import BaseModel
from pydantic_core import core_schema
from sqlalchemy import func
from sqlmodel import select

import agreements.content
import agreements.schemas
import rooms.schemas
import service.schemas
from service.models import AuditEvent, Case, Organisation, Party, User
from tests.conftest import Factory, Made, unique, valid_id

NUL = "\u0000"


def case_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "dispute_type": "neighbour",
        "title": unique("漏水纠纷"),
        "summary": "楼上漏水。",
        "parties": [
            {"role": "applicant", "kind": "person", "name": unique("张"), "id_number": valid_id()},
            {"role": "respondent", "kind": "person", "name": unique("李")},
        ],
    }
    body.update(overrides)
    return body


def errors(response: httpx.Response) -> list[dict[str, Any]]:
    detail = response.json()["detail"]
    assert isinstance(detail, list), detail
    return detail


async def counts(factory: Factory) -> tuple[int, ...]:
    async with factory.uow() as s:
        return tuple(
            [
                (await s.exec(select(func.count()).select_from(model))).one()
                for model in (Case, Party, Organisation, User, AuditEvent)
            ]
        )


@pytest.fixture(scope="module")
async def made(app: Any) -> Made:
    """One world for the module: these tests are refused before they write, or make their
    own rows (and each signs in afresh), so they need not pay for Argon2 hashes each."""
    return await Factory(app).world()


@pytest.fixture
async def mediator(client: httpx.AsyncClient, factory: Factory, made: Made) -> dict[str, str]:
    headers = await factory.login(client, made.mediator)
    client.cookies.clear()  # the bearer token only
    return headers


# -- control characters ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"title": f"a{NUL}b"}, ["body", "title"]),
        ({"title": "上半句\n下半句"}, ["body", "title"]),
        ({"title": "a\tb"}, ["body", "title"]),
        ({"title": "a\u0085b"}, ["body", "title"]),  # a C1 control (NEL)
        ({"title": "a\u007fb"}, ["body", "title"]),
        ({"summary": f"第一行\n{NUL}"}, ["body", "summary"]),
        ({"summary": "a\u001bb"}, ["body", "summary"]),
        ("party name", ["body", "parties", 1, "name"]),
        ("party address", ["body", "parties", 0, "address"]),
        ("agent name", ["body", "parties", 0, "agent", "name"]),
    ],
)
async def test_control_characters_are_422_naming_the_field(
    client: httpx.AsyncClient,
    factory: Factory,
    mediator: dict[str, str],
    change: dict[str, str] | str,
    loc: list[Any],
) -> None:
    body = case_body()
    if change == "party name":
        body["parties"][1]["name"] = f"李{NUL}"
    elif change == "party address":
        body["parties"][0]["address"] = "英雄中路\r\n2号"
    elif change == "agent name":
        body["parties"][0]["agent"] = {"name": f"王{NUL}五"}
    else:
        assert isinstance(change, dict)
        body.update(change)
    before = await counts(factory)
    r = await client.post("/api/cases", json=body, headers=mediator)
    assert r.status_code == 422, r.text
    (error,) = errors(r)
    assert error["loc"] == loc
    assert error["type"] in {"line_control_character", "text_control_character"}
    assert "控制字符" in error["msg"]
    assert await counts(factory) == before


async def test_summaries_keep_line_breaks_and_tabs(
    client: httpx.AsyncClient, mediator: dict[str, str]
) -> None:
    summary = "2025年3月借款。\r\n到期未还：\n\t本金五万元"
    title = unique("借贷纠纷")
    r = await client.post(
        "/api/cases", json=case_body(title=f"  {title}\n", summary=summary), headers=mediator
    )
    assert r.status_code == 201, r.text
    case = (await client.get(f"/api/cases/{r.json()['id']}", headers=mediator)).json()
    assert case["summary"] == summary
    assert case["title"] == title  # a pasted line's edges are trimmed, not refused


async def test_a_reason_keeps_its_line_breaks_but_not_a_nul(
    client: httpx.AsyncClient, mediator: dict[str, str]
) -> None:
    case = (await client.post("/api/cases", json=case_body(), headers=mediator)).json()
    url = f"/api/cases/{case['id']}/status"
    r = await client.post(
        url, json={"status": "withdrawn", "reason": f"撤回{NUL}"}, headers=mediator
    )
    assert r.status_code == 422, r.text
    assert [e["loc"] for e in errors(r)] == [["body", "reason"]]
    r = await client.post(
        url,
        json={"status": "withdrawn", "reason": "申请人撤回。\n双方自行和解。"},
        headers=mediator,
    )
    assert r.status_code == 200, r.text
    assert r.json()["end_reason"] == "申请人撤回。\n双方自行和解。"


async def test_a_lone_surrogate_is_422_not_a_server_error(
    client: httpx.AsyncClient, mediator: dict[str, str]
) -> None:
    """JSON may escape half a UTF-16 pair; no database can store it."""
    raw = case_body(title="PLACEHOLDER")
    content = httpx.Request("POST", "/", json=raw).content.replace(b"PLACEHOLDER", b"a\\ud800b")
    r = await client.post(
        "/api/cases",
        content=content,
        headers={**mediator, "Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
    (error,) = errors(r)
    assert (error["loc"], error["type"]) == (["body", "title"], "string_unicode")
    assert error["msg"] == "文字中有无效的 Unicode 字符。"


async def test_search_text_with_a_control_character_is_422(
    client: httpx.AsyncClient, mediator: dict[str, str]
) -> None:
    r = await client.get("/api/cases", params={"q": f"漏水{NUL}"}, headers=mediator)
    assert r.status_code == 422, r.text
    assert [e["loc"] for e in errors(r)] == [["query", "q"]]
    r = await client.get("/api/cases", params={"q": "漏水"}, headers=mediator)
    assert r.status_code == 200, r.text


async def test_sign_in_fields_with_a_nul_are_422(client: httpx.AsyncClient) -> None:
    """Before any lookup: a NUL in the username reached PostgreSQL's query and failed there."""
    r = await client.post("/api/auth/login", json={"username": f"a{NUL}b", "password": "x" * 12})
    assert r.status_code == 422, r.text
    assert [e["loc"] for e in errors(r)] == [["body", "username"]]
    r = await client.post("/api/auth/login", json={"username": "ab", "password": f"x{NUL}"})
    assert [e["loc"] for e in errors(r)] == [["body", "password"]]
    r = await client.post("/api/auth/party", json={"token": f"abc{NUL}"})
    assert r.status_code == 422, r.text
    assert [e["loc"] for e in errors(r)] == [["body", "token"]]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": f"东街{NUL}调委会"}, "name"),
        ({"short_name": "潞\n东"}, "short_name"),
        ({"region_code": f"晋{NUL}"}, "region_code"),
    ],
)
async def test_organisation_fields_refuse_control_characters(
    client: httpx.AsyncClient,
    factory: Factory,
    made: Made,
    change: dict[str, str],
    field: str,
) -> None:
    headers = await factory.login(client, made.admin)
    before = await counts(factory)
    body = {"kind": "committee", "name": unique("调委会"), "level": "village", **change}
    r = await client.post("/api/organisations", json=body, headers=headers)
    assert r.status_code == 422, r.text
    assert [e["loc"] for e in errors(r)] == [["body", field]]
    user = {"username": unique("u"), "password": "p" * 12, "role": "admin", "org_id": 1}
    r = await client.post("/api/users", json={**user, "name": f"张{NUL}"}, headers=headers)
    assert [e["loc"] for e in errors(r)] == [["body", "name"]]
    assert await counts(factory) == before


async def test_messages_are_in_the_callers_language(
    client: httpx.AsyncClient, mediator: dict[str, str]
) -> None:
    r = await client.post(
        "/api/cases?lang=en", json=case_body(title="a\nb", summary=f"{NUL}"), headers=mediator
    )
    assert {e["loc"][-1]: e["msg"] for e in errors(r)} == {
        "title": "One line of text is needed here: no line breaks, tabs or other control"
        " characters.",
        "summary": "Control characters such as NUL are not allowed here (line breaks and tabs"
        " are).",
    }


# -- strict types ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["yes", "true", 1, 0, None, "on"])
async def test_auto_admit_must_be_a_boolean(
    client: httpx.AsyncClient, factory: Factory, made: Made, value: object
) -> None:
    headers = await factory.login(client, made.mediator)
    url = f"/api/cases/{made.case.id}/rooms"
    rooms_before = len((await client.get(url, headers=headers)).json())
    r = await client.post(url, json={"auto_admit": value}, headers=headers)
    assert r.status_code == 422, r.text
    (error,) = errors(r)
    assert (error["loc"], error["type"]) == (["body", "auto_admit"], "bool_type")
    assert error["msg"] == "此处需要 true 或 false。"
    assert len((await client.get(url, headers=headers)).json()) == rooms_before


@pytest.mark.parametrize("value", [2.0, "2", True])
async def test_ids_and_counts_must_be_integers(
    client: httpx.AsyncClient, factory: Factory, made: Made, value: object
) -> None:
    admin = await factory.login(client, made.admin)
    body = {
        "kind": "committee",
        "name": unique("村调委会"),
        "level": "village",
        "parent_id": value,
    }
    r = await client.post("/api/organisations", json=body, headers=admin)
    assert r.status_code == 422, r.text
    assert [(e["loc"], e["type"]) for e in errors(r)] == [(["body", "parent_id"], "int_type")]
    mediator = await factory.login(client, made.mediator)
    r = await client.post(
        f"/api/cases/{made.case.id}/invitations",
        json={"party_id": made.applicant.id, "valid_days": value},
        headers=mediator,
    )
    assert r.status_code == 422, r.text
    assert [e["loc"] for e in errors(r)] == [["body", "valid_days"]]
    r = await client.post(
        f"/api/cases/{made.case.id}/invitations", json={"party_id": value}, headers=mediator
    )
    assert [e["loc"] for e in errors(r)] == [["body", "party_id"]]


async def test_enums_still_come_as_json_strings(
    client: httpx.AsyncClient, mediator: dict[str, str]
) -> None:
    """Strict scalars, not strict models: JSON has no enum type, so "debt" is the enum."""
    r = await client.post("/api/cases", json=case_body(dispute_type="debt"), headers=mediator)
    assert r.status_code == 201, r.text
    assert r.json()["dispute_type"] == "debt"


def _request_models() -> list[type[BaseModel]]:
    found = []
    for module in (service.schemas, rooms.schemas, agreements.schemas, agreements.content):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, service.schemas.Strict):
                found.append(value)
    return found


def _lax_scalars(schema: Any, path: str = "") -> list[str]:
    """Where a request model's core schema would coerce: an int, bool or float not strict."""
    if isinstance(schema, dict):
        kind = schema.get("type")
        here = [path] if kind in {"int", "bool", "float"} and not schema.get("strict") else []
        return here + [
            lax for key, value in schema.items() for lax in _lax_scalars(value, f"{path}/{key}")
        ]
    if isinstance(schema, list):
        return [lax for i, item in enumerate(schema) for lax in _lax_scalars(item, f"{path}/{i}")]
    return []


@pytest.mark.parametrize("model", _request_models(), ids=lambda m: m.__name__)
def test_no_request_model_coerces_a_scalar(model: type[BaseModel]) -> None:
    """A field added later with a plain ``int`` or ``bool`` fails here, not in production."""
    schema: core_schema.CoreSchema = model.__pydantic_core_schema__
    assert _lax_scalars(schema) == []


async def test_a_room_made_with_a_real_boolean(
    client: httpx.AsyncClient, factory: Factory, made: Made
) -> None:
    headers = await factory.login(client, made.mediator)
    r = await client.post(
        f"/api/cases/{made.case.id}/rooms", json={"auto_admit": True}, headers=headers
    )
    assert r.status_code == 201, r.text
    assert r.json()["auto_admit"] is True
