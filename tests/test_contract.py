"""The served schema is the whole contract (service/openapi.py), and framework errors keep it.

The fuzzing in tests/test_fuzz.py checks every answer against the schema; these pin what
the schema must say in the first place, and the errors FastAPI itself raises.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Factory, Made

ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}


@pytest.fixture
async def schema(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.get("/openapi.json")
    assert r.status_code == 200
    data: dict[str, Any] = r.json()
    return data


def operations(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"{method.upper()} {path}": operation
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    }


def test_the_schema_declares_how_callers_sign_in(schema: dict[str, Any]) -> None:
    schemes = schema["components"]["securitySchemes"]
    assert {k: v for k, v in schemes["session"].items() if k != "description"} == {
        "type": "apiKey",
        "in": "cookie",
        "name": "mediation_session",
    }
    assert "X-CSRF-Token" in schemes["session"]["description"]
    assert (schemes["bearer"]["type"], schemes["bearer"]["scheme"]) == ("http", "bearer")
    ops = operations(schema)
    for name in ("GET /api/me", "POST /api/cases", "GET /api/rooms/{room_id}"):
        assert ops[name]["security"] == [{"session": []}, {"bearer": []}], name
    for name in ("POST /api/auth/login", "POST /api/auth/party", "GET /healthz"):
        assert "security" not in ops[name], name


@pytest.mark.parametrize(
    ("name", "statuses"),
    [
        ("GET /api/me", {"200", "401", "403"}),
        ("POST /api/auth/login", {"200", "401", "422", "429"}),
        ("POST /api/auth/party", {"200", "401", "422"}),
        ("POST /api/organisations", {"201", "401", "403", "404", "409", "422"}),
        ("GET /api/cases", {"200", "401", "403", "422"}),
        ("GET /api/cases/{case_id}", {"200", "401", "403", "404", "422"}),
        ("POST /api/cases/{case_id}/status", {"200", "401", "403", "404", "409", "422"}),
        ("POST /api/cases/{case_id}/rooms", {"201", "401", "403", "404", "409", "422"}),
        ("POST /api/rooms/{room_id}/recording", {"200", "401", "403", "404", "409", "422"}),
        ("GET /healthz", {"200"}),
    ],
)
def test_operations_document_the_errors_they_return(
    schema: dict[str, Any], name: str, statuses: set[str]
) -> None:
    responses = operations(schema)[name]["responses"]
    assert set(responses) == statuses
    for status, response in responses.items():
        if status.startswith("4") and status != "422":
            assert response["content"] == ERROR, (name, status)
            assert response["description"], (name, status)
    if "429" in responses:
        assert responses["429"]["headers"]["Retry-After"]["required"] is True


def test_every_error_of_every_operation_names_its_model(schema: dict[str, Any]) -> None:
    assert schema["components"]["schemas"]["ErrorOut"]["required"] == ["detail"]
    for name, operation in operations(schema).items():
        for status, response in operation["responses"].items():
            if status.startswith("4"):
                assert "content" in response, (name, status)


def test_text_fields_publish_their_rule(schema: dict[str, Any]) -> None:
    """The schema says which characters a field takes, as the validation does."""
    case_in = schema["components"]["schemas"]["CaseIn"]["properties"]
    assert case_in["title"]["pattern"] == r"^[^\x00-\x1f\x7f-\x9f]*$"
    assert case_in["title"]["maxLength"] == 200
    assert case_in["summary"]["pattern"] == r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    org_in = schema["components"]["schemas"]["OrganisationIn"]["properties"]
    assert "short_name" in org_in and "code" not in org_in


@pytest.mark.parametrize(
    ("lang", "message"),
    [
        ("zh_Hans", "提交的数据不是有效的 JSON 格式。"),
        ("en", "The request body is not valid JSON."),
    ],
)
async def test_a_body_that_is_not_utf8_is_the_documented_422(
    client: httpx.AsyncClient, factory: Factory, world: Made, lang: str, message: str
) -> None:
    """FastAPI answers 400 "There was an error parsing the body" in English; we answer as
    for any malformed JSON (JSON is UTF-8), in the caller's language."""
    headers = {**(await factory.login(client, world.mediator)), "Content-Type": "application/json"}
    for body in (b'{"title": "\xff\xfe"}', b"[" * 100_000):
        r = await client.post(f"/api/cases?lang={lang}", content=body, headers=headers)
        assert r.status_code == 422, r.text
        assert r.json() == {"detail": [{"loc": ["body"], "msg": message, "type": "json_invalid"}]}


async def test_framework_errors_under_api_are_translated(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/no-such-thing")
    assert (r.status_code, r.json()) == (404, {"detail": "此地址没有内容。"})
    r = await client.delete("/api/me")
    assert r.status_code == 405
    assert r.json() == {"detail": "此地址不支持该请求方法。"}
    assert "GET" in r.headers["allow"]
    r = await client.get("/api/no-such-thing?lang=en")
    assert r.json() == {"detail": "There is nothing at this address."}
