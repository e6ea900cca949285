"""Who is calling, and what they may touch: typed dependencies that validate or raise.

Every route says what it needs in its signature (``CurrentMediator``, ``ViewableCase``, ...),
so the authorisation rules of DESIGN.md live here and nowhere else for this domain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy import bindparam
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import audit
from service.cases import party_actor, staff_actor
from service.clock import now
from service.db import SessionDep
from service.errors import Forbidden, NoPartySession, NotAuthenticated, NotFound
from service.models import AuthSession, Case, Invitation, Organisation, Party, Role, User
from service.schemas import MAX_ID
from service.security import csrf_matches, csrf_token, token_hash
from service.settings import Settings

SESSION_COOKIE = "mediation_session"
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class StaffPrincipal:
    user: User
    org: Organisation
    auth_session: AuthSession

    @property
    def actor(self) -> audit.Actor:
        return staff_actor(self.user)


@dataclass
class PartyPrincipal:
    party: Party
    case: Case
    auth_session: AuthSession

    @property
    def actor(self) -> audit.Actor:
        return party_actor(self.party)


Principal = StaffPrincipal | PartyPrincipal


@dataclass(frozen=True)
class Viewer:
    """Plain values about the caller for page chrome and error pages.

    Taken when the principal is loaded, because an error page is rendered after the
    request's transaction rolled back, when the ORM rows can no longer be read.
    """

    kind: str  # "staff" or "party"
    name: str
    role: str
    org_name: str
    csrf: str

    @property
    def is_mediator(self) -> bool:
        return self.kind == "staff" and self.role == Role.mediator


def presented_token(request: Request) -> tuple[str | None, bool]:
    """The session token and whether it came from the cookie (which needs CSRF checks)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), False
    cookie = request.cookies.get(SESSION_COOKIE)
    return (cookie, True) if cookie else (None, False)


# One round trip for staff, who are authenticated on every request (the court's queue at
# 200/s: bench/queue.py): the session with its user and the user's organisation. Built once.
_SIGNED_IN = (
    select(AuthSession, User, Organisation)
    .outerjoin(User, col(User.id) == col(AuthSession.user_id))
    .outerjoin(Organisation, col(Organisation.id) == col(User.org_id))
    .where(col(AuthSession.token_hash) == bindparam("token_hash"))
)


async def load_principal(session: SessionDep, token: str) -> Principal | None:
    found = (await session.exec(_SIGNED_IN, params={"token_hash": token_hash(token)})).first()
    if found is None:
        return None
    auth, user, org = found
    if auth.revoked_at is not None or auth.expires_at <= now():
        return None
    if auth.user_id is not None:
        if user is None or not user.active:
            return None
        if org is None:  # the foreign key guarantees it; were it broken, fail loudly
            raise RuntimeError(f"user {user.id} has no organisation {user.org_id}")
        return StaffPrincipal(user=user, org=org, auth_session=auth)
    party = await session.get(Party, auth.party_id)
    if party is None:
        return None
    if auth.invitation_id is not None:
        invitation = await session.get(Invitation, auth.invitation_id)
        if invitation is None or invitation.revoked_at is not None:
            return None
    case = await session.get_one(Case, party.case_id)  # the foreign key guarantees it
    return PartyPrincipal(party=party, case=case, auth_session=auth)


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def optional_principal(request: Request, session: SessionDep) -> Principal | None:
    token, from_cookie = presented_token(request)
    if token is None:
        return None
    principal = await load_principal(session, token)
    if principal is None:
        return None
    if from_cookie and request.method not in SAFE_METHODS:
        secret = settings_of(request).secret()
        if not csrf_matches(
            secret, principal.auth_session.token_hash, request.headers.get(CSRF_HEADER)
        ):
            raise Forbidden("The form's security token is missing or stale; reload the page.")
    csrf = csrf_token(settings_of(request).secret(), principal.auth_session.token_hash)
    if isinstance(principal, StaffPrincipal):
        viewer = Viewer("staff", principal.user.name, principal.user.role, principal.org.name, csrf)
    else:
        viewer = Viewer("party", principal.party.name, principal.party.role, "", csrf)
    request.state.viewer = viewer
    return principal


async def require_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    if principal is None:
        raise NotAuthenticated("Sign in first (or open your join link again).")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(require_principal)]
OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]


async def require_staff(principal: CurrentPrincipal) -> StaffPrincipal:
    if not isinstance(principal, StaffPrincipal):
        raise Forbidden("Only staff may do this.")
    return principal


CurrentStaff = Annotated[StaffPrincipal, Depends(require_staff)]


def _role(*roles: Role) -> object:
    async def dependency(staff: CurrentStaff) -> StaffPrincipal:
        if staff.user.role not in roles:
            raise Forbidden("Your role may not do this.")
        return staff

    return Depends(dependency)


async def require_party(principal: OptionalPrincipal) -> PartyPrincipal:
    if principal is None:
        raise NoPartySession("Open the join link your mediator sent you.")
    if not isinstance(principal, PartyPrincipal):
        raise Forbidden("This page is for the parties of a case.")
    return principal


CurrentParty = Annotated[PartyPrincipal, Depends(require_party)]
CurrentMediator = Annotated[StaffPrincipal, _role(Role.mediator)]
CurrentAdmin = Annotated[StaffPrincipal, _role(Role.admin)]


async def _mediator_case(session: SessionDep, mediator: CurrentMediator, case_id: PathId) -> Case:
    case = await session.get(Case, case_id)
    if case is None or case.org_id != mediator.user.org_id:
        raise NotFound("No such case.")
    return case


async def _viewable_case(session: SessionDep, principal: CurrentPrincipal, case_id: PathId) -> Case:
    """A case the caller may read: a mediator's committee's, or a party's own."""
    return await viewable_case(session, principal, case_id)


async def viewable_case(session: AsyncSession, principal: Principal, case_id: int) -> Case:
    """``ViewableCase``'s rule, for a dependency that finds the case through something else
    (a document by its hash): 403 by role first, then 404 for a case not theirs."""
    if isinstance(principal, PartyPrincipal):
        if principal.case.id != case_id:
            raise NotFound("No such case.")
        return principal.case
    if principal.user.role != Role.mediator:
        # Judges see cases through their court's queue (confirmation); admins see no content.
        raise Forbidden("Your role may not do this.")
    case = await session.get(Case, case_id)
    if case is None or case.org_id != principal.user.org_id:
        raise NotFound("No such case.")
    return case


async def reads_case(request: Request, session: AsyncSession, user: User, case: Case) -> bool:
    """Whether a domain lets this staff member read the case's record though it is not
    their committee's (``Domain.case_readers``: a judge of a court that accepted the case's
    application)."""
    for reader in getattr(request.app.state, "case_readers", ()):
        if await reader(session, user, case):
            return True
    return False


async def readable_case(
    request: Request, session: AsyncSession, principal: Principal, case_id: int, *, parties: bool
) -> Case:
    """A case whose record (audit, rooms, recordings) the caller may read: its mediators'
    (and, when ``parties``, its own parties'), or a reader's by a domain's rule. Any other
    staff get the role's 403 whether or not the case exists, so nothing is revealed."""
    if isinstance(principal, PartyPrincipal):
        if not parties:
            raise Forbidden("Your role may not do this.")
        return await viewable_case(session, principal, case_id)
    if principal.user.role == Role.mediator:
        return await viewable_case(session, principal, case_id)
    case = await session.get(Case, case_id)
    if case is None or not await reads_case(request, session, principal.user, case):
        raise Forbidden("Your role may not do this.")
    return case


async def _auditable_case(
    request: Request, session: SessionDep, principal: CurrentPrincipal, case_id: PathId
) -> Case:
    return await readable_case(request, session, principal, case_id, parties=False)


async def _readable_case(
    request: Request, session: SessionDep, principal: CurrentPrincipal, case_id: PathId
) -> Case:
    return await readable_case(request, session, principal, case_id, parties=True)


MediatorCase = Annotated[Case, Depends(_mediator_case)]
ViewableCase = Annotated[Case, Depends(_viewable_case)]
# The case's audit events: its mediators, and readers (service/domain.py CaseReader).
AuditableCase = Annotated[Case, Depends(_auditable_case)]
# The case's rooms: as ViewableCase, and readers.
ReadableCase = Annotated[Case, Depends(_readable_case)]


def viewer_of(request: Request) -> Viewer | None:
    viewer: Viewer | None = getattr(request.state, "viewer", None)
    return viewer
