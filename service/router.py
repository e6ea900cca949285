"""The shared JSON API: sign-in, the current principal, organisations, staff, cases, links."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from service import accounts, cases, invitations
from service.auth import (
    SESSION_COOKIE,
    AuditableCase,
    CurrentAdmin,
    CurrentMediator,
    CurrentPrincipal,
    MediatorCase,
    PartyPrincipal,
    PathId,
    Principal,
    StaffPrincipal,
    ViewableCase,
    settings_of,
    viewer_of,
)
from service.cases import NewParty
from service.db import SessionDep
from service.errors import Forbidden
from service.i18n import gettext
from service.models import Case, CaseStatus, Invitation, Party, Role, User
from service.queries import CaseQuery
from service.schemas import (
    AuditEventOut,
    CaseIn,
    CaseOut,
    CasePage,
    CasePatch,
    Health,
    InvitationCreated,
    InvitationIn,
    InvitationOut,
    LoginIn,
    LoginOut,
    MeOut,
    OrganisationIn,
    OrganisationOut,
    PartyLoginOut,
    PartyOut,
    PartyTokenIn,
    StatusChangeIn,
    UserIn,
    UserOut,
)
from service.security import csrf_token, token_hash

log = logging.getLogger("mediation.api")
router = APIRouter(prefix="/api")
health_router = APIRouter()


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def set_session_cookie(request: Request, response: Response, token: str, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=settings_of(request).secure_cookies,
        path="/",
    )


def case_out(case: Case, parties: list[Party], *, viewer_party_id: int | None = None) -> CaseOut:
    """The case as the caller sees it: a party sees the others through ``PartyOut.seen_by``."""
    out = [PartyOut.seen_by(p, viewer_party_id=viewer_party_id) for p in parties]
    return CaseOut.model_validate({**case.model_dump(), "parties": out})


def viewer_party(principal: Principal) -> int | None:
    return principal.party.id if isinstance(principal, PartyPrincipal) else None


def user_out(user: User) -> UserOut:
    return UserOut.model_validate(user.model_dump())


def invitation_out(invitation: Invitation) -> InvitationOut:
    return InvitationOut.model_validate(
        {**invitation.model_dump(), "state": invitations.invitation_state(invitation)}
    )


# -- health ------------------------------------------------------------------------------


@health_router.get("/healthz", response_model=Health, tags=["health"])
async def healthz(session: SessionDep) -> Health:
    await session.exec(text("SELECT 1"))  # type: ignore[call-overload]
    return Health(status="ok", database="ok")


# -- sign-in -----------------------------------------------------------------------------


@router.post(
    "/auth/login",
    response_model=LoginOut,
    tags=["auth"],
    responses={401: {"description": "wrong username or password"}, 429: {}},
)
async def login(body: LoginIn, request: Request, session: SessionDep) -> Response:
    settings = settings_of(request)
    result = await accounts.sign_in(
        session,
        username=body.username,
        password=body.password,
        address=client_address(request),
        limits=settings.auth,
    )
    if result is None:
        log.info("sign-in refused", extra={"username": body.username})
        # Returned, not raised: the failed attempt must be committed to be counted.
        return JSONResponse(
            {"detail": gettext(request.state.language, "Wrong username or password.")},
            status_code=401,
        )
    out = LoginOut(
        token=result.token,
        csrf_token=csrf_token(settings.secret(), token_hash(result.token)),
        user=user_out(result.user),
    )
    response = JSONResponse(out.model_dump(mode="json"))
    set_session_cookie(request, response, result.token, settings.auth.staff_session_hours * 3600)
    return response


@router.post("/auth/logout", status_code=204, tags=["auth"])
async def logout(principal: CurrentPrincipal, session: SessionDep) -> Response:
    await accounts.sign_out(session, auth_session=principal.auth_session, actor=principal.actor)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post(
    "/auth/party",
    response_model=PartyLoginOut,
    tags=["auth"],
    responses={401: {"description": "unknown, expired or revoked join token"}},
)
async def party_login(body: PartyTokenIn, request: Request, session: SessionDep) -> Response:
    """For API clients: exchange a join token for a bearer token scoped to that party."""
    result = await invitations.redeem_invitation(
        session, token=body.token, address=client_address(request)
    )
    if isinstance(result, str):
        log.warning("join token refused", extra={"why": result})
        return JSONResponse(
            {"detail": gettext(request.state.language, REFUSALS[result])}, status_code=401
        )
    out = PartyLoginOut(
        token=result.session_token,
        csrf_token=csrf_token(settings_of(request).secret(), token_hash(result.session_token)),
        party=PartyOut.model_validate(result.party.model_dump()),
        case_id=result.case.id or 0,
    )
    return JSONResponse(out.model_dump(mode="json"))


REFUSALS = {
    "unknown": "This join link is not valid. Ask your mediator for a new one.",
    "expired": "This join link has expired. Ask your mediator for a new one.",
    "revoked": "This join link was withdrawn by the mediator. Ask your mediator for a new one.",
}


@router.get("/me", response_model=MeOut, tags=["auth"])
async def me(principal: CurrentPrincipal, request: Request) -> MeOut:
    viewer = viewer_of(request)
    csrf = viewer.csrf if viewer else ""
    if isinstance(principal, StaffPrincipal):
        return MeOut(
            kind="staff",
            user=user_out(principal.user),
            organisation=OrganisationOut.model_validate(principal.org.model_dump()),
            csrf_token=csrf,
        )
    return MeOut(
        kind="party",
        party=PartyOut.model_validate(principal.party.model_dump()),
        case_id=principal.case.id,
        csrf_token=csrf,
    )


# -- organisations and staff (admins) ------------------------------------------------------


@router.get("/organisations", response_model=list[OrganisationOut], tags=["admin"])
async def list_organisations(_: CurrentAdmin, session: SessionDep) -> list[OrganisationOut]:
    rows = await accounts.list_organisations(session)
    return [OrganisationOut.model_validate(o.model_dump()) for o in rows]


@router.post("/organisations", response_model=OrganisationOut, status_code=201, tags=["admin"])
async def create_organisation(
    body: OrganisationIn, admin: CurrentAdmin, session: SessionDep
) -> OrganisationOut:
    org = await accounts.create_organisation(session, actor=admin.actor, **body.model_dump())
    return OrganisationOut.model_validate(org.model_dump())


@router.get("/users", response_model=list[UserOut], tags=["admin"])
async def list_users(_: CurrentAdmin, session: SessionDep) -> list[UserOut]:
    return [user_out(u) for u in await accounts.list_users(session)]


@router.post("/users", response_model=UserOut, status_code=201, tags=["admin"])
async def create_user(body: UserIn, admin: CurrentAdmin, session: SessionDep) -> UserOut:
    user = await accounts.create_user(session, actor=admin.actor, **body.model_dump())
    return user_out(user)


# -- cases -------------------------------------------------------------------------------


@router.post("/cases", response_model=CaseOut, status_code=201, tags=["cases"])
async def create_case(body: CaseIn, mediator: CurrentMediator, session: SessionDep) -> CaseOut:
    parties = [
        NewParty(
            role=p.role,
            kind=p.kind,
            name=p.name,
            id_number=p.id_number,
            phone=p.phone,
            address=p.address,
            representative=p.representative,
            agent_name=p.agent.name if p.agent else None,
            agent_id_number=p.agent.id_number if p.agent else None,
            agent_phone=p.agent.phone if p.agent else None,
        )
        for p in body.parties
    ]
    case, rows = await cases.create_case(
        session,
        mediator=mediator.user,
        dispute_type=body.dispute_type,
        title=body.title,
        summary=body.summary,
        parties=parties,
        referred_by_court_id=body.referred_by_court_id,
        subject_region=body.subject_region,
    )
    return case_out(case, rows)


@router.get("/cases", response_model=CasePage, tags=["cases"])
async def list_cases(
    principal: CurrentPrincipal, session: SessionDep, filters: CaseQuery
) -> CasePage:
    if isinstance(principal, PartyPrincipal):
        scope = {"case_id": principal.case.id}
    elif principal.user.role == Role.mediator:
        scope = {"org_id": principal.user.org_id}
    else:
        raise Forbidden("Your role may not do this.")
    rows, total = await cases.list_cases(
        session,
        **scope,
        status=filters.status,
        dispute_type=filters.dispute_type,
        query=filters.q,
        page=filters.page,
        per_page=filters.per_page,
    )
    grouped = await cases.parties_of(session, [c.id for c in rows if c.id is not None])
    return CasePage(
        items=[
            case_out(c, grouped[c.id or 0], viewer_party_id=viewer_party(principal)) for c in rows
        ],
        total=total,
        page=filters.page,
        per_page=filters.per_page,
    )


@router.get("/cases/{case_id}", response_model=CaseOut, tags=["cases"])
async def get_case(case: ViewableCase, principal: CurrentPrincipal, session: SessionDep) -> CaseOut:
    grouped = await cases.parties_of(session, [case.id or 0])
    return case_out(case, grouped[case.id or 0], viewer_party_id=viewer_party(principal))


@router.patch("/cases/{case_id}", response_model=CaseOut, tags=["cases"])
async def update_case(
    body: CasePatch,
    case: MediatorCase,
    mediator: CurrentMediator,
    session: SessionDep,
    request: Request,
) -> CaseOut:
    """The court that referred the case and where its subject matter is (the courts that
    may confirm its agreement), while the case is open and no application to a court is
    under way on them; only the fields sent change."""
    await cases.update_case(
        session,
        case=case,
        actor=mediator.actor,
        changes=body.model_dump(exclude_unset=True),
        guards=request.app.state.venue_guards,
    )
    grouped = await cases.parties_of(session, [case.id or 0])
    return case_out(case, grouped[case.id or 0])


@router.post("/cases/{case_id}/status", response_model=CaseOut, tags=["cases"])
async def change_status(
    body: StatusChangeIn, case: MediatorCase, mediator: CurrentMediator, session: SessionDep
) -> CaseOut:
    await cases.transition(
        session,
        case=case,
        to=CaseStatus(body.status),
        via=cases.Via.mediator,
        actor=mediator.actor,
        reason=body.reason,
    )
    grouped = await cases.parties_of(session, [case.id or 0])
    return case_out(case, grouped[case.id or 0])


@router.get("/cases/{case_id}/audit", response_model=list[AuditEventOut], tags=["cases"])
async def case_audit(case: AuditableCase, session: SessionDep) -> list[AuditEventOut]:
    events = await cases.case_events(session, case=case)
    return [
        AuditEventOut(
            seq=e.seq,
            at=e.at,
            actor_kind=e.actor_kind,
            actor_label=e.actor_label,
            action=e.action,
            data=json.loads(e.data),
        )
        for e in events
    ]


# -- join links --------------------------------------------------------------------------


@router.post(
    "/cases/{case_id}/invitations",
    response_model=InvitationCreated,
    status_code=201,
    tags=["invitations"],
)
async def create_invitation(
    body: InvitationIn,
    case: MediatorCase,
    mediator: CurrentMediator,
    session: SessionDep,
    request: Request,
) -> InvitationCreated:
    settings = settings_of(request)
    party = await cases.party_of_case(session, case=case, party_id=body.party_id)
    invitation, token = await invitations.create_invitation(
        session,
        case=case,
        party=party,
        mediator=mediator.user,
        valid_for=timedelta(days=body.valid_days or settings.auth.invitation_days),
    )
    return InvitationCreated.model_validate(
        {
            **invitation_out(invitation).model_dump(),
            "url": f"{settings.public_url}/join/{token}",
        }
    )


@router.get(
    "/cases/{case_id}/invitations", response_model=list[InvitationOut], tags=["invitations"]
)
async def list_invitations(case: MediatorCase, session: SessionDep) -> list[InvitationOut]:
    return [invitation_out(i) for i in await invitations.list_invitations(session, case=case)]


@router.post(
    "/cases/{case_id}/invitations/{invitation_id}/revoke",
    response_model=InvitationOut,
    tags=["invitations"],
)
async def revoke_invitation(
    invitation_id: PathId, case: MediatorCase, mediator: CurrentMediator, session: SessionDep
) -> InvitationOut:
    invitation = await invitations.revoke_invitation(
        session, case=case, invitation_id=invitation_id, mediator=mediator.user
    )
    return invitation_out(invitation)
