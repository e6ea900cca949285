"""The confirmation API (API.md): the application, consents, the court's queue, acceptance,
the claim, the decision, withdrawal and supplements. The request's unit of work commits.
What they answer, ApplicationOut, is built in confirmation/views.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query, Request, Response
from fastapi import Path as FastApiPath
from sqlmodel.ext.asyncio.session import AsyncSession

from agreements import service as agreements_service
from confirmation import clock, competence, decisions, document, notices, queue, record
from confirmation import service as confirmation_service
from confirmation.access import (
    ApplicationAccess,
    CourtApplication,
    JudgeApplication,
    PartyApplication,
    ViewableApplication,
)
from confirmation.models import ApplicationStatus, Outcome
from confirmation.schemas import (
    AcceptIn,
    ApplicationIn,
    ApplicationOut,
    CourtOut,
    DeadlineOut,
    DecisionIn,
    NoteIn,
    QueueItem,
    QueuePage,
    SupplementIn,
)
from confirmation.session_router import router as joint_session_router
from confirmation.views import application_out
from service.auth import (
    CurrentPrincipal,
    CurrentStaff,
    PartyPrincipal,
    PathId,
    StaffPrincipal,
    ViewableCase,
)
from service.clock import now
from service.db import SessionDep
from service.errors import Forbidden, Invalid, NotFound
from service.i18n import gettext
from service.models import Role
from service.router import client_address

router = APIRouter(tags=["confirmation"])
router.include_router(joint_session_router)  # the judge's joint session and its record


@router.get("/api/cases/{case_id}/courts", response_model=list[CourtOut])
async def competent_courts(
    case: ViewableCase, session: SessionDep, request: Request
) -> list[CourtOut]:
    """The courts the parties may apply to (CPL 205), and why each is competent."""
    language = request.state.language
    return [
        CourtOut(
            id=c.court.id or 0,
            name=c.court.name,
            region_code=c.court.region_code,
            basis=c.basis,
            basis_label=gettext(language, competence.BASIS_LABELS[c.basis]),
        )
        for c in await competence.competent_courts(session, case)
    ]


@router.post("/api/cases/{case_id}/confirmation", response_model=ApplicationOut, status_code=201)
async def apply(
    body: ApplicationIn,
    case: ViewableCase,
    principal: CurrentPrincipal,
    session: SessionDep,
    request: Request,
) -> ApplicationOut:
    """Start the joint application (the agreement must be in effect, within 30 days, to a
    competent court); a party starting it has joined it."""
    party = principal.party if isinstance(principal, PartyPrincipal) else None
    user = None if isinstance(principal, PartyPrincipal) else principal.user
    application = await confirmation_service.apply(
        session,
        case=case,
        court_id=body.court_id,
        user=user,
        party=party,
        actor=principal.actor,
        address=client_address(request),
        user_agent=request.headers.get("user-agent", ""),
    )
    return await application_out(session, request, ApplicationAccess(application, case, principal))


@router.post("/api/confirmations/{application_id}/consent", response_model=ApplicationOut)
async def consent(
    access: PartyApplication, session: SessionDep, request: Request, background: BackgroundTasks
) -> ApplicationOut:
    """This party joins the application; with the last consent it enters the court's queue."""
    principal = access.principal
    if not isinstance(principal, PartyPrincipal):  # (PartyApplication lets only parties in)
        raise Forbidden("Only a party of the case may do this.")
    application = await confirmation_service.consent(
        session,
        application_id=access.application.id or 0,
        case=access.case,
        party=principal.party,
        actor=principal.actor,
        address=client_address(request),
        user_agent=request.headers.get("user-agent", ""),
    )
    if application.status == ApplicationStatus.queued:
        await document.attach_record(request, session, application, access.case)
        await notices.after_move(request, background, session, application, access.case)
    return await application_out(
        session, request, ApplicationAccess(application, access.case, principal)
    )


