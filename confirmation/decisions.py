"""The judge's part and what follows it: the claim, the decision (a ruling, or a supplement
by a date), the supplement handed in or its deadline missed, and withdrawal.

Every move goes through confirmation/service.py's ``transition``, the one place an
application changes state. Services lock what they change and only add and flush; the
caller's unit of work commits.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from confirmation import queue
from confirmation.models import Application, ApplicationStatus, Decision, Ground, Outcome
from confirmation.service import (
    ENDED,
    STATUS_LABELS,
    S,
    locked,
    refuse_unless_of_court,
    transition,
)
from service import audit, cases
from service.clock import now
from service.errors import Conflict, Forbidden, Invalid, InvalidTransition, NotFound
from service.models import Party, User

# A withdrawal's recorded reason when the supplement's deadline passed (Interp. 359).
DEADLINE_MISSED = "supplement_deadline_missed"

# Issues a document (the ruling) for an application and returns its SHA-256.
IssueRuling = Callable[[Application, Decision], Awaitable[str]]


async def claim(
    session: AsyncSession, *, application_id: int, judge: User, actor: audit.Actor
) -> Application:
    """Exactly one judge holds an application: one conditional update decides, on SQLite
    and PostgreSQL alike, however many judges claim it at once."""
    application = await session.get(Application, application_id)
    if application is None:
        raise NotFound("No such application.")
    refuse_unless_of_court(judge, application)
    at = now()
    result = await session.exec(
        update(Application)
        .where(col(Application.id) == application_id)
        .where(col(Application.status) == S.accepted)
        .where(col(Application.claimed_by).is_(None))
        .values(status=S.claimed, claimed_by=judge.id, claimed_at=at, updated_at=at)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        await session.refresh(application)
        if application.claimed_by is not None and application.claimed_by != judge.id:
            raise Conflict("Another judge has claimed this application.")
        raise InvalidTransition(
            "The application is {state_label}: it cannot be claimed.",
            state_label=STATUS_LABELS[ApplicationStatus(application.status)],
        )
    await session.refresh(application)
    await queue.moved(session, court_id=application.court_id, before=S.accepted, after=S.claimed)
    await audit.record(
        session,
        actor=actor,
        action="confirmation.claimed",
        case_id=application.case_id,
        data={
            "application": application.id,
            "judge": judge.id,
        },
    )
    return application


def refuse_unless_holder(application: Application, judge: User) -> None:
    if application.claimed_by != judge.id:
        raise Forbidden("Only the judge who claimed this application may do this.")


async def decide(
    session: AsyncSession,
    *,
    application_id: int,
    judge: User,
    outcome: Outcome,
    grounds: list[Ground],
    reason: str,
    notes: str,
    supplement_due: datetime | None,
    actor: audit.Actor,
    issue_ruling: IssueRuling,
) -> tuple[Application, Decision]:
    """The claiming judge decides: confirmed, rejected (on one or more statutory grounds,
    with a reason), or a supplement by a date. A ruling is issued for the first two."""
    application = await locked(session, application_id)
    refuse_unless_of_court(judge, application)
    refuse_unless_holder(application, judge)
    if application.status != S.claimed:
        raise InvalidTransition(
            "The application is {state_label}: it cannot be decided now.",
            state_label=STATUS_LABELS[ApplicationStatus(application.status)],
        )
    at = now()
    if outcome == Outcome.rejected:
        if not grounds:
            raise Invalid("A rejection names at least one statutory ground.", field="grounds")
        if not reason.strip():
            raise Invalid("Give the reason for the rejection.", field="reason")
    if outcome != Outcome.rejected and grounds:
        raise Invalid("Grounds are given only for a rejection.", field="grounds")
    if outcome == Outcome.supplement_requested:
        if supplement_due is None or supplement_due <= at:
            raise Invalid("Set a date in the future for the supplement.", field="supplement_due")
        if not reason.strip():
            raise Invalid("Say what the parties must supplement.", field="reason")
    elif supplement_due is not None:
        raise Invalid("A date is set only for a supplement.", field="supplement_due")
    decision = Decision(
        application_id=application.id or 0,
        judge_id=judge.id or 0,
        outcome=outcome,
        grounds=json.dumps([g.value for g in grounds]),
        reason=reason.strip(),
        notes=notes,
        supplement_due=supplement_due,
        at=at,
    )
    session.add(decision)
    await session.flush()
    if outcome == Outcome.supplement_requested:
        application.supplement_due = supplement_due
        await transition(
            session,
            application=application,
            to=S.supplement_requested,
            actor=actor,
            data={
                "decision": decision.id,
                "due": supplement_due.isoformat() if supplement_due else None,
            },
        )
        return application, decision
    sha256 = await issue_ruling(application, decision)
    decision.ruling_sha256 = sha256
    application.ruling_sha256 = sha256
    session.add(decision)
    await transition(
        session,
        application=application,
        to=S(outcome.value),
        actor=actor,
        data={"decision": decision.id, "grounds": [g.value for g in grounds], "ruling": sha256},
    )
    return application, decision


async def supplemented(
    session: AsyncSession, *, application_id: int, party: Party, note: str, actor: audit.Actor
) -> Application:
    """A party hands in the supplement in time: back to the judge who holds it."""
    application = await locked(session, application_id)
    if application.case_id != party.case_id:
        raise NotFound("No such application.")
    due = application.supplement_due
    if application.status == S.supplement_requested and due is not None and now() > due:
        # (the withdrawal itself is recorded by the next look at the application)
        raise InvalidTransition(
            "The deadline for the supplement passed on {due}: the application counts as withdrawn.",
            due=due.astimezone(cases.CHINA).strftime("%Y-%m-%d %H:%M"),
        )
    if application.status != S.supplement_requested:
        raise InvalidTransition(
            "The application is {state_label}: no supplement is awaited.",
            state_label=STATUS_LABELS[ApplicationStatus(application.status)],
        )
    application.supplement_due = None
    return await transition(
        session, application=application, to=S.claimed, actor=actor, data={"note": note}
    )


async def expire_supplement(session: AsyncSession, application: Application) -> bool:
    """A supplement's deadline missed counts as withdrawal (Interp. 359): recorded the first
    time anyone looks after it passed, under the row's lock (two readers at once record it
    once)."""
    due = application.supplement_due
    if application.status != S.supplement_requested or due is None or now() <= due:
        return False
    application = await locked(session, application.id or 0)  # (refreshes the same row)
    due = application.supplement_due
    if application.status != S.supplement_requested or due is None or now() <= due:
        return False
    await transition(
        session,
        application=application,
        to=S.withdrawn,
        actor=audit.SYSTEM,
        data={"reason": DEADLINE_MISSED, "due": due.isoformat()},
    )
    application.withdraw_reason = DEADLINE_MISSED
    return True


async def withdraw(
    session: AsyncSession, *, application_id: int, party: Party, reason: str, actor: audit.Actor
) -> Application:
    """The parties may withdraw while it is not decided (CPL; Interp. 359)."""
    application = await locked(session, application_id)
    if application.case_id != party.case_id:
        raise NotFound("No such application.")
    if ApplicationStatus(application.status) in ENDED:
        raise InvalidTransition(
            "The application is {state_label}: it can no longer be withdrawn.",
            state_label=STATUS_LABELS[ApplicationStatus(application.status)],
        )
    application.withdraw_reason = reason.strip() or None
    return await transition(
        session, application=application, to=S.withdrawn, actor=actor, data={"reason": reason}
    )


async def decisions_of(session: AsyncSession, application: Application) -> list[Decision]:
    return list(
        (
            await session.exec(
                select(Decision)
                .where(Decision.application_id == application.id)
                .order_by(col(Decision.id))
            )
        ).all()
    )
