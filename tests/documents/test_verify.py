"""Verification of a file anyone brings: the API and the /verify page, for an issued
document, one with a changed byte, one with something appended, a PDF that is not ours and
a file that is no PDF; and the stored PDF for those who may see its case."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from agreements.render import agreement_html
from service.documents import seal
from service.documents import service as documents_service
from service.documents.models import Document, DocumentKind
from service.models import Role
from tests.conftest import Factory, Made
from tests.documents.samples import sample_doc


@dataclass
class Issued:
    pdf: bytes
    document: Document
    world: Made


async def issue_sealed(factory: Factory) -> Issued:
    """A sealed agreement PDF of a new case, issued as the signing flow issues it."""
    world = await factory.world()
    app = factory.app
    code = documents_service.new_code()
    doc = sample_doc(
        number=world.case.number,
        committee=world.committee.name,
        verify_code=documents_service.format_code(code),
        verify_url=f"http://testserver/verify?code={code}",
    )
    pdf = await app.state.pdf.render(agreement_html(doc), case_id=world.case.id)
    async with factory.uow() as s:
        sealed = await seal.seal(
            s,
            org_id=world.committee.id or 0,
            pdf=pdf,
            settings=app.state.settings,
            workers=app.state.pdf,
        )
        document = await documents_service.issue(
            s,
            pdf=sealed,
            case_id=world.case.id or 0,
            kind=DocumentKind.agreement,
            source_id=7,
            version=3,
            code=code,
            org_id=world.committee.id or 0,
            store=app.state.store,
        )
    return Issued(sealed, document, world)


@pytest.fixture
async def issued(factory: Factory) -> Issued:
    return await issue_sealed(factory)


async def verify(client: httpx.AsyncClient, pdf: bytes) -> dict[str, Any]:
    r = await client.post(
        "/api/documents/verify", content=pdf, headers={"Content-Type": "application/pdf"}
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_an_issued_document_is_genuine(client: httpx.AsyncClient, issued: Issued) -> None:
    body = await verify(client, issued.pdf)
    assert body["genuine"] is True
    assert body["sha256"] == issued.document.sha256
    doc = body["issued"]
    assert doc["case_number"] == issued.world.case.number
    assert doc["organisation"] == issued.world.committee.name
    assert (doc["kind"], doc["source_id"], doc["version"]) == ("agreement", 7, 3)
    assert doc["code"] == documents_service.format_code(issued.document.code)
    assert body["seal"] == {
        "signed": True,
        "intact": True,
        "valid": True,
        "whole_file": True,
        "ours": True,
        "signer": issued.world.committee.name,
        "signed_at": body["seal"]["signed_at"],
    }
    assert body["altered"] is None
    # Nothing personal in the answer: no party's name.
    assert issued.world.applicant.name not in json.dumps(body, ensure_ascii=False)


async def test_the_same_file_as_a_form_upload(client: httpx.AsyncClient, issued: Issued) -> None:
    r = await client.post(
        "/api/documents/verify", files={"file": ("协议书.pdf", issued.pdf, "application/pdf")}
    )
    assert r.status_code == 200, r.text
    assert r.json()["genuine"] is True


async def test_one_changed_byte_is_not_genuine(client: httpx.AsyncClient, issued: Issued) -> None:
    changed = bytearray(issued.pdf)
    changed[len(changed) // 3] ^= 0x01
    body = await verify(client, bytes(changed))
    assert body["genuine"] is False
    assert body["issued"] is None
    assert not (body["seal"]["intact"] and body["seal"]["valid"])


async def test_something_appended_after_the_seal_is_named_as_altered(
    client: httpx.AsyncClient, issued: Issued
) -> None:
    body = await verify(client, issued.pdf + b"\n%%appended after sealing\n")
    assert body["genuine"] is False
    assert body["issued"] is None
    assert body["altered"]["case_number"] == issued.world.case.number
    assert body["seal"]["whole_file"] is False


async def test_a_pdf_we_did_not_issue(client: httpx.AsyncClient, factory: Factory) -> None:
    unsealed = await factory.app.state.pdf.render(agreement_html(sample_doc()))
    body = await verify(client, unsealed)
    assert (body["genuine"], body["issued"], body["altered"]) == (False, None, None)
    assert body["seal"]["signed"] is False


@pytest.mark.parametrize(("lang", "words"), [("zh_Hans", "不是PDF"), ("en", "not a PDF")])
async def test_a_file_that_is_no_pdf_is_a_422_people_can_act_on(
    client: httpx.AsyncClient, lang: str, words: str
) -> None:
    r = await client.post(
        f"/api/documents/verify?lang={lang}",
        content=b"GIF89a not a pdf at all",
        headers={"Content-Type": "application/pdf"},
    )
    assert r.status_code == 422
    detail = r.json()["detail"][0]
    assert detail["loc"] == ["body", "file"]
    assert words in detail["msg"]
    r = await client.post("/api/documents/verify", files={"other": ("x.txt", b"x")})
    assert r.status_code == 422
    r = await client.post("/api/documents/verify")
    assert r.status_code == 422


async def test_a_file_over_the_bound_is_a_413(client: httpx.AsyncClient, app: Any) -> None:
    limits = app.state.settings.pdf
    saved = limits.max_verify_bytes
    limits.max_verify_bytes = 4096
    try:
        big = b"%PDF-1.7\n" + b"0" * (4096 + 70 * 1024)
        r = await client.post(
            "/api/documents/verify", content=big, headers={"Content-Type": "application/pdf"}
        )
        assert r.status_code == 413
        assert "MB" in r.json()["detail"]
        # Over the bound inside a multipart form too, where the body holds the file plus
        # boundaries.
        r = await client.post(
            "/api/documents/verify", files={"file": ("a.pdf", b"%PDF-1.7\n" + b"0" * 5000)}
        )
        assert r.status_code == 413
    finally:
        limits.max_verify_bytes = saved


async def test_the_stored_pdf_for_those_who_may_see_the_case(
    client: httpx.AsyncClient, factory: Factory, issued: Issued
) -> None:
    world = issued.world
    path = f"/api/documents/{issued.document.sha256}"
    mediator = await factory.login(client, world.mediator)
    r = await client.get(path, headers=mediator)
    assert r.status_code == 200
    assert r.content == issued.pdf
    assert r.headers["content-type"] == "application/pdf"
    client.cookies.clear()
    party = await factory.party_headers(
        client, await factory.invite(world.mediator, world.case, world.respondent)
    )
    assert (await client.get(path, headers=party)).content == issued.pdf
    client.cookies.clear()
    elsewhere = await factory.user(Role.mediator, await factory.committee())
    outsider = await factory.login(client, elsewhere)
    missing = "/api/documents/" + "0" * 64
    r, r2 = await client.get(path, headers=outsider), await client.get(missing, headers=outsider)
    assert (
        (r.status_code, r.json())
        == (r2.status_code, r2.json())
        == (
            404,
            {"detail": r.json()["detail"]},
        )
    )
    assert (await client.get("/api/documents/not-a-hash", headers=outsider)).status_code == 422


async def test_the_verify_page_with_the_qr_code_link(
    client: httpx.AsyncClient, issued: Issued
) -> None:
    client.cookies.clear()
    printed = documents_service.format_code(issued.document.code)
    r = await client.get(f"/verify?code={printed}")
    assert r.status_code == 200
    assert 'lang="zh-Hans"' in r.text
    assert "文书核验" in r.text and issued.world.case.number in r.text
    assert printed in r.text
    assert issued.world.applicant.name not in r.text
    # Typed by hand: lower case, no dashes.
    r = await client.get(f"/verify?code={issued.document.code.lower()}")
    assert issued.world.case.number in r.text
    r = await client.get("/verify?code=AAAA-BBBB-CCCC")
    assert r.status_code == 200
    assert "没有与该核验码对应的文书" in r.text


async def test_the_verify_page_checks_an_upload(client: httpx.AsyncClient, issued: Issued) -> None:
    client.cookies.clear()
    r = await client.post("/verify", files={"file": ("协议书.pdf", issued.pdf, "application/pdf")})
    assert r.status_code == 200
    assert 'data-genuine="yes"' in r.text and "真实有效" in r.text
    assert issued.world.case.number in r.text
    changed = bytearray(issued.pdf)
    changed[len(changed) // 3] ^= 0x01
    r = await client.post("/verify", files={"file": ("a.pdf", bytes(changed), "application/pdf")})
    assert r.status_code == 200
    assert 'data-genuine="no"' in r.text
    r = await client.post("/verify", files={"file": ("a.txt", b"hello", "text/plain")})
    assert r.status_code == 422
    assert re.search(r'data-testid="verify-problem">[^<]*不是PDF', r.text)
