"""The agreement as a document: the view the PDF is rendered from, the sealed file issued
when it takes effect, and previews of any version.

Rendering runs in the PDF worker processes (app.state.pdf), never on the event loop that
carries the video; the seal is the committee's (service/documents). The view is built from
the stored version (its parties as they were named when it was saved) and the signatures on
it, so the PDF prints exactly the text that was hashed and signed.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import Request
from sqlmodel.ext.asyncio.session import AsyncSession

from agreements import service as agreements_service
from agreements.access import AgreementAccess
from agreements.clauses import ROLE_ZH, term_text, zh_date
from agreements.content import PartySnapshot, money
from agreements.models import Agreement, AgreementStatus, AgreementVersion, Signature
from agreements.render import (
    AgreementDoc,
    InstalmentLine,
    PartyLine,
    SignatureLine,
    TermLine,
    agreement_html,
)
from agreements.signing import Issue
from service.cases import CHINA
from service.documents import seal
from service.documents import service as documents_service
from service.documents.models import DocumentKind
from service.models import Case, Organisation, User
from service.storage import ContentStore

TITLE = "人民调解协议书"
# What a party is not shown of another party (API.md): all but name and role.
PRIVATE = ("id_number", "address", "phone", "representative", "agent_name")


def issuer(
    request: Request, session: AsyncSession, case: Case, pending: dict[str, bytes] | None = None
) -> Issue:
    """What the mediator's signature calls to issue the sealed PDF (agreements/signing.py).
    ``pending``: a signature picture of this request, not stored until the signature is."""

    async def issue(
        agreement: Agreement, version: AgreementVersion, signatures: list[Signature], at: datetime
    ) -> str:
        code = documents_service.new_code()
        base = request.app.state.settings.public_url
        doc = await view(
            request,
            session,
            case,
            version,
            signatures,
            effective_at=at,
            code=code,
            verify_url=f"{base}/verify?code={code}",
            pending=pending or {},
        )
        pdf = await request.app.state.pdf.render(
            agreement_html(doc), case=case.id, agreement=agreement.id
        )
        sealed = await seal.seal(
            session,
            org_id=case.org_id,
            pdf=pdf,
            settings=request.app.state.settings,
            workers=request.app.state.pdf,
        )
        issued = await documents_service.issue(
            session,
            pdf=sealed,
            case_id=case.id or 0,
            kind=DocumentKind.agreement,
            source_id=agreement.id or 0,
            version=version.number,
            code=code,
            org_id=case.org_id,
            store=request.app.state.store,
        )
        return issued.sha256

    return issue


async def pdf_of(
    request: Request, session: AsyncSession, access: AgreementAccess, number: int | None
) -> bytes:
    """The sealed PDF of an effective agreement; otherwise a preview of the version (the
    latest by default), marked as a draft that is not in effect."""
    agreement = access.agreement
    if (
        agreement.status == AgreementStatus.effective
        and agreement.document_sha256
        and (number is None or number == agreement.signing_version)
    ):
        data: bytes = await request.app.state.store.get_bytes_async(agreement.document_sha256)
        return data
    version = await agreements_service.version_of(
        session, agreement, number or agreement.latest_version
    )
    signatures = await agreements_service.signatures_of(session, agreement, version=version.number)
    doc = await view(
        request,
        session,
        access.case,
        version,
        signatures,
        draft_note=f"草稿　第{version.number}版　未生效",
        viewer_party=access.party_id,
    )
    # Only reads so far: end them before the render, so that on SQLite the request does not
    # hold the one writer's lock for as long as a PDF takes.
    await session.close()
    pdf: bytes = await request.app.state.pdf.render(
        agreement_html(doc), case=access.case.id, agreement=agreement.id
    )
    return pdf


async def view(
    request: Request,
    session: AsyncSession,
    case: Case,
    version: AgreementVersion,
    signatures: list[Signature],
    *,
    effective_at: datetime | None = None,
    code: str | None = None,
    verify_url: str | None = None,
    draft_note: str | None = None,
    pending: dict[str, bytes] | None = None,
    viewer_party: int | None = None,
) -> AgreementDoc:
    """``viewer_party``: a party previewing a draft sees the other side by name and role
    only (API.md); the sealed agreement carries every party's particulars (PML 29)."""
    _, parties, content = agreements_service.read(version)
    if viewer_party is not None:
        parties = [
            p if p.id == viewer_party else p.model_copy(update=dict.fromkeys(PRIVATE))
            for p in parties
        ]
    by_id = {p.id: p for p in parties}
    org = await session.get(Organisation, case.org_id)
    mediator = await session.get(User, case.mediator_id)
    store = request.app.state.store
    by_party = {s.party_id: s for s in signatures if s.party_id is not None}
    by_user = {s.user_id: s for s in signatures if s.user_id is not None}
    lines = [
        await _signature_line(
            ROLE_ZH.get(p.role, ""), p.name, by_party.get(p.id), store, pending or {}
        )
        for p in parties
    ]
    mediator_name = mediator.name if mediator else ""
    lines.append(
        await _signature_line(
            "调解员", mediator_name, by_user.get(case.mediator_id), store, pending or {}
        )
    )
    return AgreementDoc(
        title=TITLE,
        number=case.number,
        committee=org.name if org else "",
        parties=[_party_line(p) for p in parties],
        facts=content.facts,
        disputed_matters=content.disputed_matters,
        responsibilities=content.responsibilities,
        terms=[
            TermLine(
                number=i,
                text=term_text(term, by_id),
                instalments=[
                    InstalmentLine(due=zh_date(part.due), amount=money(part.amount))
                    for part in term.instalments
                ],
            )
            for i, term in enumerate(content.terms, 1)
        ],
        other_terms=list(content.other_terms),
        copies=content.copies,
        signatures=lines,
        mediator=mediator_name,
        sealed=effective_at is not None,
        effective_on=zh_date(effective_at.astimezone(CHINA).date()) if effective_at else None,
        verify_code=code,
        verify_url=verify_url,
        draft_note=draft_note,
        version=version.number,
        content_sha256=version.content_sha256,
    )


def _party_line(p: PartySnapshot) -> PartyLine:
    details = []
    if p.kind == "organisation" and p.representative:
        details.append(f"法定代表人（负责人）：{p.representative}")
    if p.id_number:
        label = "统一社会信用代码" if p.kind == "organisation" else "公民身份号码"
        details.append(f"{label}：{p.id_number}")
    if p.address:
        details.append(f"住址：{p.address}")
    if p.phone:
        details.append(f"联系电话：{p.phone}")
    if p.agent_name:
        details.append(f"委托代理人：{p.agent_name}")
    return PartyLine(role_label=ROLE_ZH.get(p.role, p.role), name=p.name, details=details)


async def _signature_line(
    label: str,
    name: str,
    signature: Signature | None,
    store: ContentStore,
    pending: dict[str, bytes],
) -> SignatureLine:
    if signature is None:
        return SignatureLine(
            label=label, name=name, signed_at=None, image_png=None, typed_name=None
        )
    sha = signature.image_sha256
    image = (pending.get(sha) or await store.get_bytes_async(sha)) if sha else None
    at = signature.signed_at.astimezone(CHINA)
    return SignatureLine(
        label=label,
        name=name,
        signed_at=f"{zh_date(at.date())} {at:%H:%M}",
        image_png=image,
        typed_name=signature.typed_name,
    )
