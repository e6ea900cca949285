"""The confirmation pages: the court's queue, the application with all its materials (and, for
the judge holding it, the session and the decision form), and the domain's hooks into
service/'s pages: its part of the case pages, and where a party's join link leads while the
application waits for their consent.

Pages only read. Every change (apply, consent, withdraw, accept, claim, decide, the session's
record) goes through the JSON API from the pages' modules, static/js/confirmation/*.js.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from agreements import service as agreements_service
from agreements.models import AgreementStatus
from confirmation import clock, competence, document, notices, queue
from confirmation import service as confirmation_service
from confirmation.access import ApplicationAccess, application_access
from confirmation.models import (
    Application,
    ApplicationStatus,
    Ground,
    Outcome,
    SessionRecord,
)
from confirmation.router import queue_view
from confirmation.schemas import DeadlineOut
from confirmation.strings import GROUND_LABELS, OUTCOME_LABELS, WHO_LABELS
from confirmation.views import application_out
from service import pages
from service.auth import CurrentStaff, OptionalPrincipal, PartyPrincipal, PathId
from service.clock import now
from service.db import SessionDep
from service.domain import Audience, CaseViewer
from service.errors import Forbidden, NoPartySession, NotFound
from service.models import Case, Party, Role, User

pages_router = APIRouter(include_in_schema=False)

QUEUE = "confirmation/queue.html"
VIEW = "confirmation/application.html"
PER_PAGE = 50
# Before the ruling, a party may still withdraw (Interp. 358).
WITHDRAWABLE = (
    ApplicationStatus.awaiting_consent,
    ApplicationStatus.queued,
    ApplicationStatus.accepted,
    ApplicationStatus.claimed,
    ApplicationStatus.supplement_requested,
)
DECIDED = (ApplicationStatus.confirmed, ApplicationStatus.rejected)


def view_url(application: Application) -> str:
    return f"/confirmations/{application.id}"


def _labels() -> dict[str, Any]:
    return {
        "ground_labels": GROUND_LABELS,
        "outcome_labels": OUTCOME_LABELS,
        "who_labels": WHO_LABELS,
        "status_choices": [*queue.OPEN, *[s for s in ApplicationStatus if s not in queue.OPEN]],
        "application_labels": confirmation_service.STATUS_LABELS,
    }


async def _names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    users = (await session.exec(select(User).where(col(User.id).in_(ids)))).all()
    return {u.id or 0: u.name for u in users}


@pages_router.get("/courts/{court_id}/queue", response_class=HTMLResponse)
async def queue_page(
    request: Request,
    court_id: PathId,
    staff: CurrentStaff,
    session: SessionDep,
    status: Annotated[ApplicationStatus | None, Query()] = None,
    page: Annotated[int, Query(ge=1, le=20_000)] = 1,
) -> Response:
    """The court's applications, the nearest deadline first, with a countdown to each; its
    judges and clerks accept or refuse them, and its judges claim them."""
    # The API's own rules: only the court's judges and clerks, and another court is none.
    out = await queue_view(
        court_id, staff, session, request, status, (page - 1) * PER_PAGE, PER_PAGE
    )
    names = await _names(session, {i.claimed_by for i in out.items if i.claimed_by})
    return pages.render(
        request,
        QUEUE,
        court_id=court_id,
        items=out.items,
        total=out.total,
        page=page,
        pages=max(1, -(-out.total // PER_PAGE)),
        status=status,
        names=names,
        me_id=staff.user.id,
        is_judge=staff.user.role == "judge",
        **_labels(),
    )


@pages_router.get("/queue", response_class=HTMLResponse)
async def my_queue(staff: CurrentStaff) -> Response:
    """A judge's or clerk's own court's queue (the staff home links here)."""
    if staff.user.role not in (Role.judge, Role.clerk):
        raise Forbidden("Only the court's judges and clerks may see its queue.")
    return RedirectResponse(f"/courts/{staff.user.org_id}/queue", status_code=303)


async def _reader(
    application_id: PathId, principal: OptionalPrincipal, session: SessionDep
) -> ApplicationAccess:
    # A party whose session has gone is told how to get back in (not sent to the staff sign-in).
    if principal is None:
        raise NoPartySession("Open the join link your mediator sent you.")
    return await application_access(session, principal, application_id)


async def _session_record(session: AsyncSession, application: Application) -> SessionRecord | None:
    return (
        await session.exec(
            select(SessionRecord)
            .where(SessionRecord.application_id == application.id)
            .order_by(col(SessionRecord.id).desc())
        )
    ).first()


