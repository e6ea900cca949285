"""Sending an agreement out for signing and signing it over HTTP (API.md). Included by
agreements/router.py's router; the logic is in agreements/signing.py; the request's unit of
work commits."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request

from agreements import document, signing
from agreements.access import AgreementAccess, EditableAgreement, ViewableAgreement
from agreements.models import SignMethod
from agreements.schemas import AgreementOut, SignatureIn
from agreements.views import agreement_out, announce
from service.auth import PartyPrincipal
from service.db import SessionDep
from service.errors import Invalid
from service.router import client_address

router = APIRouter(tags=["agreements"])


@router.post("/api/agreements/{agreement_id}/send-for-signing", response_model=AgreementOut)
async def send_for_signing(
    access: EditableAgreement, session: SessionDep, request: Request, background: BackgroundTasks
) -> AgreementOut:
    """Freeze the latest version for signing (409 while its check finds errors, or while
    the case is not in mediation)."""
    agreement = await signing.send_for_signing(
        session,
        agreement_id=access.agreement.id or 0,
        case=access.case,
        actor=access.principal.actor,
    )
    announce(request, background, agreement)
    return await agreement_out(
        session, request, AgreementAccess(agreement, access.case, access.principal)
    )


@router.post(
    "/api/agreements/{agreement_id}/signatures", response_model=AgreementOut, status_code=201
)
async def add_signature(
    body: SignatureIn,
    access: ViewableAgreement,
    session: SessionDep,
    request: Request,
    background: BackgroundTasks,
) -> AgreementOut:
    """A party's signature, or (last) the mediator's, on the version out for signing; 409
    when the version or its hash is not the one out for signing, or the signer has signed."""
    if body.method == SignMethod.drawn:
        if body.image_png is None or body.typed_name is not None:
            raise Invalid(
                "A drawn signature carries the picture and no typed name.", field="image_png"
            )
        await asyncio.to_thread(signing.check_png, body.image_png)
        image_sha256: str | None = hashlib.sha256(body.image_png).hexdigest()
    else:
        if body.typed_name is None or body.image_png is not None:
            raise Invalid("A typed signature carries the name and no picture.", field="typed_name")
        image_sha256 = None
    principal = access.principal
    signer, evidence = await _signer(session, request, access)
    agreement, _ = await signing.sign(
        session,
        agreement_id=access.agreement.id or 0,
        case=access.case,
        signer=signer,
        version=body.version,
        content_sha256=body.content_sha256,
        method=body.method,
        image_sha256=image_sha256,
        typed_name=body.typed_name,
        address=client_address(request),
        user_agent=request.headers.get("user-agent", ""),
        evidence=evidence,
        actor=principal.actor,
        issue=document.issuer(
            request,
            session,
            access.case,
            {image_sha256: body.image_png} if image_sha256 and body.image_png else None,
        ),
    )
    if body.image_png is not None:  # stored once the signature is accepted, not before
        await request.app.state.store.put_bytes_async(body.image_png)
    announce(request, background, agreement)
    return await agreement_out(session, request, AgreementAccess(agreement, access.case, principal))


async def _signer(
    session: SessionDep, request: Request, access: AgreementAccess
) -> tuple[signing.Signer, dict[str, Any]]:
    """Who signs, and how they were identified: the join link they came in by and the
    consent ledger (a party), or the staff login (the mediator). Never the token itself."""
    principal = access.principal
    if isinstance(principal, PartyPrincipal):
        formalities: dict[str, Any] = {}
        for source in request.app.state.signing_evidence:
            formalities.update(await source(session, access.case, principal.party))
        evidence = {
            "via": "join_link",
            "invitation_id": principal.auth_session.invitation_id,
            "session_started": principal.auth_session.created_at.isoformat(),
            "formalities": formalities,
        }
        return signing.Signer(principal.party.name, party_id=principal.party.id), evidence
    evidence = {
        "via": "staff_login",
        "session_started": principal.auth_session.created_at.isoformat(),
    }
    return signing.Signer(principal.user.name, user_id=principal.user.id), evidence
