"""The agreements' HTTP API (API.md). Routes validate and translate; the logic is in
agreements/service.py and agreements/signing.py; the request's unit of work commits."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from agreements import catalog, document, signing
from agreements import service as agreements_service
from agreements.access import AgreementAccess, EditableAgreement, ViewableAgreement
from agreements.clauses import diff
from agreements.models import Agreement, AgreementStatus, AgreementVersion, Signature, SignMethod
from agreements.schemas import (
    AgreementIn,
    AgreementOut,
    AgreementSave,
    AwaitingOut,
    ClauseDiffOut,
    ClauseOut,
    DiffOut,
    FindingOut,
    SignatureIn,
    SignatureOut,
    TemplateOut,
    VersionOut,
    VersionSummary,
    VoidIn,
)
from agreements.service import read
from service.auth import (
    CurrentMediator,
    CurrentPrincipal,
    MediatorCase,
    PartyPrincipal,
    StaffPrincipal,
    ViewableCase,
)
from service.db import SessionDep
from service.errors import Invalid, NotFound
from service.hub import AGREEMENT_TOPIC
from service.i18n import gettext
from service.router import client_address

router = APIRouter(tags=["agreements"])
TOPIC = AGREEMENT_TOPIC


@router.get("/api/templates", response_model=list[TemplateOut])
async def list_templates(_: CurrentMediator, request: Request) -> list[TemplateOut]:
    language = request.state.language
    return [
        TemplateOut(
            id=t.id,
            dispute_type=t.dispute_type,
            name=gettext(language, t.name),
            description=gettext(language, t.description),
        )
        for t in catalog.TEMPLATES.values()
    ]


@router.post("/api/cases/{case_id}/agreement", response_model=AgreementOut, status_code=201)
async def create_agreement(
    body: AgreementIn,
    case: MediatorCase,
    mediator: CurrentMediator,
    session: SessionDep,
    request: Request,
    background: BackgroundTasks,
) -> AgreementOut:
    """The case's agreement, version 1: the template filled in from the case's parties, or
    the content given. 409 (Location: the agreement) when the case has one already."""
    agreement, _ = await agreements_service.create(
        session,
        case=case,
        template_id=body.template,
        content=body.content,
        user_id=mediator.user.id or 0,
        actor=mediator.actor,
    )
    announce(request, background, agreement)
    return await agreement_out(session, request, AgreementAccess(agreement, case, mediator))


@router.get("/api/cases/{case_id}/agreement", response_model=AgreementOut)
async def case_agreement(
    case: ViewableCase, principal: CurrentPrincipal, session: SessionDep, request: Request
) -> AgreementOut:
    """The case's agreement in progress or in force (404 while there is none)."""
    agreement = await agreements_service.live_agreement(session, case.id or 0)
    if agreement is None:
        raise NotFound("This case has no agreement yet.")
    return await agreement_out(session, request, AgreementAccess(agreement, case, principal))


@router.get("/api/agreements/{agreement_id}", response_model=AgreementOut)
async def get_agreement(
    access: ViewableAgreement, session: SessionDep, request: Request
) -> AgreementOut:
    return await agreement_out(session, request, access)


@router.put("/api/agreements/{agreement_id}", response_model=AgreementOut)
async def save_agreement(
    body: AgreementSave,
    access: EditableAgreement,
    session: SessionDep,
    request: Request,
    background: BackgroundTasks,
) -> AgreementOut:
    """A new version (409 when ``base_version`` is not the latest). An edit while the
    agreement is out for signing voids the signatures given and makes it a draft again."""
    principal = access.principal
    agreement, _ = await agreements_service.save(
        session,
        agreement_id=access.agreement.id or 0,
        case=access.case,
        base_version=body.base_version,
        content=body.content,
        user_id=_user_id(principal),
        actor=principal.actor,
    )
    announce(request, background, agreement)
    return await agreement_out(session, request, AgreementAccess(agreement, access.case, principal))


@router.get("/api/agreements/{agreement_id}/versions", response_model=list[VersionSummary])
async def list_versions(access: ViewableAgreement, session: SessionDep) -> list[VersionSummary]:
    versions = await agreements_service.versions_of(session, access.agreement)
    return [
        VersionSummary(number=v.number, content_sha256=v.content_sha256, created_at=v.created_at)
        for v in versions
    ]


@router.get("/api/agreements/{agreement_id}/versions/{number}", response_model=VersionOut)
async def get_version(
    access: ViewableAgreement,
    number: Annotated[int, Path(ge=1, le=100_000)],
    session: SessionDep,
    request: Request,
) -> VersionOut:
    version = await agreements_service.version_of(session, access.agreement, number)
    return version_out(version, request, access)


