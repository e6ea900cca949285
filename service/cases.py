"""Cases and their parties: intake, numbering, the case state machine. Join links are in
service/invitations.py."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import audit, venue
from service.clock import now
from service.domain import VenueGuard
from service.errors import Invalid, InvalidTransition, NotFound
from service.i18n import N_
from service.models import (
    AuditEvent,
    Case,
    CaseCounter,
    CaseStatus,
    DisputeType,
    Organisation,
    OrgKind,
    Party,
    PartyKind,
    PartyRole,
    Role,
    User,
)
from service.personal import mask_id_number, mask_in_text, resident_id_problem, uscc_problem

CHINA = ZoneInfo("Asia/Shanghai")


class Via(StrEnum):
    """Who moves a case: its mediator by choice (the API, the case page), or the agreements
    domain when an agreement takes effect."""

    mediator = "mediator"
    agreement = "agreement"


# The case state machine (DESIGN.md): each state's moves and who makes them. ``agreed`` is
# reached only when an agreement takes effect; the other moves are the mediator's.
MOVES: dict[CaseStatus, dict[CaseStatus, Via]] = {
    CaseStatus.intake: {
        CaseStatus.mediating: Via.mediator,
        CaseStatus.failed: Via.mediator,
        CaseStatus.withdrawn: Via.mediator,
    },
    CaseStatus.mediating: {
        CaseStatus.agreed: Via.agreement,
        CaseStatus.failed: Via.mediator,
        CaseStatus.withdrawn: Via.mediator,
    },
    CaseStatus.agreed: {CaseStatus.closed: Via.mediator},
    CaseStatus.closed: {},
    CaseStatus.failed: {},
    CaseStatus.withdrawn: {},
}
NEEDS_REASON = frozenset({CaseStatus.failed, CaseStatus.withdrawn})
# A case has ended when no move is left: it takes no new join links, rooms or changes.
ENDED = frozenset(state for state, moves in MOVES.items() if not moves)


STATUS_LABELS = {
    CaseStatus.intake: N_("Intake"),
    CaseStatus.mediating: N_("Mediating"),
    CaseStatus.agreed: N_("Agreed"),
    CaseStatus.closed: N_("Closed"),
    CaseStatus.failed: N_("Failed"),
    CaseStatus.withdrawn: N_("Withdrawn"),
}
DISPUTE_LABELS = {
    DisputeType.neighbour: N_("Neighbour dispute"),
    DisputeType.property_management: N_("Property management"),
    DisputeType.family: N_("Family and marriage"),
    DisputeType.debt: N_("Debt and loans"),
    DisputeType.labour: N_("Labour and wages"),
    DisputeType.traffic: N_("Traffic accident"),
    DisputeType.consumer: N_("Consumer dispute"),
    DisputeType.other: N_("Other"),
}
# Audit actions as the case history names them; "<action>/<state>" names the state that
# the event moved something to (service/history.py).
ACTION_LABELS = {
    "case.created": N_("Case opened"),
    "case.status_changed": N_("Status changed"),
    "case.updated": N_("Case details changed"),
    **{f"case.status_changed/{state.value}": label for state, label in STATUS_LABELS.items()},
    "invitation.created": N_("Join link created"),
    "invitation.revoked": N_("Join link withdrawn"),
    "invitation.used": N_("Join link opened"),
    "invitation.refused": N_("Join link refused"),
}
PARTY_ROLE_LABELS = {
    PartyRole.applicant: N_("Applicant"),
    PartyRole.respondent: N_("Respondent"),
    PartyRole.third_party: N_("Third party"),
}
PARTY_KIND_LABELS = {
    PartyKind.person: N_("Person"),
    PartyKind.organisation: N_("Organisation"),
}
STAFF_ROLE_LABELS = {
    Role.admin: N_("Administrator"),
    Role.mediator: N_("Mediator"),
    Role.judge: N_("Judge"),
    Role.clerk: N_("Clerk"),
}


@dataclass(frozen=True)
class NewParty:
    role: PartyRole
    kind: PartyKind
    name: str
    id_number: str | None = None
    phone: str | None = None
    address: str | None = None
    representative: str | None = None
    agent_name: str | None = None
    agent_id_number: str | None = None
    agent_phone: str | None = None


def check_party(index: int, party: NewParty) -> None:
    """Domain checks that the schema cannot express; field paths match the request body."""
    where = f"parties.{index}"
    if party.id_number:
        problem = (
            resident_id_problem(party.id_number)
            if party.kind == PartyKind.person
            else uscc_problem(party.id_number)
        )
        if problem:
            raise Invalid(problem, field=f"{where}.id_number")
    if party.agent_id_number and (problem := resident_id_problem(party.agent_id_number)):
        raise Invalid(problem, field=f"{where}.agent.id_number")


async def next_seq(session: AsyncSession, *, org_id: int, year: int) -> int:
    """Allocate the next number atomically: one upsert, so concurrent intakes (even the
    first of a year) queue on the counter row and never share or skip a number."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(CaseCounter)
        .values(org_id=org_id, year=year, last=1)
        .on_conflict_do_update(
            index_elements=["org_id", "year"], set_={"last": col(CaseCounter.last) + 1}
        )
        .returning(col(CaseCounter.last))
    )
    return int((await session.exec(statement)).one()[0])