@pages_router.get("/confirmations/{application_id}", response_class=HTMLResponse)
async def application_page(
    request: Request,
    access: Annotated[ApplicationAccess, Depends(_reader)],
    session: SessionDep,
    background: BackgroundTasks,
) -> Response:
    """The application with all its materials, for the court and the case's people: the
    sealed agreement, the mediation record, the parties, admissibility warnings, deadlines and
    history; the judge holding it opens the session and decides here; then the ruling."""
    application, case = access.application, access.case
    await notices.expire_supplement(request, background, session, application, case)
    out = await application_out(session, request, access)
    parties = await confirmation_service.parties_of(session, case)
    principal = access.principal
    me = principal.party if isinstance(principal, PartyPrincipal) else None
    staff_user = None if me is not None else getattr(principal, "user", None)
    court = access.court_staff
    holds = court is not None and application.claimed_by == court.user.id
    record = await _session_record(session, application)
    names = await _names(session, {application.claimed_by} if application.claimed_by else set())
    data: dict[str, Any] = {
        "application_id": application.id,
        "court_id": application.court_id,
        "party_id": me.id if me else None,
        "session": record is not None,
        "holds": holds,
        "parties": [{"id": p.id, "name": p.name, "role": p.role} for p in parties],
    }
    return pages.render(
        request,
        VIEW,
        application=out,
        case=case,
        parties=parties,
        party_names={p.id: p.name for p in parties},
        me=me,
        # The court and the mediators see each party's identity and contact details (ID
        # numbers masked); a party sees their own.
        sees_details=staff_user is not None,
        is_court=court is not None,
        is_judge=court is not None and court.user.role == "judge",
        holds=holds,
        judge_name=names.get(application.claimed_by or 0),
        can_consent=me is not None
        and application.status == ApplicationStatus.awaiting_consent
        and me.id in out.awaiting_consent,
        can_withdraw=me is not None and application.status in WITHDRAWABLE,
        decided=application.status in DECIDED,
        record=record,
        grounds=list(Ground),
        outcomes=list(Outcome),
        data=data,
        **_labels(),
    )


@pages_router.get("/cases/{case_id}/confirmation", response_class=HTMLResponse)
async def case_application_page(
    case_id: PathId, principal: OptionalPrincipal, session: SessionDep
) -> Response:
    """The case's live application, for whoever may see it: the address the session panel
    in the room page (which knows only the case) follows to the application's page."""
    if principal is None:
        raise NoPartySession("Open the join link your mediator sent you.")
    application = await confirmation_service.application_for(session, case_id)
    if application is None:
        raise NotFound("No such application.")
    await application_access(session, principal, application.id or 0)
    return RedirectResponse(view_url(application), status_code=303)


# -- the domain's hooks -----------------------------------------------------------------------


def _deadlines(application: Application, language: str) -> list[DeadlineOut]:
    at = now()
    return [DeadlineOut.of(d, at, language) for d in clock.of(application)]


async def case_section(
    request: Request, session: AsyncSession, case: Case, viewer: CaseViewer
) -> Markup | None:
    """Judicial confirmation on the case page: the application's state and deadlines and the
    way to it; before one exists, once the agreement is in effect, the form to apply (to a
    competent court, within the 30 days); for a party, joining it and withdrawing."""
    application = await confirmation_service.application_for(session, case.id or 0)
    context: dict[str, Any] = {"case": case, "application": application}
    if application is None:
        if viewer.audience == Audience.judge:
            return None
        agreement = await agreements_service.live_agreement(session, case.id or 0)
        if agreement is None or agreement.status != AgreementStatus.effective:
            return None
        if agreement.effective_at is None:
            return None
        window = DeadlineOut.of(
            clock.application_window(agreement.effective_at), now(), request.state.language
        )
        courts = await competence.competent_courts(session, case)
        context |= {
            "window": window,
            "late": window.overdue,
            "courts": courts,
            "basis_labels": competence.BASIS_LABELS,
        }
    else:
        consents = await confirmation_service.consents_of(session, application)
        given = {c.party_id for c in consents}
        parties = await confirmation_service.parties_of(session, case)
        party = viewer.party
        receipt = next(
            (
                r
                for r in await document.receipts_of(session, application)
                if party is not None and r.party_id == party.id
            ),
            None,
        )
        context |= {
            "view_url": view_url(application),
            "status_label": confirmation_service.STATUS_LABELS[
                ApplicationStatus(application.status)
            ],
            "deadlines": _deadlines(application, request.state.language),
            "awaiting": [p for p in parties if p.id not in given],
            "awaits_me": party is not None
            and application.status == ApplicationStatus.awaiting_consent
            and party.id not in given,
            "can_withdraw": party is not None and application.status in WITHDRAWABLE,
            "decided": application.status in DECIDED,
            "receipt": receipt,
            # The party's 15 days to object run from their receipt of the ruling.
            "objection": DeadlineOut.of(objection, now(), request.state.language)
            if receipt and (objection := clock.objection_of(receipt.opened_at))
            else None,
        }
    context |= {"audience": viewer.audience.value, "who_labels": WHO_LABELS}
    return pages.fragment(request, "confirmation/case_section.html", **context)


async def party_landing(session: AsyncSession, party: Party) -> str | None:
    """A join link opened while the application waits for this party's consent leads to their
    case page, where they join it (rooms' and agreements' landings are asked first)."""
    application = await confirmation_service.application_for(session, party.case_id)
    if application is None or application.status != ApplicationStatus.awaiting_consent:
        return None
    consents = await confirmation_service.consents_of(session, application)
    if any(c.party_id == party.id for c in consents):
        return None
    return "/my-case#confirmation"
