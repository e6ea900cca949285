"""Judicial confirmation: the application's state machine, the joint application, consents
and acceptance. The claim, the judge's decision, supplements and withdrawal are in
confirmation/decisions.py; which courts are competent, in confirmation/competence.py.

Services take the request's session, lock what they change and only add and flush; the
caller's unit of work commits. ``transition`` is the one place an application changes
state, with an audit event of the case each time (the application's history). What the law
says is too late is refused through the statutory clock (confirmation/clock.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from agreements import service as agreements_service
from confirmation import clock, queue
from confirmation.competence import competent_courts
from confirmation.models import Application, ApplicationConsent, ApplicationStatus
from service import audit, cases
from service.clock import now
from service.errors import Conflict, Invalid, InvalidTransition, NotFound
from service.i18n import N_
from service.models import Case, Organisation, Party, User

S = ApplicationStatus
MOVES: dict[ApplicationStatus, frozenset[ApplicationStatus]] = {
    S.awaiting_consent: frozenset({S.queued, S.withdrawn}),
    S.queued: frozenset({S.accepted, S.not_accepted, S.withdrawn}),
    S.accepted: frozenset({S.claimed, S.withdrawn}),
    S.claimed: frozenset({S.confirmed, S.rejected, S.supplement_requested, S.withdrawn}),
    S.supplement_requested: frozenset({S.claimed, S.withdrawn}),
    S.confirmed: frozenset(),
    S.rejected: frozenset(),
    S.not_accepted: frozenset(),
    S.withdrawn: frozenset(),
}
ENDED = frozenset(s for s, moves in MOVES.items() if not moves)
STATUS_LABELS = {
    S.awaiting_consent: N_("Awaiting the parties' consent"),
    S.queued: N_("In the court's queue"),
    S.accepted: N_("Accepted"),
    S.claimed: N_("With the judge"),
    S.supplement_requested: N_("Supplement requested"),
    S.confirmed: N_("Confirmed"),
    S.rejected: N_("Rejected"),
    S.not_accepted: N_("Not accepted"),
    S.withdrawn: N_("Withdrawn"),
}


async def transition(
    session: AsyncSession,
    *,
    application: Application,
    to: ApplicationStatus,
    actor: audit.Actor,
    data: dict[str, Any] | None = None,
) -> Application:
    """The one place an application changes state; every move is an audit event."""
    current = ApplicationStatus(application.status)
    if to not in MOVES[current]:
        raise InvalidTransition(
            "The application is {state_label}: it cannot become {to_label}.",
            state_label=STATUS_LABELS[current],
            to_label=STATUS_LABELS[to],
        )
    at = now()
    application.status = to
    application.updated_at = at
    if to == S.queued:
        application.queued_at = at
    if to in (S.confirmed, S.rejected):
        application.decided_at = at
    if to == S.withdrawn:
        application.withdrawn_at = at
    open_now = clock.open_deadlines(
        status=to,
        effective_at=application.effective_at,
        queued_at=application.queued_at,
        accepted_at=application.accepted_at,
        supplement_due=application.supplement_due,
    )
    application.due_at = open_now[0].due if open_now else None
    session.add(application)
    await session.flush()
    await queue.moved(session, court_id=application.court_id, before=current, after=to)
    await audit.record(
        session,
        actor=actor,
        action=f"confirmation.{to.value}",
        case_id=application.case_id,
        data={"application": application.id, "from": current, "to": to, **(data or {})},
    )
    return application


async def locked(session: AsyncSession, application_id: int) -> Application:
    found = (
        await session.exec(
            select(Application)
            .where(Application.id == application_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).first()
    if found is None:
        raise NotFound("No such application.")
    return found


async def parties_of(session: AsyncSession, case: Case) -> list[Party]:
    return (await cases.parties_of(session, [case.id or 0]))[case.id or 0]


async def apply(
    session: AsyncSession,
    *,
    case: Case,
    court_id: int,
    user: User | None,
    party: Party | None,
    actor: audit.Actor,
    address: str = "",
    user_agent: str = "",
) -> Application:
    """Start the joint application for the case's effective agreement. A party who starts
    it has consented; when every party has, it goes to the court's queue."""
    agreement = await agreements_service.live_agreement(session, case.id or 0)
    if agreement is None or agreement.status != "effective" or agreement.effective_at is None:
        raise InvalidTransition(
            "Only an agreement in effect can be confirmed; this case has none yet."
        )
    at = now()
    clock.refuse_if_past(
        clock.application_window(agreement.effective_at),
        at,
        N_(
            "The 30 days for applying ended on {due}: the agreement took effect on "
            "{effective}. The parties may mediate again or go to court."
        ),
        effective=agreement.effective_at.astimezone(cases.CHINA).strftime("%Y-%m-%d"),
    )
    competent = {c.court.id: c for c in await competent_courts(session, case)}
    chosen = competent.get(court_id)
    if chosen is None:
        names = "、".join(c.court.name for c in competent.values()) or "—"
        raise Invalid(
            "That court is not competent for this case. Competent: {courts}.",
            field="court_id",
            courts=names,
        )
    application = Application(
        case_id=case.id or 0,
        agreement_id=agreement.id or 0,
        court_id=court_id,
        basis=chosen.basis,
        effective_at=agreement.effective_at,
        created_by_user=user.id if user else None,
        created_by_party=party.id if party else None,
    )
    try:
        async with session.begin_nested():
            session.add(application)
            await session.flush()
    except IntegrityError:
        raise Conflict("This agreement already has an application for confirmation.") from None
    await queue.moved(session, court_id=court_id, before=None, after=S.awaiting_consent)
    await audit.record(
        session,
        actor=actor,
        action="confirmation.applied",
        case_id=case.id,
        data={"application": application.id, "court": court_id, "basis": chosen.basis},
    )
    if party is not None:
        await _consent(session, application, party, address, user_agent, actor, case)
    return application


