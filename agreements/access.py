"""Who may read or change an agreement: the typed dependencies every agreement route and
page uses. A party reads their own case's agreement and signs it; the mediators of the
case's committee read and edit it (the case's own mediator signs it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from sqlmodel.ext.asyncio.session import AsyncSession

from agreements.models import Agreement
from service.auth import CurrentPrincipal, PartyPrincipal, PathId, Principal, StaffPrincipal
from service.db import SessionDep
from service.errors import Forbidden, NotFound
from service.models import Case, Role


@dataclass
class AgreementAccess:
    agreement: Agreement
    case: Case
    principal: Principal

    @property
    def party_id(self) -> int | None:
        p = self.principal
        return p.party.id if isinstance(p, PartyPrincipal) else None


async def agreement_access(
    session: AsyncSession, principal: Principal, agreement_id: int
) -> AgreementAccess:
    # The role first, as for cases: a judge or an admin learns nothing of which ids exist.
    if isinstance(principal, StaffPrincipal) and principal.user.role != Role.mediator:
        raise Forbidden("Your role may not do this.")
    agreement = await session.get(Agreement, agreement_id)
    if agreement is None:
        raise NotFound("No such agreement.")
    if isinstance(principal, PartyPrincipal):
        if principal.case.id != agreement.case_id:
            raise NotFound("No such agreement.")
        return AgreementAccess(agreement, principal.case, principal)
    if principal.user.role != Role.mediator:
        raise Forbidden("Your role may not do this.")  # (judges: through the court queue)
    case = await session.get(Case, agreement.case_id)
    if case is None or case.org_id != principal.user.org_id:
        raise NotFound("No such agreement.")
    return AgreementAccess(agreement, case, principal)


async def _viewable(
    agreement_id: PathId, principal: CurrentPrincipal, session: SessionDep
) -> AgreementAccess:
    return await agreement_access(session, principal, agreement_id)


async def _editable(
    agreement_id: PathId, principal: CurrentPrincipal, session: SessionDep
) -> AgreementAccess:
    # Parties are refused by role before the agreement is looked up, as on the case routes.
    if not isinstance(principal, StaffPrincipal):
        raise Forbidden("Only the mediator edits the agreement.")
    return await agreement_access(session, principal, agreement_id)


ViewableAgreement = Annotated[AgreementAccess, Depends(_viewable)]
EditableAgreement = Annotated[AgreementAccess, Depends(_editable)]