def case_number(org: Organisation, year: int, seq: int) -> str:
    return f"（{year}）{org.short_name}调字第{seq}号"


async def create_case(
    session: AsyncSession,
    *,
    mediator: User,
    dispute_type: DisputeType,
    title: str,
    summary: str,
    parties: list[NewParty],
    referred_by_court_id: int | None = None,
    subject_region: str | None = None,
) -> tuple[Case, list[Party]]:
    roles = {p.role for p in parties}
    if PartyRole.applicant not in roles or PartyRole.respondent not in roles:
        raise Invalid("A case needs at least one applicant and one respondent.", field="parties")
    for index, party in enumerate(parties):
        check_party(index, party)
    where = {"referred_by_court_id": referred_by_court_id, "subject_region": subject_region}
    await venue.check(session, where)
    org = await session.get(Organisation, mediator.org_id)
    if org is None or org.kind != OrgKind.committee:
        raise NotFound("No such organisation.")
    year = now().astimezone(CHINA).year
    seq = await next_seq(session, org_id=org.id or 0, year=year)
    case = Case(
        org_id=mediator.org_id,
        year=year,
        seq=seq,
        number=case_number(org, year, seq),
        dispute_type=dispute_type,
        title=title,
        summary=summary,
        mediator_id=mediator.id or 0,
        referred_by_court_id=referred_by_court_id,
        subject_region=subject_region,
    )
    session.add(case)
    await session.flush()
    rows = [Party(case_id=case.id or 0, **party.__dict__) for party in parties]
    session.add_all(rows)
    await session.flush()
    await audit.record(
        session,
        actor=staff_actor(mediator),
        action="case.created",
        case_id=case.id,
        data={
            "number": case.number,
            "dispute_type": dispute_type,
            **{name: value for name, value in where.items() if value is not None},
            "parties": [
                {
                    "id": p.id,
                    "role": p.role,
                    "name": p.name,
                    "id_number": mask_id_number(p.id_number),
                }
                for p in rows
            ],
        },
    )
    return case, rows


def staff_actor(user: User) -> audit.Actor:
    return audit.Actor("user", user.id, f"{user.name} ({user.username})")


def party_actor(party: Party) -> audit.Actor:
    return audit.Actor("party", party.id, party.name)


def is_ended(case: Case) -> bool:
    return CaseStatus(case.status) in ENDED


def refuse_if_ended(case: Case, refusal: str) -> None:
    """409 with ``refusal`` (a msgid naming ``{state}`` and ``{state_label}``) when the case
    has ended: what every domain that adds to a case (a join link, a room) asks first."""
    if is_ended(case):
        state = CaseStatus(case.status)
        raise InvalidTransition(refusal, state=state.value, state_label=STATUS_LABELS[state])


def mediator_moves(case: Case) -> list[CaseStatus]:
    """The states a mediator may choose to move the case to now (the case page's buttons)."""
    moves = MOVES[CaseStatus(case.status)]
    return [to for to in CaseStatus if moves.get(to) == Via.mediator]


