"""Judicial confirmation: the joint application, consents, acceptance, the claim, decisions.

Services take the request's session, lock what they change and only add and flush; the
caller's unit of work commits. ``transition`` is the one place an application changes
state, with an audit event of the case each time (the application's history). What the law
says is too late is refused through the statutory clock (confirmation/clock.py).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from agreements import service as agreements_service
from confirmation import clock, queue
from confirmation.models import (
    Application,
    ApplicationConsent,
    ApplicationStatus,
    Basis,
    Decision,
    Ground,
    Outcome,
)
from service import audit, cases
from service.clock import now
from service.errors import Conflict, Forbidden, Invalid, InvalidTransition, NotFound
from service.i18n import N_
from service.models import Case, Organisation, OrgKind, Party, User

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
BASIS_LABELS = {
    Basis.committee_location: N_("The court where the mediation committee is"),
    Basis.party_domicile: N_("The court where a party is domiciled"),
    Basis.subject_matter: N_("The court where the subject matter is"),
    Basis.invited_by_court: N_("The court that referred the case for mediation"),
}
# The province part of a court's region code (晋0403) and of an ID number's region (140403).
PROVINCES = {
    "京": "11", "津": "12", "冀": "13", "晋": "14", "蒙": "15", "辽": "21", "吉": "22",
    "黑": "23", "沪": "31", "苏": "32", "浙": "33", "皖": "34", "闽": "35", "赣": "36",
    "鲁": "37", "豫": "41", "鄂": "42", "湘": "43", "粤": "44", "桂": "45", "琼": "46",
    "渝": "50", "川": "51", "贵": "52", "云": "53", "藏": "54", "陕": "61", "甘": "62",
    "青": "63", "宁": "64", "新": "65",
}  # fmt: skip

# A withdrawal's recorded reason when the supplement's deadline passed (Interp. 359).
DEADLINE_MISSED = "supplement_deadline_missed"

# Issues a document (the ruling) for an application and returns its SHA-256.
IssueRuling = Callable[[Application, Decision], Awaitable[str]]


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


@dataclass(frozen=True)
class Competent:
    court: Organisation
    basis: Basis


def court_region(court: Organisation) -> str | None:
    """晋0403 -> 140403, the region part of the ID numbers of people domiciled there."""
    code = court.region_code or ""
    province = PROVINCES.get(code[:1])
    return province + code[1:] if province and len(code) == 5 else None


async def competent_courts(session: AsyncSession, case: Case) -> list[Competent]:
    """The courts to which the parties may apply (CPL 205). A case a court referred to the
    committee goes back to that court alone. Otherwise: the committee's basic-level court,
    the courts where a party (a person, by the ID number's region) is domiciled, and those
    where the subject matter is (the case's ``subject_region``); each court once, under the
    first of these that names it."""
    if case.referred_by_court_id is not None:
        referring = await session.get(Organisation, case.referred_by_court_id)
        return [Competent(referring, Basis.invited_by_court)] if referring is not None else []
    found: dict[int, Competent] = {}
    committee = await session.get(Organisation, case.org_id)
    if committee is not None and committee.court_id is not None:
        court = await session.get(Organisation, committee.court_id)
        if court is not None:
            found[court.id or 0] = Competent(court, Basis.committee_location)
    parties = (await cases.parties_of(session, [case.id or 0]))[case.id or 0]
    domiciles = {p.id_number[:6] for p in parties if p.kind == "person" and p.id_number}
    by_region = [(domiciles, Basis.party_domicile)]
    if case.subject_region:
        by_region.append(({case.subject_region}, Basis.subject_matter))
    if domiciles or case.subject_region:
        courts = (
            await session.exec(select(Organisation).where(Organisation.kind == OrgKind.court))
        ).all()
        for regions, basis in by_region:
            for court in courts:
                if court_region(court) in regions and (court.id or 0) not in found:
                    found[court.id or 0] = Competent(court, basis)
    return list(found.values())


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


def _of_court(user: User, application: Application) -> None:
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
        _of_court(user, application)
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


async def claim(
    session: AsyncSession, *, application_id: int, judge: User, actor: audit.Actor
) -> Application:
    """Exactly one judge holds an application: one conditional update decides, on SQLite
    and PostgreSQL alike, however many judges claim it at once."""
    application = await session.get(Application, application_id)
    if application is None:
        raise NotFound("No such application.")
    _of_court(judge, application)
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
    _of_court(judge, application)
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
