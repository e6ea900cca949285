"""Sending an agreement out for signing, signatures bound to the exact text, and the
agreement taking effect.

A signer names the version and the hash of the text they read; anything else is 409, so a
signature can never land on a text its signer did not see. Each party signs once; the
mediator signs last, which seals the agreement: the sealed PDF is issued, the agreement is
``effective`` and frozen, and the case moves to ``agreed``, all in the request's one
transaction (a failure anywhere leaves no signature, no document and no state change).
"""

from __future__ import annotations

import io
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PIL import Image, ImageChops, UnidentifiedImageError
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from agreements import check
from agreements.models import Agreement, AgreementStatus, AgreementVersion, Signature, SignMethod
from agreements.service import (
    STATUS_LABELS,
    findings,
    locked,
    read,
    signatures_of,
    today,
    transition,
    version_of,
)
from service import audit, cases
from service.cases import Via
from service.clock import now
from service.errors import Conflict, Forbidden, Invalid, InvalidTransition
from service.models import Case, CaseStatus

MAX_PNG_BYTES = 200 * 1024
MAX_PNG_SIDE = 2000

# Issues the sealed PDF of the version as signed; returns its SHA-256 (the router gives the
# one that renders in the worker pool, seals and stores).
Issue = Callable[[Agreement, AgreementVersion, list[Signature], datetime], Awaitable[str]]


@dataclass(frozen=True)
class Signer:
    """Who signs: a party of the case, or the case's mediator."""

    name: str
    party_id: int | None = None
    user_id: int | None = None


def check_png(data: bytes) -> None:
    """A drawn signature is a PNG, bounded in bytes and in pixels, that decodes whole and
    shows a mark (422 otherwise). The size is read from the header before anything is
    decoded; decoding is CPU work: call this off the event loop."""
    if len(data) > MAX_PNG_BYTES:
        raise Invalid(
            "The signature image is larger than {limit} KB.",
            field="image_png",
            limit=MAX_PNG_BYTES // 1024,
        )
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            width, height = image.size
            if width > MAX_PNG_SIDE or height > MAX_PNG_SIDE or width < 1 or height < 1:
                raise Invalid(
                    "The signature image is {width}x{height} pixels; at most {limit} a side.",
                    field="image_png",
                    width=width,
                    height=height,
                    limit=MAX_PNG_SIDE,
                )
            image.load()  # the whole picture: a corrupt one would print as nothing
            # Some ink: a pixel that is neither transparent nor near white.
            level, alpha = image.convert("LA").split()
            ink = Image.eval(level, lambda v: 255 if v < 200 else 0)
            if not ImageChops.multiply(ink, alpha).getbbox():
                raise Invalid("The signature image is empty: sign in the box.", field="image_png")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise Invalid("The signature image is not a PNG picture.", field="image_png") from None


async def send_for_signing(
    session: AsyncSession, *, agreement_id: int, case: Case, actor: audit.Actor
) -> Agreement:
    """Freeze the latest version for signing: the check must find no error, and the case
    must be in mediation (an effective agreement moves it to ``agreed``)."""
    agreement = await locked(session, agreement_id)
    if case.status != CaseStatus.mediating:
        raise InvalidTransition(
            "The case is {state_label}: start the mediation before the agreement is signed.",
            state_label=cases.STATUS_LABELS[CaseStatus(case.status)],
        )
    version = await version_of(session, agreement, agreement.latest_version)
    errors = check.blocking(findings(version, on=today()))
    if errors:
        raise Conflict(
            "The agreement is not ready to sign: {count} problems are listed in its check.",
            count=len(errors),
        )
    agreement.signing_version = version.number
    return await transition(
        session,
        agreement=agreement,
        to=AgreementStatus.signing,
        actor=actor,
        data={"version": version.number, "sha256": version.content_sha256},
    )


