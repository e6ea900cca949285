"""The court's queue: its applications in deadline order, one index scan per page."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from confirmation.models import Application, ApplicationStatus
from service.models import Case

# What a court works on: waiting to be accepted, accepted, with a judge, awaiting a supplement.
OPEN = (
    ApplicationStatus.queued,
    ApplicationStatus.accepted,
    ApplicationStatus.claimed,
    ApplicationStatus.supplement_requested,
)


async def page(
    session: AsyncSession,
    *,
    court_id: int,
    statuses: tuple[ApplicationStatus, ...] = OPEN,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[tuple[Application, str]], int]:
    """Applications of the court in these states, the nearest deadline first (those without
    one last), with their cases' numbers; and how many there are in all."""
    where = (col(Application.court_id) == court_id) & col(Application.status).in_(statuses)
    rows = (
        await session.exec(
            select(Application, Case.number)
            .join(Case, col(Case.id) == col(Application.case_id))
            .where(where)
            .order_by(col(Application.due_at).asc().nulls_last(), col(Application.id))
            .offset(offset)
            .limit(limit)
        )
    ).all()
    total = (await session.exec(select(func.count()).select_from(Application).where(where))).one()
    return [(application, number) for application, number in rows], int(total)
