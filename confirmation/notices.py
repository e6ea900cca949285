"""What each party of a case is told about its application for confirmation, through the
app's notifier (service/notify.py: in-app always, and the configured channels): when it is
queued, when the court accepts it or refuses to (with its reason), when the judge asks for a
supplement (by when, and that missing it counts as withdrawal), when the judge's session is
set (with an .ics), when the ruling is issued, and when the application is withdrawn (by a
party, or the supplement's deadline missed). Built in the request, sent after its commit (a
background task)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from fastapi import BackgroundTasks, Request
from markupsafe import Markup
from sqlmodel.ext.asyncio.session import AsyncSession

from confirmation import decisions
from confirmation.models import Application, ApplicationStatus
from confirmation.service import parties_of
from rooms.calendar import meeting_ics
from service import inbox, pages
from service.clock import now
from service.domain import Audience, CaseViewer
from service.i18n import N_, gettext
from service.models import Case, Organisation, Party
from service.notify import Attachment, Notice, Recipient, notifier_of
from service.pages import local_time

QUEUED = N_(
    "Case {number}: every party has joined the application for judicial confirmation; it is"
    " in the queue of {court}."
)
ACCEPTED = N_(
    "Case {number}: {court} accepted the application for judicial confirmation as {court_number}."
)
SESSION_SET = N_(
    "Case {number}: the judge's video session is set for {time}. Open your case page a few"
    " minutes before, with your ID card at hand."
)
RULING = N_(
    "Case {number}: {court} has issued its ruling on the application for judicial"
    " confirmation ({outcome}). It is on your case page."
)
NOT_ACCEPTED = N_(
    "Case {number}: {court} did not accept the application for judicial confirmation. The"
    " court's reason: {reason}"
)
SUPPLEMENT = N_(
    "Case {number}: the judge asks for a supplement to the application for judicial"
    " confirmation; what to hand in is on your case page. Hand it in there by {due} (Beijing"
    " time): if it is not in by then, the application counts as withdrawn."
)
WITHDRAWN = N_(
    "Case {number}: {party} withdrew the application for judicial confirmation to {court}. The"
    " court will not decide on it."
)
LAPSED = N_(
    "Case {number}: the supplement the judge asked for was not handed in by {due} (Beijing"
    " time), so the application for judicial confirmation counts as withdrawn."
)
OUTCOMES = {
    ApplicationStatus.confirmed: N_("the agreement is confirmed"),
    ApplicationStatus.rejected: N_("the application is rejected"),
}


async def _notices(
    request: Request,
    session: AsyncSession,
    case: Case,
    *,
    topic: str,
    message: str,
    params: Mapping[str, str | int],
    attachments: tuple[Attachment, ...] = (),
) -> list[Notice]:
    base = request.app.state.settings.public_url
    return [
        Notice(
            recipient=Recipient("party", p.id or 0, p.name, phone=p.phone),
            topic=topic,
            case_number=case.number,
            message=message,
            params={"number": case.number, **params},
            url=f"{base}/my-case",
            attachments=attachments,
        )
        for p in await parties_of(session, case)
    ]


def _send(request: Request, background: BackgroundTasks, notices: list[Notice]) -> None:
    if notices:
        background.add_task(notifier_of(request.app).notify, notices)  # after the commit


async def _court(session: AsyncSession, application: Application) -> str:
    court = await session.get(Organisation, application.court_id)
    return court.name if court else ""


async def after_move(
    request: Request,
    background: BackgroundTasks,
    session: AsyncSession,
    application: Application,
    case: Case,
    *,
    withdrawn_by: Party | None = None,
) -> None:
    """Tell the parties of the state the application has just reached, if it is news.
    ``withdrawn_by``: the party who withdrew it; without one, a withdrawal is the other kind
    there is, a supplement's deadline missed (service.expire_supplement)."""
    status = ApplicationStatus(application.status)
    court = await _court(session, application)
    params: dict[str, str | int]
    if status == ApplicationStatus.queued:
        topic, message, params = "confirmation.queued", QUEUED, {"court": court}
    elif status == ApplicationStatus.accepted:
        topic, message = "confirmation.accepted", ACCEPTED
        params = {"court": court, "court_number": application.number or ""}
    elif status == ApplicationStatus.not_accepted:
        topic, message = "confirmation.not_accepted", NOT_ACCEPTED
        params = {"court": court, "reason": application.refusal_reason or ""}
    elif status == ApplicationStatus.supplement_requested and application.supplement_due:
        topic, message = "confirmation.supplement", SUPPLEMENT
        params = {"due": local_time(application.supplement_due)}
    elif status == ApplicationStatus.withdrawn and withdrawn_by is not None:
        topic, message = "confirmation.withdrawn", WITHDRAWN
        params = {"court": court, "party": withdrawn_by.name}
    elif status == ApplicationStatus.withdrawn and application.supplement_due is not None:
        topic, message = "confirmation.withdrawn", LAPSED
        params = {"due": local_time(application.supplement_due)}
    elif status in OUTCOMES:
        topic, message = "confirmation.ruling", RULING
        params = {"court": court, "outcome": gettext("zh_Hans", OUTCOMES[status])}
    else:
        return
    _send(
        request,
        background,
        await _notices(request, session, case, topic=topic, message=message, params=params),
    )


async def expire_supplement(
    request: Request,
    background: BackgroundTasks,
    session: AsyncSession,
    application: Application,
    case: Case,
) -> None:
    """Whoever looks first after a supplement's deadline records the withdrawal
    (service.expire_supplement), and the parties are told, once."""
    if await decisions.expire_supplement(session, application):
        await after_move(request, background, session, application, case)


async def notices_section(
    request: Request, session: AsyncSession, case: Case, viewer: CaseViewer
) -> Markup | None:
    """The party's case page lists what they were told (the in-app channel's rows), newest
    first, in their language; nothing for staff, nor before there is anything."""
    if viewer.audience != Audience.party or viewer.party is None:
        return None
    rows = await inbox.notices_of(session, party_id=viewer.party.id or 0)
    if not rows:
        return None
    language = request.state.language
    items = [(local_time(n.at), gettext(language, n.message, **n.params_dict())) for n in rows]
    return pages.fragment(request, "confirmation/notices.html", items=items)


async def session_set(
    request: Request,
    background: BackgroundTasks,
    session: AsyncSession,
    case: Case,
    *,
    room_id: int,
    starts: datetime,
    sequence: int = 0,
) -> None:
    """The judge set the joint session's time: each party is told, with a calendar entry."""
    settings = request.app.state.settings
    ics = meeting_ics(
        room_id=room_id,
        case_number=case.number,
        starts=starts,
        sequence=sequence,
        page_url=f"{settings.public_url}/my-case",
        public_url=settings.public_url,
        stamp=now(),
        language="zh_Hans",
    )
    _send(
        request,
        background,
        await _notices(
            request,
            session,
            case,
            topic="confirmation.session",
            message=SESSION_SET,
            params={"time": local_time(starts)},
            attachments=(Attachment("session.ics", "text/calendar", ics),),
        ),
    )
