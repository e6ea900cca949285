"""The application as the API and the pages show it (ApplicationOut): its consents, deadlines,
admissibility warnings, decisions, history, joint session and the ruling's service. Shared by
confirmation/router.py and confirmation/pages.py."""

from __future__ import annotations

import json

from fastapi import Request
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from agreements import service as agreements_service
from confirmation import clock, document
from confirmation import service as confirmation_service
from confirmation import session as joint_session
from confirmation.access import ApplicationAccess
from confirmation.decisions import DEADLINE_MISSED, decisions_of
from confirmation.models import ApplicationStatus, Ground, Outcome
from confirmation.schemas import (
    ApplicationOut,
    ConsentOut,
    DeadlineOut,
    DecisionOut,
    HistoryOut,
    ServiceOut,
)
from service.auth import PartyPrincipal
from service.clock import now
from service.i18n import gettext
from service.models import AuditEvent, Organisation


def _note(data: dict[str, object], language: str) -> str | None:
    said = data.get("note") or data.get("reason")
    if said == DEADLINE_MISSED:
        return gettext(language, "The supplement was not handed in by its deadline.")
    return said if isinstance(said, str) and said else None


async def application_out(
    session: AsyncSession, request: Request, access: ApplicationAccess
) -> ApplicationOut:
    application, case = access.application, access.case
    language = request.state.language
    court = await session.get(Organisation, application.court_id)
    consents = await confirmation_service.consents_of(session, application)
    parties = await confirmation_service.parties_of(session, case)
    given = {c.party_id for c in consents}
    agreement = await agreements_service.live_agreement(session, case.id or 0)
    admissibility: list[str] = []
    if agreement is not None:
        version = await agreements_service.version_of(session, agreement, agreement.latest_version)
        admissibility = [
            gettext(language, f.message, **f.params)
            for f in agreements_service.findings(version, on=application.effective_at.date())
            if f.level == "warning"
        ]
    events = (
        await session.exec(
            select(AuditEvent)
            .where(AuditEvent.case_id == case.id)
            .where(col(AuditEvent.action).startswith("confirmation."))
            .order_by(col(AuditEvent.seq))
        )
    ).all()
    labels = request.app.state.action_labels
    history = [
        HistoryOut(
            at=e.at,
            action=e.action,
            label=gettext(language, labels.get(e.action, e.action)),
            actor=e.actor_kind,
            note=_note(data, language),
        )
        for e in events
        if (data := json.loads(e.data)).get("application") == application.id
    ]
    at = now()
    return ApplicationOut(
        id=application.id or 0,
        case_id=case.id or 0,
        case_number=case.number,
        agreement_id=application.agreement_id,
        court_id=application.court_id,
        court_name=court.name if court else "",
        basis=application.basis,
        status=ApplicationStatus(application.status),
        status_label=gettext(
            language, confirmation_service.STATUS_LABELS[ApplicationStatus(application.status)]
        ),
        number=application.number,
        created_at=application.created_at,
        effective_at=application.effective_at,
        queued_at=application.queued_at,
        accepted_at=application.accepted_at,
        claimed_by=application.claimed_by,
        claimed_at=application.claimed_at,
        supplement_due=application.supplement_due,
        decided_at=application.decided_at,
        refusal_reason=application.refusal_reason,
        record_sha256=application.record_sha256,
        ruling_sha256=application.ruling_sha256,
        agreement_sha256=agreement.document_sha256 if agreement else None,
        consents=[ConsentOut(party_id=c.party_id, at=c.at) for c in consents],
        awaiting_consent=[p.id or 0 for p in parties if p.id not in given],
        deadlines=[DeadlineOut.of(d, at, language) for d in clock.of(application)],
        admissibility=admissibility,
        decisions=[
            DecisionOut(
                id=d.id or 0,
                outcome=Outcome(d.outcome),
                grounds=[Ground(g) for g in json.loads(d.grounds)],
                reason=d.reason,
                supplement_due=d.supplement_due,
                at=d.at,
                ruling_sha256=d.ruling_sha256,
            )
            for d in await decisions_of(session, application)
        ],
        history=history,
        session=await joint_session.session_out(session, application, language),
        # The ruling's service per party (a party sees their own), with each objection
        # deadline, which runs from that party's receipt.
        service=[
            ServiceOut.of(r, at, language)
            for r in await document.receipts_of(session, application)
            if not isinstance(access.principal, PartyPrincipal)
            or r.party_id == access.principal.party.id
        ],
    )
