"""The rooms' part of the case pages: the video rooms and the consent ledger."""

from __future__ import annotations

from datetime import datetime

from fastapi import Request
from markupsafe import Markup
from sqlmodel.ext.asyncio.session import AsyncSession

from rooms import service as rooms_service
from rooms.models import ConsentKind, Room, RoomKind, RoomStatus
from service import cases
from service.clock import now
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


ROOM_STATUS_LABELS = {
    RoomStatus.scheduled: N_("Not started"),
    RoomStatus.open: N_("In progress"),
    RoomStatus.closed: N_("Ended"),
}
ROOM_KIND_LABELS = {
    RoomKind.mediation: N_("Mediation meeting"),
    RoomKind.confirmation: N_("Judicial confirmation session"),
}

# "<action>/<state>": the state the event moved the room to (service/history.py).
ACTION_LABELS = {
    "room.created": N_("Video room opened"),
    "room.status_changed": N_("Video room status changed"),
    "room.scheduled": N_("Video meeting time set"),  # rooms/schedule.py
    **{f"room.status_changed/{s.value}": label for s, label in ROOM_STATUS_LABELS.items()},
    **{f"consent.{kind.value}": label for kind, label in CONSENT_LABELS.items()},
}


async def case_section(
    request: Request, session: AsyncSession, case: Case, viewer: CaseViewer
) -> Markup | None:
    rooms = await rooms_service.rooms_of_case(session, case_id=case.id or 0)
    # The meeting of the case, scheduled or open (at most one: rooms_service.create_room);
    # while there is one, the page leads into it rather than offering to open another.
    live = next((r for r in reversed(rooms) if meeting(r)), None)
    if viewer.audience == Audience.party:
        return fragment(
            request,
            "rooms/party_rooms.html",
            room=live,
            next_at=next_session(live) if live else None,
            had_rooms=bool(rooms),
        )
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
        room_status_labels=ROOM_STATUS_LABELS,
        live=live,
        next_at=next_session(live) if live else None,
        can_open=live is None and not cases.is_ended(case),
        # A case whose meetings have all ended: the next one is a new session.
        new_session=any(r.kind == RoomKind.mediation for r in rooms),
    )


def meeting(room: Room) -> bool:
    """Whether ``room`` is the case's mediation meeting, scheduled or on."""
    return room.kind == RoomKind.mediation and room.status in rooms_service.LIVE


def next_session(room: Room) -> datetime | None:
    """When a meeting not yet started is set for, while that time is ahead."""
    # The time is set with the room (rooms/schedule.py, migration 0005); a room without one
    # starts when its host joins.
    when: datetime | None = getattr(room, "scheduled_for", None)
    if room.status == RoomStatus.scheduled and when is not None and when > now():
        return when
    return None


async def party_landing(session: AsyncSession, party: Party) -> str | None:
    """A join link opened while the meeting is on leads straight into the room: the person
    should not have to find a second button on the way (and every page costs an elderly
    party on a slow phone a second or more)."""
    rooms = await rooms_service.rooms_of_case(session, case_id=party.case_id)
    live = [r for r in rooms if r.status == RoomStatus.open]
    # Otherwise the case page, which says when the next meeting is, if one is set.
    return f"/rooms/{live[-1].id}" if live else None
