"""The open court-queue API, for a court's own case system (after OASIS ECF's filing
review): it pulls its queue of filings (our joint applications) and their materials, posts
review complete (accepted with its own number, or refused with reasons) and pushes the
decision of the judge who holds a filing. Cancelling is the parties' (withdrawal); the
court sees it as the filing's status.

The caller is a court token (``mediation court token``), scoped to one court: another
court's filings do not exist for it (404); no token, a revoked one, or a person's session
token is 401. Every step is confirmation/service.py's or confirmation/decisions.py's, as on
the court's own pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Path, Query, Request, Response
from sqlmodel.ext.asyncio.session import AsyncSession

from agreements.models import Agreement
from confirmation import clock, decisions, document, notices, queue, record
from confirmation import service as confirmation_service
from confirmation.ecf_schemas import (
    DecisionPush,
    FilingDocument,
    FilingOut,
    FilingPage,
    FilingParty,
    FilingSummary,
    ReviewIn,
)
from confirmation.models import Application, ApplicationStatus, Outcome
from confirmation.schemas import DeadlineOut
from confirmation.tokens import CourtSystem, actor_of
from service.auth import PathId
from service.clock import now
from service.db import SessionDep
from service.errors import Conflict, Invalid, NotFound
from service.models import Case, Organisation, User
from service.personal import mask_id_number

# A court token (``mediation court token``) is its own credential: 401 without one, or for
# a revoked one, on every route here (service/openapi.py sees only the staff and party ones).
router = APIRouter(
    prefix="/api/ecf",
    tags=["court-api"],
    responses={401: {"description": "No court token, or one revoked"}},
)
SHA256 = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")]
# An application reaches the court only once every party has joined it.
FILED = tuple(s for s in ApplicationStatus if s != ApplicationStatus.awaiting_consent)


async def _filing(
    session: AsyncSession, token_court: int, application_id: int
) -> tuple[Application, Case]:
    application = await session.get(Application, application_id)
    if (
        application is None
        or application.court_id != token_court
        or application.status == ApplicationStatus.awaiting_consent
    ):
        raise NotFound("No such filing.")
    case = await session.get(Case, application.case_id)
    if case is None:
        raise NotFound("No such filing.")
    return application, case


def _summary(application: queue.QueueRow) -> FilingSummary:
    return FilingSummary(
        id=application.id,
        case_number=application.case_number,
        number=application.number,
        status=ApplicationStatus(application.status),
        queued_at=application.queued_at,
        accepted_at=application.accepted_at,
        claimed_by=application.claimed_by,
        due_at=application.due_at,
        href=f"/api/ecf/filings/{application.id}",
    )


async def _documents(session: AsyncSession, application: Application) -> list[FilingDocument]:
    agreement = await session.get(Agreement, application.agreement_id)
    found = [
        ("agreement", agreement.document_sha256 if agreement else None),
        ("record", application.record_sha256),
        ("ruling", application.ruling_sha256),
    ]
    return [
        FilingDocument(
            kind=kind, sha256=sha, href=f"/api/ecf/filings/{application.id}/documents/{sha}"
        )
        for kind, sha in found
        if sha
    ]


async def _out(
    session: AsyncSession, request: Request, application: Application, case: Case
) -> FilingOut:
    court = await session.get(Organisation, application.court_id)
    parties = await confirmation_service.parties_of(session, case)
    at, language = now(), request.state.language
    return FilingOut(
        **_summary(queue.QueueRow.of(application, case.number)).model_dump(),
        court_id=application.court_id,
        court_name=court.name if court else "",
        effective_at=application.effective_at,
        decided_at=application.decided_at,
        refusal_reason=application.refusal_reason,
        supplement_due=application.supplement_due,
        parties=[
            FilingParty(
                id=p.id or 0,
                role=p.role,
                kind=p.kind,
                name=p.name,
                id_number=mask_id_number(p.id_number),
                phone=p.phone,
                address=p.address,
            )
            for p in parties
        ],
        documents=await _documents(session, application),
        deadlines=[DeadlineOut.of(d, at, language) for d in clock.of(application)],
    )


@router.get("/courts/{court_id}/filings", response_model=FilingPage)
async def filings(
    court_id: PathId,
    token: CourtSystem,
    session: SessionDep,
    status: Annotated[ApplicationStatus | None, Query()] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> FilingPage:
    """The court's filings, the nearest deadline first: by default those it has to act on
    (queued, accepted, with a judge, awaiting a supplement)."""
    if court_id != token.court_id:
        raise NotFound("No such court.")
    if status == ApplicationStatus.awaiting_consent:
        raise Invalid(
            "Applications awaiting the parties' consent are not filed yet.", field="status"
        )
    rows, total = await queue.page(
        session,
        court_id=court_id,
        statuses=(status,) if status else queue.OPEN,
        offset=offset,
        limit=limit,
    )
    return FilingPage(
        items=[_summary(row) for row in rows], total=total, offset=offset, limit=limit
    )


@router.get("/filings/{application_id}", response_model=FilingOut)
async def filing(
    application_id: PathId,
    token: CourtSystem,
    session: SessionDep,
    request: Request,
    background: BackgroundTasks,
) -> FilingOut:
    """One filing: its status, deadlines, parties (ID numbers masked) and materials."""
    application, case = await _filing(session, token.court_id, application_id)
    await notices.expire_supplement(request, background, session, application, case)
    return await _out(session, request, application, case)


@router.get(
    "/filings/{application_id}/documents/{sha256}",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "the sealed PDF"}},
)
async def filing_document(
    application_id: PathId,
    sha256: SHA256,
    token: CourtSystem,
    session: SessionDep,
    request: Request,
) -> Response:
    """One of the filing's materials: the sealed agreement, the mediation record, the ruling."""
    application, _ = await _filing(session, token.court_id, application_id)
    kinds = {d.sha256: d.kind for d in await _documents(session, application)}
    if sha256 not in kinds:
        raise NotFound("No such document.")
    data: bytes = await request.app.state.store.get_bytes_async(sha256)
    return Response(
        data,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{kinds[sha256]}-{application_id}.pdf"',
            "Cache-Control": "private, no-store",
        },
    )


