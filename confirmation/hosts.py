"""Who may host and who may read: the confirmation domain's rules, passed to rooms/ and
service/ at the composition root (service/app.py) so that neither imports this package.

- A room of kind ``confirmation`` is hosted by the judge who claimed the case's
  application (rooms/hosts.py HostRule), also after the decision (to close it); another
  judge is told there is no such room. The room page names the court above the case.
- A judge of a court that accepted an application of the case reads the case's record:
  audit events, rooms, recordings (service/domain.py CaseReader). Before acceptance, and for
  any other court, never. The court keeps its file once it has accepted it, whatever
  became of the application after (decided, withdrawn).
"""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from confirmation.models import Application
from rooms.hosts import HostRule
from rooms.models import Room
from service.models import Case, Organisation, Role, User


async def _claiming_judge(session: AsyncSession, user: User, room: Room, case: Case) -> bool:
    # The case's live application only (not one withdrawn or refused, which another court's
    # judge may have held): its holder hosts, also after the decision, to close the room.
    found = (
        await session.exec(
            select(Application.id)
            .where(Application.case_id == case.id)
            .where(col(Application.status).not_in(["not_accepted", "withdrawn"]))
            .where(Application.court_id == user.org_id)
            .where(Application.claimed_by == user.id)
        )
    ).first()
    return found is not None


async def _court_name(session: AsyncSession, room: Room, case: Case) -> str | None:
    """The court holding the case's application, named at the head of the room page."""
    found = (
        await session.exec(
            select(Organisation.name)
            .join(Application, col(Application.court_id) == col(Organisation.id))
            .where(Application.case_id == case.id)
            .where(col(Application.claimed_by).is_not(None))
            .order_by(col(Application.id).desc())
        )
    ).first()
    return found


CONFIRMATION_HOST = HostRule(frozenset({Role.judge}), _claiming_judge, _court_name)


async def court_reader(session: AsyncSession, user: User, case: Case) -> bool:
    if user.role != Role.judge:
        return False
    found = (
        await session.exec(
            select(Application.id)
            .where(Application.case_id == case.id)
            .where(Application.court_id == user.org_id)
            .where(col(Application.accepted_at).is_not(None))
        )
    ).first()
    return found is not None
