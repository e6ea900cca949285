"""The rooms' part of the case pages: the video rooms and the consent ledger."""

from __future__ import annotations

from fastapi import Request
from markupsafe import Markup
from sqlmodel.ext.asyncio.session import AsyncSession

from rooms import service as rooms_service
from rooms.models import ConsentKind, RoomStatus
from service import cases
from service.domain import Audience, CaseViewer
from service.i18n import N_
from service.models import Case, Party
from service.pages import fragment

CONSENT_LABELS = {
    ConsentKind.online_mediation: N_("Consent to online mediation"),
    ConsentKind.recording: N_("Consent to recording"),
    ConsentKind.identity_verified: N_("Identity checked against the ID document"),
    ConsentKind.sham_warning: N_("Warning about sham mediation read"),
}


ACTION_LABELS = {
    "room.created": N_("Video room opened"),
    "room.status_changed": N_("Video room status changed"),
    **{f"consent.{kind.value}": label for kind, label in CONSENT_LABELS.items()},
}


async def case_section(
    request: Request, session: AsyncSession, case: Case, viewer: CaseViewer
) -> Markup | None:
    rooms = await rooms_service.rooms_of_case(session, case_id=case.id or 0)
    if viewer.audience == Audience.party:
        waiting = [r for r in rooms if r.status != RoomStatus.closed]
        return fragment(request, "rooms/party_rooms.html", room=waiting[-1] if waiting else None)
    if viewer.audience != Audience.staff:
        return None  # judges see rooms through the confirmation domain's section
    ledger = await rooms_service.consents_of_case(session, case_id=case.id or 0)
    recordings = {
        room.id: await rooms_service.recordings_of_room(session, room_id=room.id or 0)
        for room in rooms
    }
    names = {p.id: p.name for p in (await cases.parties_of(session, [case.id or 0]))[case.id or 0]}
    return fragment(
        request,
        "rooms/case_rooms.html",
        case=case,
        rooms=rooms,
        recordings=recordings,
        ledger=ledger,
        names=names,
        consent_labels=CONSENT_LABELS,
        can_open=not cases.is_ended(case),
    )


async def party_landing(session: AsyncSession, party: Party) -> str | None:
    """A join link opened while the meeting is on leads straight into the room: the person
    should not have to find a second button on the way (and every page costs an elderly
    party on a slow phone a second or more)."""
    rooms = await rooms_service.rooms_of_case(session, case_id=party.case_id)
    live = [r for r in rooms if r.status == RoomStatus.open]
    return f"/rooms/{live[-1].id}" if live else None
