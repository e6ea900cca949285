"""The agreement as the API and the pages show it (AgreementOut, VersionOut), and the news
of a change for the case's meeting. Shared by agreements/router.py,
agreements/signing_router.py and agreements/pages.py."""

from __future__ import annotations

from fastapi import BackgroundTasks, Request

from agreements import document
from agreements import service as agreements_service
from agreements.access import AgreementAccess
from agreements.models import Agreement, AgreementStatus, AgreementVersion, Signature, SignMethod
from agreements.schemas import (
    AgreementOut,
    AwaitingOut,
    ClauseOut,
    FindingOut,
    SignatureOut,
    VersionOut,
)
from agreements.service import read
from service.db import SessionDep
from service.hub import AGREEMENT_TOPIC
from service.i18n import gettext


def announce(request: Request, background: BackgroundTasks, agreement: Agreement) -> None:
    """Once committed, the case's meeting hears of it (rooms subscribe through the hub)."""
    background.add_task(
        request.app.state.hub.publish,
        AGREEMENT_TOPIC,
        {
            "case_id": agreement.case_id,
            "agreement_id": agreement.id,
            "version": agreement.latest_version,
            "status": agreement.status,
        },
    )


def version_out(version: AgreementVersion, request: Request, access: AgreementAccess) -> VersionOut:
    template, parties, content = read(version)
    party_id = access.party_id
    if party_id is not None:
        # Another party is shown by name and role only (API.md), in the JSON as on the pages.
        parties = [
            p if p.id == party_id else p.model_copy(update=dict.fromkeys(document.PRIVATE))
            for p in parties
        ]
    language = request.state.language
    return VersionOut(
        number=version.number,
        content_sha256=version.content_sha256,
        created_at=version.created_at,
        template=template,
        parties=parties,
        content=content,
        clauses=[
            ClauseOut(key=c.key, heading=c.heading, text=c.text)
            for c in agreements_service.clauses_of(version)
        ],
        findings=[
            FindingOut(
                level=f.level,
                code=f.code,
                clause=f.clause,
                message=gettext(language, f.message, **f.params),
                rule=f.rule,
            )
            for f in agreements_service.findings(version, on=agreements_service.today())
        ],
    )


async def agreement_out(
    session: SessionDep, request: Request, access: AgreementAccess
) -> AgreementOut:
    agreement = access.agreement
    latest = await agreements_service.version_of(session, agreement, agreement.latest_version)
    number = agreement.signing_version
    if agreement.status == AgreementStatus.effective:
        number = agreement.latest_version
    signatures: list[Signature] = (
        await agreements_service.signatures_of(session, agreement, version=number) if number else []
    )
    awaiting: list[AwaitingOut] = []
    if agreement.status == AgreementStatus.signing:
        _, parties, _ = read(await agreements_service.version_of(session, agreement, number or 1))
        signed = {s.party_id for s in signatures}
        awaiting = [
            AwaitingOut(party_id=p.id, name=p.name, role=p.role)
            for p in parties
            if p.id not in signed
        ]
        awaiting.append(AwaitingOut(party_id=None, name="", role="mediator"))
    return AgreementOut(
        id=agreement.id or 0,
        case_id=agreement.case_id,
        template=agreement.template,
        status=AgreementStatus(agreement.status),
        latest_version=agreement.latest_version,
        signing_version=agreement.signing_version,
        effective_at=agreement.effective_at,
        confirmation_deadline=(
            agreements_service.effective_deadline(agreement.effective_at)
            if agreement.effective_at
            else None
        ),
        document_sha256=agreement.document_sha256,
        version=version_out(latest, request, access),
        signatures=[
            SignatureOut(
                id=s.id or 0,
                version=s.version,
                content_sha256=s.content_sha256,
                party_id=s.party_id,
                user_id=s.user_id,
                signer_name=s.signer_name,
                method=SignMethod(s.method),
                signed_at=s.signed_at,
            )
            for s in signatures
        ],
        awaiting=awaiting,
    )
