"""The judge's joint session over HTTP: open it (a confirmation room and the parties'
links), write the record, and each party's confirmation of it. Included by
confirmation/router.py's router; the request's unit of work commits."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response

from confirmation import decisions, record
from confirmation import service as confirmation_service
from confirmation.access import JudgeApplication, PartyApplication
from confirmation.models import ApplicationStatus
from confirmation.session import open_session, session_out
from confirmation.session_schemas import (
    JoinLinkOut,
    RecordConfirmIn,
    RecordIn,
    SessionOpened,
    SessionOut,
)
from rooms.schemas import RoomOut
from service.auth import PartyPrincipal, settings_of
from service.db import SessionDep
from service.errors import Forbidden, InvalidTransition, NotFound

router = APIRouter(tags=["confirmation"])


@router.post(
    "/api/confirmations/{application_id}/session",
    response_model=SessionOpened,
    status_code=201,
    responses={200: {"description": "The session's room was open already: it, fresh links."}},
)
async def open_joint_session(
    access: JudgeApplication, session: SessionDep, request: Request, response: Response
) -> SessionOpened:
    """The claiming judge opens the joint session: a room of kind ``confirmation`` (201),
    or the one already live (200), and a fresh join link for every party (each shown once
    here). Another judge: 403."""
    staff = access.court_staff
    if staff is None:
        raise Forbidden("Only a judge of the court may do this.")
    settings = settings_of(request)
    opened = await open_session(
        session,
        application_id=access.application.id or 0,
        case=access.case,
        judge=staff.user,
        actor=staff.actor,
        valid_for=timedelta(days=settings.auth.invitation_days),
    )
    if not opened.created:
        response.status_code = 200
    base = settings.public_url
    out = await session_out(session, access.application, request.state.language)
    if out is None:  # (open_session has just kept one)
        raise NotFound("No session record.")
    return SessionOpened(
        room=RoomOut.model_validate(
            {**opened.room.model_dump(), "url": f"{base}/rooms/{opened.room.id}"}
        ),
        links=[
            JoinLinkOut(
                party_id=party.id or 0,
                name=party.name,
                role=party.role,
                url=f"{base}/join/{token}",
                expires_at=invitation.expires_at,
            )
            for party, invitation, token in opened.links
        ],
        session=out,
    )


def _refuse_unless_in_session(status: str) -> None:
    if status != ApplicationStatus.claimed:
        raise InvalidTransition(
            "The application is {state_label}: its session record is closed.",
            state_label=confirmation_service.STATUS_LABELS[ApplicationStatus(status)],
        )


@router.put("/api/confirmations/{application_id}/session/record", response_model=SessionOut)
async def write_record(
    body: RecordIn, access: JudgeApplication, session: SessionDep, request: Request
) -> SessionOut:
    """The claiming judge's checklist per party and notes (询问笔录). Changing the notes
    changes their SHA-256: the parties confirm again."""
    staff = access.court_staff
    if staff is None:
        raise Forbidden("Only a judge of the court may do this.")
    application = await confirmation_service.locked(session, access.application.id or 0)
    decisions.refuse_unless_holder(application, staff.user)
    _refuse_unless_in_session(application.status)
    await record.save(
        session,
        application=application,
        case=access.case,
        checklist={k: v.model_dump() for k, v in body.checklist.items()},
        notes=body.notes,
        actor=staff.actor,
    )
    out = await session_out(session, application, request.state.language)
    if out is None:
        raise NotFound("No session record.")
    return out


@router.post(
    "/api/confirmations/{application_id}/session/record/confirm", response_model=SessionOut
)
async def confirm_record(
    body: RecordConfirmIn, access: PartyApplication, session: SessionDep, request: Request
) -> SessionOut:
    """A party confirms the record as read: ``notes_sha256`` is the hash shown with the
    notes they read (409 if the judge has changed them since)."""
    principal = access.principal
    if not isinstance(principal, PartyPrincipal):
        raise Forbidden("Only a party of the case may do this.")
    application = await confirmation_service.locked(session, access.application.id or 0)
    _refuse_unless_in_session(application.status)
    await record.confirm(
        session,
        application=application,
        party=principal.party,
        notes_sha256=body.notes_sha256,
        actor=principal.actor,
    )
    out = await session_out(session, application, request.state.language)
    if out is None:
        raise NotFound("No session record.")
    return out
