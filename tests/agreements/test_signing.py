"""Signing: bound to the version and its hash, each party once, the mediator last, edits void
the signatures, and the agreement taking effect with a sealed PDF and the case agreed."""

from __future__ import annotations

import asyncio
import subprocess
from typing import Any

import httpx

from service.documents.models import Document
from tests.agreements.helpers import out_for_signing, png, sign
from tests.conftest import Factory


def _run(*command: str) -> str:
    """poppler's tools, on a file the test wrote (a blocking call, kept out of the loop's
    own code path: the test waits for it anyway)."""
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


async def _rows(factory: Factory, agreement_id: int) -> tuple[list[Any], list[Any], str]:
    from sqlmodel import select

    from agreements.models import Agreement, AgreementVersion, Signature

    async with factory.uow() as s:
        versions = (
            await s.exec(
                select(AgreementVersion).where(AgreementVersion.agreement_id == agreement_id)
            )
        ).all()
        signatures = (
            await s.exec(select(Signature).where(Signature.agreement_id == agreement_id))
        ).all()
        agreement = await s.get(Agreement, agreement_id)
        assert agreement is not None
        return (
            [(v.number, v.content_sha256) for v in versions],
            [(s.id, s.party_id, s.user_id, s.voided_at) for s in signatures],
            agreement.status,
        )


async def test_the_whole_flow_ends_in_a_sealed_effective_agreement(
    client: httpx.AsyncClient, factory: Factory, tmp_path: Any
) -> None:
    signing = await out_for_signing(client, factory)
    assert signing.agreement["status"] == "signing"
    assert [a["role"] for a in signing.agreement["awaiting"]] == [
        "applicant",
        "respondent",
        "mediator",
    ]

    r = await sign(client, signing, signing.applicant)
    assert r.status_code == 201, r.text
    r = await sign(
        client,
        signing,
        signing.respondent,
        method="typed",
        image_png=None,
        typed_name=signing.world.respondent.name,
    )
    assert r.status_code == 201, r.text
    assert [a["role"] for a in r.json()["awaiting"]] == ["mediator"]

    r = await sign(
        client,
        signing,
        signing.mediator,
        method="typed",
        image_png=None,
        typed_name=signing.world.mediator.name,
    )
    assert r.status_code == 201, r.text
    effective = r.json()
    assert effective["status"] == "effective"
    assert effective["effective_at"] and effective["confirmation_deadline"]
    assert len(effective["signatures"]) == 3
    sha256 = effective["document_sha256"]
    assert sha256 and len(sha256) == 64

    r = await client.get(f"/api/cases/{signing.world.case.id}", headers=signing.mediator)
    assert r.json()["status"] == "agreed"

    r = await client.get(f"/api/agreements/{signing.id}/pdf", headers=signing.applicant)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    import hashlib

    assert hashlib.sha256(r.content).hexdigest() == sha256
    pdf = tmp_path / "agreement.pdf"
    pdf.write_bytes(r.content)
    text = _run("pdftotext", "-layout", str(pdf), "-")
    squeezed = "".join(text.split())
    world = signing.world
    for expected in (
        world.applicant.name,
        world.respondent.name,
        "人民调解协议书",
        "30000.00",
        "10000.00",
        world.case.number,
    ):
        assert expected in squeezed, expected
    fonts = _run("pdffonts", str(pdf))
    cjk = [line for line in fonts.splitlines() if "CJK" in line]
    assert cjk and all(" yes " in line for line in cjk), fonts

    async with factory.uow() as s:
        from sqlmodel import select

        document = (await s.exec(select(Document).where(Document.sha256 == sha256))).one()
        assert (
            document.case_id == world.case.id and document.version == effective["signing_version"]
        )

    # Frozen: no edit, no other signature.
    r = await client.put(
        f"/api/agreements/{signing.id}",
        json={
            "base_version": effective["latest_version"],
            "content": effective["version"]["content"],
        },
        headers=signing.mediator,
    )
    assert r.status_code == 409