@router.post("/filings/{application_id}/review", response_model=FilingOut)
async def review(
    body: ReviewIn,
    application_id: PathId,
    token: CourtSystem,
    session: SessionDep,
    request: Request,
    background: BackgroundTasks,
) -> FilingOut:
    """Review complete: 立案 under the court's own number (or one from our counter), or a
    refusal with the reasons."""
    application, case = await _filing(session, token.court_id, application_id)
    if not body.accepted and body.number is not None:
        raise Invalid("A refused filing gets no number.", field="number")
    application = await confirmation_service.accept(
        session,
        application_id=application.id or 0,
        user=None,
        court_id=token.court_id,
        accept=body.accepted,
        reason=body.reasons,
        number=body.number,
        actor=actor_of(token),
    )
    await notices.after_move(request, background, session, application, case)
    return await _out(session, request, application, case)


@router.post("/filings/{application_id}/decision", response_model=FilingOut)
async def decision(
    body: DecisionPush,
    application_id: PathId,
    token: CourtSystem,
    session: SessionDep,
    request: Request,
    background: BackgroundTasks,
) -> FilingOut:
    """The decision of the judge who holds the filing, as the court's system recorded it;
    a confirmation or rejection issues the court-sealed ruling and serves it."""
    application, case = await _filing(session, token.court_id, application_id)
    judge = await session.get(User, application.claimed_by) if application.claimed_by else None
    if judge is None:
        raise Conflict("No judge holds this filing: a judge claims it before deciding.")
    if body.outcome == Outcome.confirmed:
        # As on the judge's own page: confirmed only after the joint session (Interp. 358),
        # each party checked and the record confirmed as it stands.
        held = await confirmation_service.locked(session, application.id or 0)
        await record.refuse_unless_complete(session, application=held, case=case)
    application, _ = await decisions.decide(
        session,
        application_id=application.id or 0,
        judge=judge,
        outcome=body.outcome,
        grounds=list(dict.fromkeys(body.grounds)),
        reason=body.reason,
        notes="",
        supplement_due=body.supplement_due,
        actor=actor_of(token),
        issue_ruling=document.ruling_issuer(request, session, case),
    )
    await notices.after_move(request, background, session, application, case)
    return await _out(session, request, application, case)
