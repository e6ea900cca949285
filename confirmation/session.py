"""The judge's joint session: a room of kind ``confirmation`` opened by the claiming judge
through rooms' own service (its lobby, recording and reconnection are the rooms'), the
session record started for it, and a fresh join link for every party.

A second opening while the case's confirmation room is live returns that room (and fresh
links, since the earlier ones were shown once; those of them nobody opened are revoked):
the parties' links lead into one room.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from confirmation import decisions, record
from confirmation import service as confirmation_service
from confirmation.models import Application, ApplicationStatus, SessionRecord
from confirmation.session_schemas import ChecklistItemOut, RecordConfirmationOut, SessionOut
from rooms import service as rooms_service
from rooms.models import Room, RoomKind
from service import audit, invitations
from service.errors import InvalidTransition
from service.i18n import gettext
from service.models import AuthSession, Case, Invitation, Party, User


@dataclass
class Opened:
    room: Room
    created: bool
    record: SessionRecord
    links: list[tuple[Party, Invitation, str]]  # the token is shown once, never logged


async def open_session(
    session: AsyncSession,
    *,
    application_id: int,
    case: Case,
    judge: User,
    actor: audit.Actor,
    valid_for: timedelta,
) -> Opened:
    application = await confirmation_service.locked(session, application_id)
    decisions.refuse_unless_holder(application, judge)
    if application.status != ApplicationStatus.claimed:
        raise InvalidTransition(
            "The application is {state_label}: no session can be held now.",
            state_label=confirmation_service.STATUS_LABELS[ApplicationStatus(application.status)],
        )
    room = await rooms_service.live_room(session, case_id=case.id or 0, kind=RoomKind.confirmation)
    created = room is None
    if room is None:
        room = await rooms_service.create_room(
            session,
            case=case,
            kind=RoomKind.confirmation,
            auto_admit=False,  # the judge admits each party from the lobby
            created_by=judge.id or 0,
            actor=actor,
        )
    kept = await record.start(
        session, application=application, room_id=room.id or 0, judge_id=judge.id or 0
    )
    await _revoke_unopened(session, case=case, judge=judge)
    links = []
    for party in await confirmation_service.parties_of(session, case):
        invitation, token = await invitations.create_invitation(
            session, case=case, party=party, mediator=judge, valid_for=valid_for
        )
        links.append((party, invitation, token))
    if created:
        await audit.record(
            session,
            actor=actor,
            action="confirmation.session_opened",
            case_id=case.id,
            data={"application": application.id, "room_id": room.id},
        )
    return Opened(room, created, kept, links)


async def _revoke_unopened(session: AsyncSession, *, case: Case, judge: User) -> None:
    """Fresh links replace the judge's earlier ones that nobody opened: a link is a
    credential, and one shown and then superseded should not stay valid for days. A link
    already opened stays: its party may be in the session now."""
    opened = select(AuthSession.id).where(col(AuthSession.invitation_id) == col(Invitation.id))
    earlier = await session.exec(
        select(Invitation.id)
        .where(col(Invitation.case_id) == case.id)
        .where(col(Invitation.created_by) == judge.id)
        .where(col(Invitation.revoked_at).is_(None))
        .where(~opened.exists())
    )
    for invitation_id in earlier.all():
        await invitations.revoke_invitation(
            session, case=case, invitation_id=invitation_id or 0, mediator=judge
        )


async def session_out(
    session: AsyncSession, application: Application, language: str
) -> SessionOut | None:
    """The current session record as GET /api/confirmations/{id} shows it."""
    kept = await record.current(session, application.id or 0)
    if kept is None:
        return None
    return SessionOut(
        room_id=kept.room_id,
        judge_id=kept.judge_id,
        items=[
            ChecklistItemOut(code=code, label=gettext(language, label))
            for code, label in record.ITEMS.items()
        ],
        checklist=json.loads(kept.checklist or "{}"),
        notes=kept.notes,
        notes_sha256=kept.notes_sha256,
        updated_at=kept.updated_at,
        confirmations=[
            RecordConfirmationOut(
                party_id=c.party_id,
                notes_sha256=c.notes_sha256,
                at=c.at,
                current=c.notes_sha256 == kept.notes_sha256,
            )
            for c in await record.confirmations(session, kept)
        ],
    )