async def transition(
    session: AsyncSession,
    *,
    case: Case,
    to: CaseStatus,
    via: Via,
    actor: audit.Actor,
    reason: str | None = None,
) -> Case:
    """The one place a case changes status; every move is an audit event. A move the machine
    has, made by someone who may not make it (a mediator choosing ``agreed``), is refused
    like a move it does not have: 409 naming the state."""
    # Read afresh under a row lock (PostgreSQL; SQLite has one writer): two moves out of
    # one state (the mediator ending the case, an agreement taking effect) cannot both pass.
    await session.exec(
        select(Case)
        .where(Case.id == case.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    current = CaseStatus(case.status)
    if MOVES[current].get(to) != via:
        raise InvalidTransition(
            "A case in state '{state}' ({state_label}) cannot move to '{to}' ({to_label}).",
            state=current.value,
            state_label=STATUS_LABELS[current],
            to=to.value,
            to_label=STATUS_LABELS[to],
        )
    if to in NEEDS_REASON and not (reason and reason.strip()):
        raise Invalid("Say why the mediation ended.", field="reason")
    at = now()
    case.status = to
    case.updated_at = at
    if to == CaseStatus.mediating:
        case.mediation_started_at = at
    if to in ENDED:
        case.ended_at = at
    if reason:
        reason = mask_in_text(reason.strip())  # free text: an ID typed here is masked too
        case.end_reason = reason
    session.add(case)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="case.status_changed",
        case_id=case.id,
        data={"from": current, "to": to, "via": via, "reason": reason},
    )
    return case


async def update_case(
    session: AsyncSession,
    *,
    case: Case,
    actor: audit.Actor,
    changes: dict[str, Any],
    guards: Iterable[VenueGuard] = (),
) -> Case:
    """Change what a case records about its competent courts (service/venue.py) while it
    is open and no domain's ``guards`` object, under its row lock, like a move of its state."""
    await session.exec(
        select(Case)
        .where(Case.id == case.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    refuse_if_ended(case, N_("A case in state '{state}' ({state_label}) can no longer be changed."))
    for guard in guards:
        await guard(session, case)
    return await venue.change(session, case=case, actor=actor, changes=changes)


async def list_cases(
    session: AsyncSession,
    *,
    org_id: int | None = None,
    case_id: int | None = None,
    status: CaseStatus | None = None,
    dispute_type: DisputeType | None = None,
    query: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> tuple[list[Case], int]:
    conditions: list[Any] = []
    if org_id is not None:
        conditions.append(col(Case.org_id) == org_id)
    if case_id is not None:
        conditions.append(col(Case.id) == case_id)
    if status is not None:
        conditions.append(col(Case.status) == status)
    if dispute_type is not None:
        conditions.append(col(Case.dispute_type) == dispute_type)
    if query:
        escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = f"%{escaped}%"
        conditions.append(
            or_(col(Case.title).like(like, escape="\\"), col(Case.number).like(like, escape="\\"))
        )
    total = (await session.exec(select(func.count()).select_from(Case).where(*conditions))).one()
    rows = (
        await session.exec(
            select(Case)
            .where(*conditions)
            .order_by(col(Case.created_at).desc(), col(Case.id).desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
    ).all()
    return list(rows), int(total)


async def parties_of(session: AsyncSession, case_ids: list[int]) -> dict[int, list[Party]]:
    grouped: dict[int, list[Party]] = {cid: [] for cid in case_ids}
    if not case_ids:
        return grouped
    rows = await session.exec(
        select(Party).where(col(Party.case_id).in_(case_ids)).order_by(col(Party.id))
    )
    for party in rows:
        grouped[party.case_id].append(party)
    return grouped


async def party_of_case(session: AsyncSession, *, case: Case, party_id: int) -> Party:
    party = await session.get(Party, party_id)
    if party is None or party.case_id != case.id:
        raise NotFound("No such party in this case.")
    return party


async def case_events(session: AsyncSession, *, case: Case) -> list[AuditEvent]:
    rows = await session.exec(
        select(AuditEvent).where(AuditEvent.case_id == case.id).order_by(col(AuditEvent.seq))
    )
    return list(rows.all())
