"""Who may see or act on an application: its case's parties and committee's mediators, and
the judges and clerks of the court it was made to. Everyone else is told there is none."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from sqlmodel.ext.asyncio.session import AsyncSession

from confirmation.models import Application, ApplicationStatus
from service.auth import CurrentPrincipal, PartyPrincipal, PathId, Principal, StaffPrincipal
from service.db import SessionDep
from service.errors import Forbidden, NotFound
from service.models import Case, Role


@dataclass
class ApplicationAccess:
    application: Application
    case: Case
    principal: Principal

    @property
    def court_staff(self) -> StaffPrincipal | None:
        p = self.principal
        if isinstance(p, StaffPrincipal) and p.user.role in (Role.judge, Role.clerk):
            return p
        return None


async def application_access(
    session: AsyncSession, principal: Principal, application_id: int
) -> ApplicationAccess:
    application = await session.get(Application, application_id)
    if application is None:
        raise NotFound("No such application.")
    if isinstance(principal, PartyPrincipal):
        if principal.case.id != application.case_id:
            raise NotFound("No such application.")
        return ApplicationAccess(application, principal.case, principal)
    user = principal.user
    case = await session.get(Case, application.case_id)
    if case is None:
        raise NotFound("No such application.")
    if user.role == Role.mediator:
        if case.org_id != user.org_id:
            raise NotFound("No such application.")
    elif user.role in (Role.judge, Role.clerk):
        # The court sees an application once it is filed: every party has joined it.
        if (
            application.court_id != user.org_id
            or application.status == ApplicationStatus.awaiting_consent
        ):
            raise NotFound("No such application.")
    else:
        raise Forbidden("Your role may not do this.")
    return ApplicationAccess(application, case, principal)


async def _viewable(
    application_id: PathId, principal: CurrentPrincipal, session: SessionDep
) -> ApplicationAccess:
    return await application_access(session, principal, application_id)


async def _party(
    application_id: PathId, principal: CurrentPrincipal, session: SessionDep
) -> ApplicationAccess:
    if not isinstance(principal, PartyPrincipal):
        raise Forbidden("Only a party of the case may do this.")
    return await application_access(session, principal, application_id)


async def _court(
    application_id: PathId, principal: CurrentPrincipal, session: SessionDep
) -> ApplicationAccess:
    if not (
        isinstance(principal, StaffPrincipal) and principal.user.role in (Role.judge, Role.clerk)
    ):
        raise Forbidden("Only the court's judges and clerks may do this.")
    return await application_access(session, principal, application_id)


async def _judge(
    application_id: PathId, principal: CurrentPrincipal, session: SessionDep
) -> ApplicationAccess:
    if not (isinstance(principal, StaffPrincipal) and principal.user.role == Role.judge):
        raise Forbidden("Only a judge of the court may do this.")
    return await application_access(session, principal, application_id)


ViewableApplication = Annotated[ApplicationAccess, Depends(_viewable)]
PartyApplication = Annotated[ApplicationAccess, Depends(_party)]
CourtApplication = Annotated[ApplicationAccess, Depends(_court)]
JudgeApplication = Annotated[ApplicationAccess, Depends(_judge)]