@router.get("/api/courts/{court_id}/queue", response_model=QueuePage)
async def court_queue(
    court_id: PathId,
    staff: CurrentStaff,
    session: SessionDep,
    request: Request,
    status: Annotated[ApplicationStatus | None, Query()] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> Response:
    """The court's open applications, the nearest deadline first (judges and clerks of
    that court)."""
    page = await queue_view(court_id, staff, session, request, status, offset, limit)
    # Serialized here, once: FastAPI would turn the model into a dict, validate that against
    # QueuePage again and then serialize it, about a millisecond for a page of 50.
    return Response(page.model_dump_json(), media_type="application/json")


async def queue_view(
    court_id: int,
    staff: StaffPrincipal,
    session: AsyncSession,
    request: Request,
    status: ApplicationStatus | None,
    offset: int,
    limit: int,
) -> QueuePage:
    """The queue's page as the API and the queue page show it."""
    if staff.user.role not in (Role.judge, Role.clerk):
        raise Forbidden("Only the court's judges and clerks may see its queue.")
    if staff.user.org_id != court_id:
        raise NotFound("No such court.")
    if status == ApplicationStatus.awaiting_consent:
        raise Invalid(
            "An application reaches the court once every party has joined it.", field="status"
        )
    statuses = (status,) if status else queue.OPEN
    rows, total = await queue.page(
        session, court_id=court_id, statuses=statuses, offset=offset, limit=limit
    )
    at, language = now(), request.state.language
    items = []
    for application in rows:
        deadlines = clock.of(application)
        items.append(
            QueueItem(
                id=application.id,
                case_number=application.case_number,
                number=application.number,
                status=ApplicationStatus(application.status),
                status_label=gettext(
                    language,
                    confirmation_service.STATUS_LABELS[ApplicationStatus(application.status)],
                ),
                queued_at=application.queued_at,
                accepted_at=application.accepted_at,
                claimed_by=application.claimed_by,
                deadline=DeadlineOut.of(deadlines[0], at, language) if deadlines else None,
            )
        )
    return QueuePage(items=items, total=total, offset=offset, limit=limit)


@router.post("/api/confirmations/{application_id}/accept", response_model=ApplicationOut)
async def accept(
    body: AcceptIn,
    access: CourtApplication,
    session: SessionDep,
    request: Request,
    background: BackgroundTasks,
) -> ApplicationOut:
    """立案 with a number, or a refusal with its reason (judges and clerks of the court)."""
    staff = access.court_staff
    if staff is None:
        raise Forbidden("Only the court's judges and clerks may do this.")
    application = await confirmation_service.accept(
        session,
        application_id=access.application.id or 0,
        user=staff.user,
        accept=body.accept,
        reason=body.reason,
        actor=staff.actor,
    )
    await notices.after_move(request, background, session, application, access.case)
    return await application_out(
        session, request, ApplicationAccess(application, access.case, staff)
    )


@router.post("/api/confirmations/{application_id}/claim", response_model=ApplicationOut)
async def claim(access: JudgeApplication, session: SessionDep, request: Request) -> ApplicationOut:
    """This judge holds the application; 409 if another judge does."""
    staff = access.court_staff
    if staff is None:
        raise Forbidden("Only a judge of the court may do this.")
    application = await decisions.claim(
        session, application_id=access.application.id or 0, judge=staff.user, actor=staff.actor
    )
    return await application_out(
        session, request, ApplicationAccess(application, access.case, staff)
    )


@router.post("/api/confirmations/{application_id}/decision", response_model=ApplicationOut)
async def decide(
    body: DecisionIn,
    access: JudgeApplication,
    session: SessionDep,
    request: Request,
    background: BackgroundTasks,
) -> ApplicationOut:
    """The claiming judge's decision; a confirmation or a rejection issues the ruling."""
    staff = access.court_staff
    if staff is None:
        raise Forbidden("Only a judge of the court may do this.")
    if body.outcome == Outcome.confirmed:
        # Confirmed only after the joint session: each party checked and the record
        # confirmed as it stands; 409 naming what is missing (confirmation/record.py). The
        # row is locked first, as the record's writes lock it: no change slips in between.
        held = await confirmation_service.locked(session, access.application.id or 0)
        decisions.refuse_unless_holder(held, staff.user)
        await record.refuse_unless_complete(session, application=held, case=access.case)
    application, _ = await decisions.decide(
        session,
        application_id=access.application.id or 0,
        judge=staff.user,
        outcome=body.outcome,
        grounds=list(dict.fromkeys(body.grounds)),
        reason=body.reason,
        notes=body.notes,
        supplement_due=body.supplement_due,
        actor=staff.actor,
        issue_ruling=document.ruling_issuer(request, session, access.case),
    )
    await notices.after_move(request, background, session, application, access.case)
    return await application_out(
        session, request, ApplicationAccess(application, access.case, staff)
    )


@router.post("/api/confirmations/{application_id}/withdraw", response_model=ApplicationOut)
async def withdraw(
    body: NoteIn,
    access: PartyApplication,
    session: SessionDep,
    request: Request,
    background: BackgroundTasks,
) -> ApplicationOut:
    """A party withdraws the application before the ruling."""
    principal = access.principal
    if not isinstance(principal, PartyPrincipal):
        raise Forbidden("Only a party of the case may do this.")
    application = await decisions.withdraw(
        session,
        application_id=access.application.id or 0,
        party=principal.party,
        reason=body.reason,
        actor=principal.actor,
    )
    await notices.after_move(
        request, background, session, application, access.case, withdrawn_by=principal.party
    )
    return await application_out(
        session, request, ApplicationAccess(application, access.case, principal)
    )


@router.post("/api/confirmations/{application_id}/supplement", response_model=ApplicationOut)
async def supplement(
    body: SupplementIn, access: PartyApplication, session: SessionDep, request: Request
) -> ApplicationOut:
    """A party hands in what the judge asked for, before the deadline."""
    principal = access.principal
    if not isinstance(principal, PartyPrincipal):
        raise Forbidden("Only a party of the case may do this.")
    application = await decisions.supplemented(
        session,
        application_id=access.application.id or 0,
        party=principal.party,
        note=body.note,
        actor=principal.actor,
    )
    return await application_out(
        session, request, ApplicationAccess(application, access.case, principal)
    )


@router.get("/api/confirmations/{application_id}", response_model=ApplicationOut)
async def get_application(
    access: ViewableApplication, session: SessionDep, request: Request, background: BackgroundTasks
) -> ApplicationOut:
    """The application, its deadlines and its history."""
    await notices.expire_supplement(request, background, session, access.application, access.case)
    return await application_out(session, request, access)


@router.get(
    "/api/confirmations/{application_id}/documents/{sha256}",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
async def application_document(
    access: ViewableApplication,
    sha256: Annotated[str, FastApiPath(pattern=r"^[0-9a-f]{64}$")],
    session: SessionDep,
    request: Request,
) -> Response:
    """One of the application's materials (the sealed agreement, the mediation record, the
    ruling) for whoever may see the application, the court's clerks and judges included,
    from the moment it reaches their queue. A party opening the ruling receives it: the
    first time is recorded as the service's receipt (the objection's 15 days run from it)."""
    agreement = await agreements_service.live_agreement(session, access.case.id or 0)
    application = access.application
    own = {
        application.record_sha256,
        application.ruling_sha256,
        agreement.document_sha256 if agreement else None,
    } - {None}
    if sha256 not in own:
        raise NotFound("This application has no such document.")
    if sha256 == application.ruling_sha256 and isinstance(access.principal, PartyPrincipal):
        principal = access.principal
        await document.received(
            session, application=application, party=principal.party, actor=principal.actor
        )
    data: bytes = await request.app.state.store.get_bytes_async(sha256)
    return Response(
        data,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{sha256[:16]}.pdf"'},
    )
