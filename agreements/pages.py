"""The agreements' pages: the mediator's editor and the party's signing page; and the
domain's hooks into service/'s pages: its part of the case pages, and where a party's join
link leads while an agreement waits for their signature.

Pages only read. Every change (start, save, send for signing, sign) goes through the JSON
API (agreements/router.py, signing_router.py) from the pages' modules, static/js/agreement/*.js.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup
from sqlmodel.ext.asyncio.session import AsyncSession

from agreements import catalog
from agreements import service as agreements_service
from agreements.access import AgreementAccess, agreement_access
from agreements.models import Agreement, AgreementStatus
from agreements.service import STATUS_LABELS
from agreements.views import agreement_out
from service import cases, pages
from service.auth import CurrentMediator, MediatorCase, OptionalPrincipal, PathId
from service.db import SessionDep
from service.domain import Audience, CaseViewer
from service.errors import NoPartySession
from service.i18n import gettext
from service.models import Case, CaseStatus, Party

pages_router = APIRouter(include_in_schema=False)

EDITOR = "agreements/agreements/editor.html"
SIGN = "agreements/agreements/sign.html"


def sign_url(agreement: Agreement) -> str:
    return f"/agreements/{agreement.id}/sign"


@pages_router.get("/cases/{case_id}/agreement", response_class=HTMLResponse)
async def editor_page(
    request: Request, case: MediatorCase, mediator: CurrentMediator, session: SessionDep
) -> Response:
    """The case's agreement for its mediators: start it from a template, edit it, check it,
    compare versions, send it for signing, and (the case's mediator) sign it last."""
    agreement = await agreements_service.live_agreement(session, case.id or 0)
    parties = (await cases.parties_of(session, [case.id or 0]))[case.id or 0]
    out = None
    if agreement is not None:
        access = AgreementAccess(agreement, case, mediator)
        out = (await agreement_out(session, request, access)).model_dump(mode="json")
    language = request.state.language
    templates = [
        {
            "id": t.id,
            "name": gettext(language, t.name),
            "description": gettext(language, t.description),
        }
        for t in catalog.TEMPLATES.values()
    ]
    data: dict[str, Any] = {
        "case_id": case.id,
        "agreement": out,
        "parties": [{"id": p.id, "name": p.name, "role": p.role} for p in parties],
        "mediating": case.status == CaseStatus.mediating,
        # Only the case's own mediator signs for the committee (agreements/signing.py).
        "signs": mediator.user.id == case.mediator_id,
        "mediator_name": mediator.user.name,
        "today": agreements_service.today().isoformat(),
    }
    return pages.render(
        request,
        EDITOR,
        case=case,
        agreement=agreement,
        agreement_labels=STATUS_LABELS,
        templates=templates,
        # The template of the case's kind of dispute is offered first.
        suggested=case.dispute_type if case.dispute_type in catalog.TEMPLATES else None,
        ended=cases.is_ended(case),
        data=data,
    )


async def _reader(
    agreement_id: PathId, principal: OptionalPrincipal, session: SessionDep
) -> AgreementAccess:
    # A party whose session has gone is told how to get back in, as on their case page
    # (not sent to the staff sign-in).
    if principal is None:
        raise NoPartySession("Open the join link your mediator sent you.")
    return await agreement_access(session, principal, agreement_id)


@pages_router.get("/agreements/{agreement_id}/sign", response_class=HTMLResponse)
async def sign_page(
    request: Request,
    access: Annotated[AgreementAccess, Depends(_reader)],
    session: SessionDep,
    changed: Annotated[int | None, Query(ge=1, le=100_000)] = None,
) -> Response:
    """The party reads the version out for signing to its end and signs it on their own
    phone. ``changed``: the version they were reading when a newer one replaced it."""
    if access.party_id is None:  # staff sign on the editor page
        return RedirectResponse(f"/cases/{access.case.id}/agreement", status_code=303)
    out = await agreement_out(session, request, access)
    mine = next((s for s in out.signatures if s.party_id == access.party_id), None)
    status = out.status
    waiting = status == AgreementStatus.signing and any(
        a.party_id == access.party_id for a in out.awaiting
    )
    return pages.render(
        request,
        SIGN,
        case=access.case,
        agreement=out,
        version=out.version,
        me_id=access.party_id,
        # A typed signature is the signer's own name as the agreement gives it.
        my_name=next((p.name for p in out.version.parties if p.id == access.party_id), ""),
        mine=mine,
        waiting=waiting,
        # The sign controls are only for the version out for signing, as it was read.
        can_sign=waiting and mine is None and out.signing_version == out.version.number,
        changed=changed if changed is not None and changed != out.version.number else None,
        agreement_labels=STATUS_LABELS,
    )


# -- the domain's hooks -----------------------------------------------------------------------


async def awaits(session: AsyncSession, agreement: Agreement, party_id: int) -> bool:
    """Whether the agreement is out for signing and this party of it has not signed yet."""
    if agreement.status != AgreementStatus.signing or agreement.signing_version is None:
        return False
    version = await agreements_service.version_of(session, agreement, agreement.signing_version)
    _, parties, _ = agreements_service.read(version)
    if all(p.id != party_id for p in parties):
        return False
    signed = await agreements_service.signatures_of(session, agreement)
    return all(s.party_id != party_id for s in signed)


async def case_section(
    request: Request, session: AsyncSession, case: Case, viewer: CaseViewer
) -> Markup | None:
    """The agreement on the case page: its state and the way to it (the editor for staff;
    for a party, the signing page while it waits for them, the PDF once in effect)."""
    if viewer.audience == Audience.judge:
        return None  # judges see it through the confirmation domain
    agreement = await agreements_service.live_agreement(session, case.id or 0)
    if viewer.audience == Audience.party:
        party = viewer.party
        if agreement is None or party is None:
            return None
        signatures = await agreements_service.signatures_of(session, agreement)
        return pages.fragment(
            request,
            "agreements/agreements/party_section.html",
            agreement=agreement,
            status_label=STATUS_LABELS[AgreementStatus(agreement.status)],
            awaits=await awaits(session, agreement, party.id or 0),
            signed=any(s.party_id == party.id for s in signatures),
            sign_url=sign_url(agreement),
        )
    return pages.fragment(
        request,
        "agreements/agreements/case_section.html",
        case=case,
        agreement=agreement,
        status_label=STATUS_LABELS[AgreementStatus(agreement.status)] if agreement else None,
        can_start=agreement is None and not cases.is_ended(case),
    )


async def party_landing(session: AsyncSession, party: Party) -> str | None:
    """A join link opened while an agreement waits for this party's signature leads to it
    (an open meeting comes first: the rooms domain is asked before this one)."""
    agreement = await agreements_service.live_agreement(session, party.case_id)
    if agreement is not None and await awaits(session, agreement, party.id or 0):
        return sign_url(agreement)
    return None
