"""The agreements' HTTP API (API.md): templates, drafting, versions and the diff, voiding,
the PDF. Routes validate and translate; the logic is in agreements/service.py; the request's
unit of work commits. Sending out for signing and signing are in agreements/signing_router.py,
included here; the answers (AgreementOut) are built in agreements/views.py."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from agreements import catalog, document
from agreements import service as agreements_service
from agreements.access import AgreementAccess, EditableAgreement, ViewableAgreement
from agreements.clauses import diff
from agreements.schemas import (
    AgreementIn,
    AgreementOut,
    AgreementSave,
    ClauseDiffOut,
    DiffOut,
    TemplateOut,
    VersionOut,
    VersionSummary,
    VoidIn,
)
from agreements.signing_router import router as signing_router
from agreements.views import agreement_out, announce, version_out
from service.auth import (
    CurrentMediator,
    CurrentPrincipal,
    MediatorCase,
    StaffPrincipal,
    ViewableCase,
)
from service.db import SessionDep
from service.errors import NotFound
from service.i18n import gettext

router = APIRouter(tags=["agreements"])
router.include_router(signing_router)  # sending out for signing, the signatures


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
