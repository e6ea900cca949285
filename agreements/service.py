"""Agreements: starting one from a template, saving versions, voiding one.

Every function takes the request's session and only adds and flushes: the caller's unit of
work commits, so a refused save or signature leaves the versions and signatures exactly as
they were. Every change to an agreement first locks its row (``locked``), so two saves, or
a save and a signature, cannot interleave on PostgreSQL (SQLite has one writer anyway).
Sending one out for signing, signing and taking effect are in agreements/signing.py.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from agreements import catalog, check
from agreements.clauses import Clause, clauses
from agreements.content import Content, PartySnapshot, canonical, content_sha256
from agreements.models import Agreement, AgreementStatus, AgreementVersion, Signature
from service import audit, cases
from service.cases import CHINA
from service.clock import end_of_period, now
from service.errors import Conflict, Invalid, InvalidTransition, NotFound
from service.i18n import N_
from service.models import Case, Party
from service.personal import mask_id_number

# The agreement's state machine (DESIGN.md): each state's moves.
MOVES: dict[AgreementStatus, frozenset[AgreementStatus]] = {
    AgreementStatus.draft: frozenset({AgreementStatus.signing, AgreementStatus.void}),
    AgreementStatus.signing: frozenset(
        {AgreementStatus.draft, AgreementStatus.effective, AgreementStatus.void}
    ),
    AgreementStatus.effective: frozenset(),
    AgreementStatus.void: frozenset(),
}
STATUS_LABELS = {
    AgreementStatus.draft: N_("Draft"),
    AgreementStatus.signing: N_("Out for signing"),
    AgreementStatus.effective: N_("In effect"),
    AgreementStatus.void: N_("Void"),
}


def today() -> date:
    """The agreement's date is the committee's (Beijing) date."""
    return now().astimezone(CHINA).date()


async def transition(
    session: AsyncSession,
    *,
    agreement: Agreement,
    to: AgreementStatus,
    actor: audit.Actor,
    data: dict[str, Any] | None = None,
) -> Agreement:
    """The one place an agreement changes status; every move is an audit event."""
    current = AgreementStatus(agreement.status)
    if to not in MOVES[current]:
        raise InvalidTransition(
            "The agreement is {state_label}: it cannot become {to_label}.",
            state_label=STATUS_LABELS[current],
            to_label=STATUS_LABELS[to],
        )
    agreement.status = to
    agreement.updated_at = now()
    session.add(agreement)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action=f"agreement.{to.value}",
        case_id=agreement.case_id,
        data={"agreement": agreement.id, "from": current, "to": to, **(data or {})},
    )
    return agreement


async def locked(session: AsyncSession, agreement_id: int) -> Agreement:
    """The agreement's row, locked for this transaction and read afresh."""
    found = (
        await session.exec(
            select(Agreement)
            .where(Agreement.id == agreement_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).first()
    if found is None:
        raise NotFound("No such agreement.")
    return found


async def snapshot(session: AsyncSession, case: Case) -> list[PartySnapshot]:
    """The parties as the agreement names them, from the case (never retyped)."""
    parties = (await cases.parties_of(session, [case.id or 0]))[case.id or 0]
    return [_snapshot(p) for p in parties]


def _snapshot(p: Party) -> PartySnapshot:
    return PartySnapshot(
        id=p.id or 0,
        role=p.role,
        kind=p.kind,
        name=p.name,
        id_number=mask_id_number(p.id_number),
        address=p.address,
        phone=p.phone,
        representative=p.representative,
        agent_name=p.agent_name,
    )


def refuse_bad_content(content: Content, parties: list[PartySnapshot], *, on: date) -> None:
    """What no draft may hold (422, the field named): a party not of this case, or a date
    before the agreement's date. Missing parts are the check's, not refusals."""
    ids = {p.id for p in parties}
    for i, term in enumerate(content.terms):
        for role in ("obligor", "obligee"):
            value = getattr(term, role)
            if value is not None and value not in ids:
                raise Invalid(
                    "Term {n}: {value} is not a party of this case.",
                    field=f"content.terms.{i}.{role}",
                    n=i + 1,
                    value=value,
                )
        dates = [("due", term.due)] + [
            (f"instalments.{j}.due", part.due) for j, part in enumerate(term.instalments)
        ]
        for where, day in dates:
            if day is not None and day < on:
                raise Invalid(
                    "Term {n}: {day} is before the agreement's date ({today}).",
                    field=f"content.terms.{i}.{where}",
                    n=i + 1,
                    day=day.isoformat(),
                    today=on.isoformat(),
                )


async def live_agreement(session: AsyncSession, case_id: int) -> Agreement | None:
    return (
        await session.exec(
            select(Agreement)
            .where(Agreement.case_id == case_id)
            .where(Agreement.status != AgreementStatus.void)
        )
    ).first()


async def create(
    session: AsyncSession,
    *,
    case: Case,
    template_id: str,
    content: Content | None,
    user_id: int,
    actor: audit.Actor,
) -> tuple[Agreement, AgreementVersion]:
    """The case's agreement with its version 1: the template filled in from the case, or
    the content given. 409 if the case has ended or already has one (Location names it)."""
    cases.refuse_if_ended(case, N_("The case is {state_label}: it takes no new agreement."))
    template = catalog.TEMPLATES.get(template_id)
    if template is None:
        raise Invalid(
            "There is no agreement template '{template}'.", field="template", template=template_id
        )
    parties = await snapshot(session, case)
    on = today()
    content = content or catalog.starting_content(template, parties, on)
    refuse_bad_content(content, parties, on=on)
    existing = await live_agreement(session, case.id or 0)
    if existing is not None:
        raise _exists(existing)
    agreement = Agreement(case_id=case.id or 0, template=template.id, created_by=user_id)
    try:
        async with session.begin_nested():
            session.add(agreement)
            await session.flush()
    except IntegrityError:  # a concurrent request made one first
        existing = await live_agreement(session, case.id or 0)
        raise _exists(existing) from None
    version = await _add_version(session, agreement, 1, parties, content, user_id)
    await audit.record(
        session,
        actor=actor,
        action="agreement.created",
        case_id=case.id,
        data={"agreement": agreement.id, "template": template.id, "sha256": version.content_sha256},
    )
    return agreement, version


def _exists(existing: Agreement | None) -> Conflict:
    error = Conflict("This case already has an agreement; edit that one.")
    if existing is not None:
        error.headers["Location"] = f"/api/agreements/{existing.id}"
    return error


async def save(
    session: AsyncSession,
    *,
    agreement_id: int,
    case: Case,
    base_version: int,
    content: Content,
    user_id: int,
    actor: audit.Actor,
) -> tuple[Agreement, AgreementVersion]:
    """A new version, if ``base_version`` is the latest (409 otherwise: someone saved in
    between). Saving the text unchanged makes no version. An edit while the agreement is out
    for signing makes a new draft and voids the signatures given on the old version."""
    cases.refuse_if_ended(
        case, N_("The case is {state_label}: its agreement can no longer change.")
    )
    agreement = await locked(session, agreement_id)
    status = AgreementStatus(agreement.status)
    if status in (AgreementStatus.effective, AgreementStatus.void):
        raise InvalidTransition(
            "The agreement is {state_label}: it can no longer be changed.",
            state_label=STATUS_LABELS[status],
        )
    if base_version != agreement.latest_version:
        raise Conflict(
            "Version {latest} was saved after version {base}, which you edited. Reload to "
            "see it, then make your change again.",
            latest=agreement.latest_version,
            base=base_version,
        )
    parties = await snapshot(session, case)
    refuse_bad_content(content, parties, on=today())
    latest = await version_of(session, agreement, agreement.latest_version)
    sha = content_sha256(template=agreement.template, parties=parties, content=content)
    if sha == latest.content_sha256:
        return agreement, latest
    if status == AgreementStatus.signing:
        voided = await void_signatures(session, agreement)
        agreement.signing_version = None
        await transition(
            session,
            agreement=agreement,
            to=AgreementStatus.draft,
            actor=actor,
            data={"reason": "edited", "signatures_voided": voided},
        )
    version = await _add_version(
        session, agreement, agreement.latest_version + 1, parties, content, user_id
    )
    await audit.record(
        session,
        actor=actor,
        action="agreement.version_saved",
        case_id=agreement.case_id,
        data={"agreement": agreement.id, "version": version.number, "sha256": sha},
    )
    return agreement, version


async def _add_version(
    session: AsyncSession,
    agreement: Agreement,
    number: int,
    parties: list[PartySnapshot],
    content: Content,
    user_id: int,
) -> AgreementVersion:
    document = canonical(template=agreement.template, parties=parties, content=content)
    version = AgreementVersion(
        agreement_id=agreement.id or 0,
        number=number,
        document=document.decode(),
        content_sha256=content_sha256(
            template=agreement.template, parties=parties, content=content
        ),
        created_by=user_id,
    )
    agreement.latest_version = number
    agreement.updated_at = now()
    session.add(agreement)
    session.add(version)
    await session.flush()
    return version


async def void_signatures(session: AsyncSession, agreement: Agreement) -> int:
    """Void the signatures given on the version out for signing; how many there were."""
    rows = (
        await session.exec(
            select(Signature)
            .where(Signature.agreement_id == agreement.id)
            .where(col(Signature.voided_at).is_(None))
        )
    ).all()
    at = now()
    for row in rows:
        row.voided_at = at
        session.add(row)
    await session.flush()
    return len(rows)


async def version_of(session: AsyncSession, agreement: Agreement, number: int) -> AgreementVersion:
    found = (
        await session.exec(
            select(AgreementVersion)
            .where(AgreementVersion.agreement_id == agreement.id)
            .where(AgreementVersion.number == number)
        )
    ).first()
    if found is None:
        raise NotFound("The agreement has no version {number}.", number=number)
    return found


async def versions_of(session: AsyncSession, agreement: Agreement) -> list[AgreementVersion]:
    return list(
        (
            await session.exec(
                select(AgreementVersion)
                .where(AgreementVersion.agreement_id == agreement.id)
                .order_by(col(AgreementVersion.number))
            )
        ).all()
    )


def read(version: AgreementVersion) -> tuple[str, list[PartySnapshot], Content]:
    """A stored version back as template, parties and content."""
    document = json.loads(version.document)
    return (
        document["template"],
        [PartySnapshot.model_validate(p) for p in document["parties"]],
        Content.model_validate(document["content"]),
    )


def findings(version: AgreementVersion, *, on: date) -> list[check.Finding]:
    _, parties, content = read(version)
    return check.check(content, parties, today=on)


def clauses_of(version: AgreementVersion) -> list[Clause]:
    _, parties, content = read(version)
    return clauses(content, parties)


async def signatures_of(
    session: AsyncSession, agreement: Agreement, *, version: int | None = None
) -> list[Signature]:
    """The signatures in force: on the version out for signing, or on the effective one."""
    number = version or agreement.signing_version
    if number is None:
        return []
    return list(
        (
            await session.exec(
                select(Signature)
                .where(Signature.agreement_id == agreement.id)
                .where(Signature.version == number)
                .where(col(Signature.voided_at).is_(None))
                .order_by(col(Signature.id))
            )
        ).all()
    )


async def void(
    session: AsyncSession, *, agreement_id: int, reason: str, actor: audit.Actor
) -> Agreement:
    """Abandon a draft or an agreement out for signing (the signatures given are voided);
    the case may then start another. An agreement in effect cannot be voided here."""
    if not reason.strip():
        raise Invalid("Say why the agreement is abandoned.", field="reason")
    agreement = await locked(session, agreement_id)
    voided = await void_signatures(session, agreement)
    agreement.signing_version = None
    return await transition(
        session,
        agreement=agreement,
        to=AgreementStatus.void,
        actor=actor,
        data={"reason": reason.strip(), "signatures_voided": voided},
    )


def effective_deadline(effective_at: datetime) -> datetime:
    """The parties may apply for judicial confirmation within 30 days (CPL 205), counted as
    the confirmation domain counts it (to 24:00 of the 30th day)."""
    return end_of_period(effective_at, 30)