async def consent(
    session: AsyncSession,
    *,
    application_id: int,
    case: Case,
    party: Party,
    actor: audit.Actor,
    address: str,
    user_agent: str,
) -> Application:
    """This party joins the application; the last one sends it to the court's queue."""
    application = await locked(session, application_id)
    if application.case_id != party.case_id:
        raise NotFound("No such application.")
    if application.status != S.awaiting_consent:
        raise InvalidTransition(
            "The application is {state_label}: consents are no longer taken.",
            state_label=STATUS_LABELS[ApplicationStatus(application.status)],
        )
    clock.refuse_if_past(
        clock.application_window(application.effective_at),
        now(),
        N_("The 30 days for applying ended on {due}: the application can no longer be joined."),
    )
    await _consent(session, application, party, address, user_agent, actor, case)
    return application


async def _consent(
    session: AsyncSession,
    application: Application,
    party: Party,
    address: str,
    user_agent: str,
    actor: audit.Actor,
    case: Case,
) -> None:
    row = ApplicationConsent(
        application_id=application.id or 0,
        party_id=party.id or 0,
        address=address[:64],
        user_agent=user_agent[:300],
    )
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        raise Conflict("You have already joined this application.") from None
    await audit.record(
        session,
        actor=actor,
        action="confirmation.consented",
        case_id=application.case_id,
        data={"application": application.id, "party": party.id},
    )
    given = set(
        (
            await session.exec(
                select(ApplicationConsent.party_id).where(
                    ApplicationConsent.application_id == application.id
                )
            )
        ).all()
    )
    if all(p.id in given for p in await parties_of(session, case)):
        await transition(session, application=application, to=S.queued, actor=actor)


async def consents_of(session: AsyncSession, application: Application) -> list[ApplicationConsent]:
    return list(
        (
            await session.exec(
                select(ApplicationConsent)
                .where(ApplicationConsent.application_id == application.id)
                .order_by(col(ApplicationConsent.id))
            )
        ).all()
    )


def refuse_unless_of_court(user: User, application: Application) -> None:
    if user.org_id != application.court_id:
        raise NotFound("No such application.")


async def accept(
    session: AsyncSession,
    *,
    application_id: int,
    user: User | None,
    accept: bool,
    reason: str | None,
    actor: audit.Actor,
    court_id: int | None = None,
    number: str | None = None,
) -> Application:
    """立案: a number from the court's own counter (（2026）晋0403民特N号), or a refusal
    with its reason. A court's case system (no user: ``court_id`` is its token's court)
    may bring its own ``number``."""
    application = await locked(session, application_id)
    if user is not None:
        refuse_unless_of_court(user, application)
    elif court_id != application.court_id:
        raise NotFound("No such application.")
    if application.status != S.queued:
        raise InvalidTransition(
            "The application is {state_label}: it cannot be accepted.",
            state_label=STATUS_LABELS[ApplicationStatus(application.status)],
        )
    if not accept:
        if not (reason and reason.strip()):
            raise Invalid("Say why the application is not accepted.", field="reason")
        application.refusal_reason = reason.strip()
        return await transition(
            session,
            application=application,
            to=S.not_accepted,
            actor=actor,
            data={"reason": reason},
        )
    court = await session.get(Organisation, application.court_id)
    if court is None:
        raise NotFound("No such application.")
    at = now()
    if number is None:
        # The counter's next number not yet given by the court's own system (which may
        # bring numbers of its own): bounded, as such numbers are few.
        year = at.astimezone(cases.CHINA).year
        for _ in range(1000):
            seq = await cases.next_seq(session, org_id=court.id or 0, year=year)
            number = f"（{year}）{court.region_code}民特{seq}号"
            if not await _number_taken(session, application.court_id, number):
                break
    elif await _number_taken(session, application.court_id, number):
        raise Conflict("The court has already given this number to another application.")
    try:  # two acceptances at once with one number: the unique constraint decides
        async with session.begin_nested():
            application.number = number
            session.add(application)
            await session.flush()
    except IntegrityError:
        raise Conflict("The court has already given this number to another application.") from None
    application.accepted_at = at
    return await transition(
        session,
        application=application,
        to=S.accepted,
        actor=actor,
        data={"number": application.number},
    )


async def _number_taken(session: AsyncSession, court_id: int, number: str) -> bool:
    taken = await session.exec(
        select(Application.id)
        .where(Application.court_id == court_id)
        .where(Application.number == number)
    )
    return taken.first() is not None


async def venue_fixed(session: AsyncSession, case: Case) -> None:
    """The courts a case may go to are fixed once an application to one is under way: its
    court and basis were chosen from them (Domain.venue_guards)."""
    application = await application_for(session, case.id or 0)
    if application is not None:
        raise InvalidTransition(
            "An application for judicial confirmation is under way: the referring court and "
            "the place of the subject matter can no longer change. Withdraw it first."
        )


async def application_for(session: AsyncSession, case_id: int) -> Application | None:
    """The case's live application (not refused, not withdrawn), if any."""
    return (
        await session.exec(
            select(Application)
            .where(Application.case_id == case_id)
            .where(col(Application.status).not_in([S.not_accepted, S.withdrawn]))
        )
    ).first()