async def sign(
    session: AsyncSession,
    *,
    agreement_id: int,
    case: Case,
    signer: Signer,
    version: int,
    content_sha256: str,
    method: SignMethod,
    image_sha256: str | None,
    typed_name: str | None,
    address: str,
    user_agent: str,
    evidence: dict[str, Any],
    actor: audit.Actor,
    issue: Issue,
) -> tuple[Agreement, Signature]:
    """Record one signature on the version out for signing. The mediator's, given once
    every party has signed, makes the agreement effective."""
    if signer.user_id is not None and signer.user_id != case.mediator_id:
        raise Forbidden("Only the case's mediator signs the agreement for the committee.")
    agreement = await locked(session, agreement_id)
    status = AgreementStatus(agreement.status)
    if status != AgreementStatus.signing or agreement.signing_version is None:
        raise InvalidTransition(
            "The agreement is {state_label}: there is nothing to sign.",
            state_label=STATUS_LABELS[status],
        )
    if case.status != CaseStatus.mediating:
        raise InvalidTransition(
            "The case is {state_label}: the agreement can no longer be signed.",
            state_label=cases.STATUS_LABELS[CaseStatus(case.status)],
        )
    current = await version_of(session, agreement, agreement.signing_version)
    if version != current.number:
        raise Conflict(
            "Version {version} is not the one out for signing: version {current} is. "
            "Read it, then sign it.",
            version=version,
            current=current.number,
        )
    if content_sha256 != current.content_sha256:
        raise Conflict(
            "The text you read is not version {current} as it is out for signing. Reload "
            "it, read it, then sign.",
            current=current.number,
        )
    # The signers are the parties the version names (the text they read), not the case's
    # parties as they are now.
    _, parties, _ = read(current)
    if signer.party_id is not None and signer.party_id not in {p.id for p in parties}:
        raise Forbidden("You are not named in this agreement, so you do not sign it.")
    if typed_name is not None and " ".join(typed_name.split()) != " ".join(signer.name.split()):
        raise Invalid(
            "A typed signature is your own name as the case records it: {name}.",
            field="typed_name",
            name=signer.name,
        )
    signed = await signatures_of(session, agreement)
    if any(
        (signer.party_id is not None and s.party_id == signer.party_id)
        or (signer.user_id is not None and s.user_id == signer.user_id)
        for s in signed
    ):
        raise Conflict("You have already signed version {current}.", current=current.number)
    if signer.user_id is not None:
        missing = [p.name for p in parties if p.id not in {s.party_id for s in signed}]
        if missing:
            raise Conflict(
                "The mediator signs last: {names} still to sign.", names="、".join(missing)
            )
        # Signing may take days: the terms must still hold on the day it takes effect.
        if check.blocking(findings(current, on=today())):
            raise Conflict(
                "A date in the agreement has passed or a term is incomplete: edit the "
                "agreement and send it for signing again."
            )
    at = now()
    signature = Signature(
        agreement_id=agreement.id or 0,
        version_id=current.id or 0,
        version=current.number,
        content_sha256=current.content_sha256,
        party_id=signer.party_id,
        user_id=signer.user_id,
        signer_name=signer.name,
        method=method,
        image_sha256=image_sha256,
        typed_name=typed_name,
        signed_at=at,
        address=address[:64],
        user_agent=user_agent[:300],
        evidence=json.dumps(evidence, ensure_ascii=False, sort_keys=True),
    )
    try:
        async with session.begin_nested():
            session.add(signature)
            await session.flush()
    except IntegrityError:  # the same signer, at the same moment, on another device
        raise Conflict(
            "You have already signed version {current}.", current=current.number
        ) from None
    await audit.record(
        session,
        actor=actor,
        action="agreement.signed",
        case_id=case.id,
        data={
            "agreement": agreement.id,
            "version": current.number,
            "sha256": current.content_sha256,
            "signature": signature.id,
            "method": method,
        },
    )
    if signer.user_id is not None:
        await _take_effect(
            session, agreement, current, case, [*signed, signature], at, actor, issue
        )
    return agreement, signature


async def _take_effect(
    session: AsyncSession,
    agreement: Agreement,
    version: AgreementVersion,
    case: Case,
    signatures: list[Signature],
    at: datetime,
    actor: audit.Actor,
    issue: Issue,
) -> None:
    """Seal and issue the document, freeze the agreement, move the case to ``agreed``.
    The effective time starts the 30 days for applying for confirmation."""
    sha256 = await issue(agreement, version, signatures, at)
    agreement.effective_at = at
    agreement.document_sha256 = sha256
    await transition(
        session,
        agreement=agreement,
        to=AgreementStatus.effective,
        actor=actor,
        data={"version": version.number, "sha256": version.content_sha256, "document": sha256},
    )
    await cases.transition(session, case=case, to=CaseStatus.agreed, via=Via.agreement, actor=actor)
