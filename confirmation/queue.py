"""The court's queue: its applications in deadline order, one index scan per page, and the
count of each state kept by the moves rather than counted per page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func
from sqlalchemy import select as core_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from confirmation.models import Application, ApplicationStatus, QueueCount
from service import audit
from service.models import Case

# What a court works on: waiting to be accepted, accepted, with a judge, awaiting a supplement.
OPEN = (
    ApplicationStatus.queued,
    ApplicationStatus.accepted,
    ApplicationStatus.claimed,
    ApplicationStatus.supplement_requested,
)


@dataclass(frozen=True, slots=True)
class QueueRow:
    """What a queue row shows and its deadlines are computed from: these columns only, not
    whole rows, which cost more to load than the page's query (bench/queue.py)."""

    id: int
    number: str | None
    status: str
    effective_at: datetime
    queued_at: datetime | None
    accepted_at: datetime | None
    claimed_by: int | None
    supplement_due: datetime | None
    due_at: datetime | None
    case_number: str

    @classmethod
    def of(cls, application: Application, case_number: str) -> QueueRow:
        return cls(
            id=application.id or 0,
            number=application.number,
            status=application.status,
            effective_at=application.effective_at,
            queued_at=application.queued_at,
            accepted_at=application.accepted_at,
            claimed_by=application.claimed_by,
            supplement_due=application.supplement_due,
            due_at=application.due_at,
            case_number=case_number,
        )


# The queue row's fields but the case's number, in order: the columns the page selects.
_FIELDS = tuple(QueueRow.__dataclass_fields__)[:-1]
_COLUMNS = (*(getattr(Application, name) for name in _FIELDS), col(Case.number))


# Built once: composing a statement costs more than running it (bench/queue.py); the values
# are bound per page. The total rides along with the page: one round trip, not two.
_TOTAL = (
    select(func.coalesce(func.sum(QueueCount.n), 0))
    .where(col(QueueCount.court_id) == bindparam("court_id"))
    .where(col(QueueCount.status).in_(bindparam("statuses", expanding=True)))
)
_PAGE = (
    core_select(*_COLUMNS, _TOTAL.scalar_subquery())
    .join(Case, col(Case.id) == col(Application.case_id))
    .where(col(Application.court_id) == bindparam("court_id"))
    .where(col(Application.status).in_(bindparam("statuses", expanding=True)))
    .order_by(col(Application.due_at).asc().nulls_last(), col(Application.id))
    .offset(bindparam("offset"))
    .limit(bindparam("limit"))
)


async def page(
    session: AsyncSession,
    *,
    court_id: int,
    statuses: tuple[ApplicationStatus, ...] = OPEN,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[QueueRow], int]:
    """Applications of the court in these states, the nearest deadline first (those without
    one last), with their cases' numbers; and how many there are in all."""
    which = {"court_id": court_id, "statuses": [str(s) for s in statuses]}
    # Plain rows through the connection: the ORM's bookkeeping for rows that are not
    # entities cost as much as the query (bench/queue.py).
    connection = await session.connection()
    rows = (await connection.execute(_PAGE, {**which, "offset": offset, "limit": limit})).all()
    if not rows:  # past the last page: the total alone
        return [], int((await connection.execute(_TOTAL, which)).scalar_one())
    return [QueueRow(*row[:-1]) for row in rows], int(rows[0][-1])


async def moved(
    session: AsyncSession,
    *,
    court_id: int,
    before: ApplicationStatus | None,
    after: ApplicationStatus,
) -> None:
    """Keep the court's counts with a move (``before`` None: a new application), in the
    move's transaction. Every move records an audit event, which holds the audit chain's
    lock to the end of the transaction; that lock is taken first here, before the count
    rows, so that a move whose event came before its counts (a consent that queues the
    application, a decision whose ruling was recorded) cannot deadlock on PostgreSQL with
    one whose counts came first."""
    await audit.hold_lock(session)
    deltas = {after: 1} if before is None else {before: -1, after: 1}
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for status, delta in sorted(deltas.items()):
        statement = insert(QueueCount).values(court_id=court_id, status=status, n=delta)
        await session.exec(
            statement.on_conflict_do_update(
                index_elements=["court_id", "status"],
                set_={"n": QueueCount.__table__.c.n + delta},  # type: ignore[attr-defined]
            )
        )


async def counts(session: AsyncSession, court_id: int) -> dict[str, int]:
    """The court's kept counts by state (those never reached are absent)."""
    rows = (
        await session.exec(
            select(QueueCount.status, QueueCount.n).where(col(QueueCount.court_id) == court_id)
        )
    ).all()
    return {status: n for status, n in rows}