@router.get("/api/agreements/{agreement_id}/diff", response_model=DiffOut)
async def version_diff(
    access: ViewableAgreement,
    session: SessionDep,
    from_: Annotated[int, Query(alias="from", ge=1, le=100_000)],
    to: Annotated[int, Query(ge=1, le=100_000)],
) -> JSONResponse:
    """What changed between two versions, clause by clause, the changed characters marked."""
    before = await agreements_service.version_of(session, access.agreement, from_)
    after = await agreements_service.version_of(session, access.agreement, to)
    # CPU work (a character diff per clause): off the event loop that carries the video.
    changes = await asyncio.to_thread(
        diff, agreements_service.clauses_of(before), agreements_service.clauses_of(after)
    )
    out = DiffOut(
        from_version=from_,
        to_version=to,
        clauses=[
            ClauseDiffOut(
                key=c.key,
                heading=c.heading,
                change=c.change,
                before=c.before,
                after=c.after,
                ops=c.ops,
            )
            for c in changes
        ],
    )
    return JSONResponse(out.model_dump(mode="json", by_alias=True))


@router.post("/api/agreements/{agreement_id}/void", response_model=AgreementOut)
async def void_agreement(
    body: VoidIn,
    access: EditableAgreement,
    session: SessionDep,
    request: Request,
    background: BackgroundTasks,
) -> AgreementOut:
    """Abandon a draft or an agreement out for signing, saying why (409 once in effect);
    the case may then start another."""
    agreement = await agreements_service.void(
        session,
        agreement_id=access.agreement.id or 0,
        reason=body.reason,
        actor=access.principal.actor,
    )
    announce(request, background, agreement)
    return await agreement_out(
        session, request, AgreementAccess(agreement, access.case, access.principal)
    )


@router.post("/api/agreements/{agreement_id}/send-for-signing", response_model=AgreementOut)
async def send_for_signing(
    access: EditableAgreement, session: SessionDep, request: Request, background: BackgroundTasks
) -> AgreementOut:
    """Freeze the latest version for signing (409 while its check finds errors, or while
    the case is not in mediation)."""
    agreement = await agreements_service.send_for_signing(
        session,
        agreement_id=access.agreement.id or 0,
        case=access.case,
        actor=access.principal.actor,
    )
    announce(request, background, agreement)
    return await agreement_out(
        session, request, AgreementAccess(agreement, access.case, access.principal)
    )


@router.post(
    "/api/agreements/{agreement_id}/signatures", response_model=AgreementOut, status_code=201
)
async def add_signature(
    body: SignatureIn,
    access: ViewableAgreement,
    session: SessionDep,
    request: Request,
    background: BackgroundTasks,
) -> AgreementOut:
    """A party's signature, or (last) the mediator's, on the version out for signing; 409
    when the version or its hash is not the one out for signing, or the signer has signed."""
    if body.method == SignMethod.drawn:
        if body.image_png is None or body.typed_name is not None:
            raise Invalid(
                "A drawn signature carries the picture and no typed name.", field="image_png"
            )
        await asyncio.to_thread(signing.check_png, body.image_png)
        image_sha256: str | None = hashlib.sha256(body.image_png).hexdigest()
    else:
        if body.typed_name is None or body.image_png is not None:
            raise Invalid("A typed signature carries the name and no picture.", field="typed_name")
        image_sha256 = None
    principal = access.principal
    signer, evidence = await _signer(session, request, access)
    agreement, _ = await signing.sign(
        session,
        agreement_id=access.agreement.id or 0,
        case=access.case,
        signer=signer,
        version=body.version,
        content_sha256=body.content_sha256,
        method=body.method,
        image_sha256=image_sha256,
        typed_name=body.typed_name,
        address=client_address(request),
        user_agent=request.headers.get("user-agent", ""),
        evidence=evidence,
        actor=principal.actor,
        issue=document.issuer(
            request,
            session,
            access.case,
            {image_sha256: body.image_png} if image_sha256 and body.image_png else None,
        ),
    )
    if body.image_png is not None:  # stored once the signature is accepted, not before
        await request.app.state.store.put_bytes_async(body.image_png)
    announce(request, background, agreement)
    return await agreement_out(session, request, AgreementAccess(agreement, access.case, principal))