async def test_a_stale_version_or_hash_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    signing = await out_for_signing(client, factory)
    before = await _rows(factory, signing.id)
    r = await sign(client, signing, signing.applicant, content_sha256="0" * 64)
    assert r.status_code == 409, r.text
    r = await sign(client, signing, signing.applicant, version=1)
    assert r.status_code == 409, r.text
    assert await _rows(factory, signing.id) == before


async def test_the_same_party_signs_once(client: httpx.AsyncClient, factory: Factory) -> None:
    signing = await out_for_signing(client, factory)
    assert (await sign(client, signing, signing.applicant)).status_code == 201
    before = await _rows(factory, signing.id)
    r = await sign(client, signing, signing.applicant)
    assert r.status_code == 409, r.text
    assert await _rows(factory, signing.id) == before


async def test_two_parties_signing_at_once_are_both_recorded_once(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    signing = await out_for_signing(client, factory)
    results = await asyncio.gather(
        sign(client, signing, signing.applicant),
        sign(client, signing, signing.respondent),
        sign(client, signing, signing.applicant),
    )
    codes = sorted(r.status_code for r in results)
    assert codes == [201, 201, 409], [r.text for r in results]
    _, signatures, status = await _rows(factory, signing.id)
    assert status == "signing"
    parties = sorted(p for _, p, _, _ in signatures)
    assert parties == sorted([signing.world.applicant.id, signing.world.respondent.id])


async def test_only_the_parties_and_the_case_s_mediator_sign(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    signing = await out_for_signing(client, factory)
    await sign(client, signing, signing.applicant)
    await sign(client, signing, signing.respondent)
    before = await _rows(factory, signing.id)
    other = await factory.login(client, signing.world.other_mediator)
    client.cookies.clear()
    r = await sign(client, signing, other, method="typed", image_png=None, typed_name="别人")
    assert r.status_code == 403, r.text
    stranger_world = await factory.world()
    stranger = await factory.party_headers(
        client,
        await factory.invite(
            stranger_world.mediator, stranger_world.case, stranger_world.applicant
        ),
    )
    client.cookies.clear()
    r = await sign(client, signing, stranger)
    assert r.status_code == 404, r.text
    assert await _rows(factory, signing.id) == before


async def test_the_mediator_signs_last(client: httpx.AsyncClient, factory: Factory) -> None:
    signing = await out_for_signing(client, factory)
    await sign(client, signing, signing.applicant)
    r = await sign(
        client,
        signing,
        signing.mediator,
        method="typed",
        image_png=None,
        typed_name=signing.world.mediator.name,
    )
    assert r.status_code == 409
    assert signing.world.respondent.name in r.json()["detail"]


async def test_an_edit_during_signing_voids_the_signatures(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    signing = await out_for_signing(client, factory)
    assert (await sign(client, signing, signing.applicant)).status_code == 201
    content = signing.agreement["version"]["content"]
    content["other_terms"].append("双方互不追究其他责任。")
    r = await client.put(
        f"/api/agreements/{signing.id}",
        json={"base_version": signing.agreement["latest_version"], "content": content},
        headers=signing.mediator,
    )
    assert r.status_code == 200, r.text
    edited = r.json()
    assert edited["status"] == "draft" and edited["signing_version"] is None
    assert edited["latest_version"] == signing.agreement["latest_version"] + 1
    _, signatures, _ = await _rows(factory, signing.id)
    assert signatures and all(voided is not None for *_, voided in signatures)
    # The old version is no longer out for signing: a signature on it is refused.
    r = await sign(client, signing, signing.respondent)
    assert r.status_code == 409


async def test_signature_images_are_bounded(client: httpx.AsyncClient, factory: Factory) -> None:
    signing = await out_for_signing(client, factory)
    before = await _rows(factory, signing.id)
    for body in (
        {"image_png": "bm90IGEgcG5n"},  # "not a png"
        {"image_png": png(2500, 100)},
        {"image_png": "A" * 400_000},
        {"image_png": None},
        {"method": "typed", "image_png": None, "typed_name": None},
    ):
        r = await sign(client, signing, signing.applicant, **body)
        assert r.status_code == 422, (body.keys(), r.text)
        assert r.json()["detail"]
    assert await _rows(factory, signing.id) == before


async def test_a_party_may_not_edit_or_send(client: httpx.AsyncClient, factory: Factory) -> None:
    signing = await out_for_signing(client, factory)
    r = await client.put(
        f"/api/agreements/{signing.id}",
        json={"base_version": 1, "content": signing.agreement["version"]["content"]},
        headers=signing.applicant,
    )
    assert r.status_code == 403
    r = await client.post(
        f"/api/agreements/{signing.id}/send-for-signing", headers=signing.applicant
    )
    assert r.status_code == 403


async def test_a_typed_signature_is_the_signer_s_own_name(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    signing = await out_for_signing(client, factory)
    before = await _rows(factory, signing.id)
    r = await sign(
        client, signing, signing.applicant, method="typed", image_png=None, typed_name="别人"
    )
    assert r.status_code == 422 and signing.world.applicant.name in r.text, r.text
    assert await _rows(factory, signing.id) == before


async def test_nothing_is_signed_once_the_case_has_ended(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    signing = await out_for_signing(client, factory)
    r = await client.post(
        f"/api/cases/{signing.world.case.id}/status",
        json={"status": "failed", "reason": "一方拒绝签字"},
        headers=signing.mediator,
    )
    assert r.status_code == 200, r.text
    before = await _rows(factory, signing.id)
    r = await sign(client, signing, signing.applicant)
    assert r.status_code == 409, r.text
    r = await client.put(
        f"/api/agreements/{signing.id}",
        json={
            "base_version": signing.agreement["latest_version"],
            "content": signing.agreement["version"]["content"],
        },
        headers=signing.mediator,
    )
    assert r.status_code == 409, r.text
    assert await _rows(factory, signing.id) == before


async def test_signature_pictures_must_decode_and_show_a_mark(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    import base64
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    # A header claiming 20000x20000 pixels (a decompression bomb), in 60 bytes.
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(
        b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 8, 6, 0, 0, 0)
    )
    bomb += chunk(b"IDAT", zlib.compress(b"\x00")) + chunk(b"IEND", b"")
    signing = await out_for_signing(client, factory)
    before = await _rows(factory, signing.id)
    for picture in (base64.b64encode(bomb).decode(), png(stroke=False)):
        r = await sign(client, signing, signing.applicant, image_png=picture)
        assert r.status_code == 422, r.text
    assert await _rows(factory, signing.id) == before


async def test_an_agreement_is_voided_with_a_reason_and_another_may_start(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    signing = await out_for_signing(client, factory)
    assert (await sign(client, signing, signing.applicant)).status_code == 201
    r = await client.post(
        f"/api/agreements/{signing.id}/void", json={"reason": ""}, headers=signing.mediator
    )
    assert r.status_code == 422
    r = await client.post(
        f"/api/agreements/{signing.id}/void",
        json={"reason": "双方另行协商"},
        headers=signing.mediator,
    )
    assert r.status_code == 200 and r.json()["status"] == "void", r.text
    _, signatures, status = await _rows(factory, signing.id)
    assert status == "void" and all(voided is not None for *_, voided in signatures)
    r = await client.post(
        f"/api/cases/{signing.world.case.id}/agreement",
        json={"template": "debt"},
        headers=signing.mediator,
    )
    assert r.status_code == 201, r.text


async def test_a_party_s_preview_shows_the_other_side_by_name_only(
    client: httpx.AsyncClient, factory: Factory, tmp_path: Any
) -> None:
    signing = await out_for_signing(client, factory)
    r = await client.get(f"/api/agreements/{signing.id}/pdf", headers=signing.respondent)
    assert r.status_code == 200
    pdf = tmp_path / "preview.pdf"
    pdf.write_bytes(r.content)
    text = "".join(_run("pdftotext", str(pdf), "-").split())
    assert signing.world.applicant.name in text
    assert "13800000001" not in text  # the applicant's phone
    r = await client.get(f"/api/agreements/{signing.id}/pdf", headers=signing.applicant)
    pdf.write_bytes(r.content)
    assert "13800000001" in "".join(_run("pdftotext", str(pdf), "-").split())