async def _signer(
    session: SessionDep, request: Request, access: AgreementAccess
) -> tuple[signing.Signer, dict[str, Any]]:
    """Who signs, and how they were identified: the join link they came in by and the
    consent ledger (a party), or the staff login (the mediator). Never the token itself."""
    principal = access.principal
    if isinstance(principal, PartyPrincipal):
        formalities: dict[str, Any] = {}
        for source in request.app.state.signing_evidence:
            formalities.update(await source(session, access.case, principal.party))
        evidence = {
            "via": "join_link",
            "invitation_id": principal.auth_session.invitation_id,
            "session_started": principal.auth_session.created_at.isoformat(),
            "formalities": formalities,
        }
        return signing.Signer(principal.party.name, party_id=principal.party.id), evidence
    evidence = {
        "via": "staff_login",
        "session_started": principal.auth_session.created_at.isoformat(),
    }
    return signing.Signer(principal.user.name, user_id=principal.user.id), evidence


@router.get(
    "/api/agreements/{agreement_id}/pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
async def agreement_pdf(
    access: ViewableAgreement,
    session: SessionDep,
    request: Request,
    version: Annotated[int | None, Query(ge=1, le=100_000)] = None,
) -> Response:
    """The effective agreement's sealed PDF, or a preview of any version, marked as a draft
    that is not in effect."""
    body = await document.pdf_of(request, session, access, version)
    return Response(body, media_type="application/pdf")


def _user_id(principal: Any) -> int:
    if not isinstance(principal, StaffPrincipal):  # (EditableAgreement lets only staff in)
        raise NotFound("No such agreement.")
    return principal.user.id or 0


def announce(request: Request, background: BackgroundTasks, agreement: Agreement) -> None:
    """Once committed, the case's meeting hears of it (rooms subscribe through the hub)."""
    background.add_task(
        request.app.state.hub.publish,
        TOPIC,
        {
            "case_id": agreement.case_id,
            "agreement_id": agreement.id,
            "version": agreement.latest_version,
            "status": agreement.status,
        },
    )


def version_out(version: AgreementVersion, request: Request, access: AgreementAccess) -> VersionOut:
    template, parties, content = read(version)
    party_id = access.party_id
    if party_id is not None:
        # Another party is shown by name and role only (API.md), in the JSON as on the pages.
        parties = [
            p if p.id == party_id else p.model_copy(update=dict.fromkeys(document.PRIVATE))
            for p in parties
        ]
    language = request.state.language
    return VersionOut(
        number=version.number,
        content_sha256=version.content_sha256,
        created_at=version.created_at,
        template=template,
        parties=parties,
        content=content,
        clauses=[
            ClauseOut(key=c.key, heading=c.heading, text=c.text)
            for c in agreements_service.clauses_of(version)
        ],
        findings=[
            FindingOut(
                level=f.level,
                code=f.code,
                clause=f.clause,
                message=gettext(language, f.message, **f.params),
                rule=f.rule,
            )
            for f in agreements_service.findings(version, on=agreements_service.today())
        ],
    )


async def agreement_out(
    session: SessionDep, request: Request, access: AgreementAccess
) -> AgreementOut:
    agreement = access.agreement
    latest = await agreements_service.version_of(session, agreement, agreement.latest_version)
    number = agreement.signing_version
    if agreement.status == AgreementStatus.effective:
        number = agreement.latest_version
    signatures: list[Signature] = (
        await agreements_service.signatures_of(session, agreement, version=number) if number else []
    )
    awaiting: list[AwaitingOut] = []
    if agreement.status == AgreementStatus.signing:
        _, parties, _ = read(await agreements_service.version_of(session, agreement, number or 1))
        signed = {s.party_id for s in signatures}
        awaiting = [
            AwaitingOut(party_id=p.id, name=p.name, role=p.role)
            for p in parties
            if p.id not in signed
        ]
        awaiting.append(AwaitingOut(party_id=None, name="", role="mediator"))
    return AgreementOut(
        id=agreement.id or 0,
        case_id=agreement.case_id,
        template=agreement.template,
        status=AgreementStatus(agreement.status),
        latest_version=agreement.latest_version,
        signing_version=agreement.signing_version,
        effective_at=agreement.effective_at,
        confirmation_deadline=(
            agreements_service.effective_deadline(agreement.effective_at)
            if agreement.effective_at
            else None
        ),
        document_sha256=agreement.document_sha256,
        version=version_out(latest, request, access),
        signatures=[
            SignatureOut(
                id=s.id or 0,
                version=s.version,
                content_sha256=s.content_sha256,
                party_id=s.party_id,
                user_id=s.user_id,
                signer_name=s.signer_name,
                method=SignMethod(s.method),
                signed_at=s.signed_at,
            )
            for s in signatures
        ],
        awaiting=awaiting,
    )
