"""Rooms over HTTP: create, list, schedule, record, close, the room page, the meeting's
calendar file; and the signalling socket (rooms/socket.py), included here so that the app
mounts one router."""

from __future__ import annotations

import logging

from fastapi import APIRouter, BackgroundTasks, Request, Response
from fastapi.responses import FileResponse, HTMLResponse

from rooms import recorders, reminders, schedule, standby
from rooms import service as rooms_service
from rooms.access import HostedRoom, ReadableRoom, RoomRecordings, ViewableRoom
from rooms.calendar import meeting_ics
from rooms.journal import release
from rooms.models import Room, RoomStatus
from rooms.schemas import (
    ConsentOut,
    GapOut,
    RecordingIn,
    RecordingOut,
    RecordingState,
    RoomIn,
    RoomOut,
    ScheduleIn,
    SegmentOut,
)
from rooms.sfu import registry_of
from rooms.socket import router as socket_router
from rooms.strings import ROOM_SCRIPT_STRINGS
from service import pages
from service.auth import (
    CurrentMediator,
    MediatorCase,
    PathId,
    ReadableCase,
    settings_of,
)
from service.clock import now
from service.db import SessionDep
from service.errors import Conflict, NotFound

log = logging.getLogger("mediation.rooms.http")
router = APIRouter(tags=["rooms"])
router.include_router(socket_router)


def room_out(room: Room, base_url: str) -> RoomOut:
    return RoomOut.model_validate({**room.model_dump(), "url": f"{base_url}/rooms/{room.id}"})


# -- REST -----------------------------------------------------------------------------------


@router.post("/api/cases/{case_id}/rooms", response_model=RoomOut, status_code=201)
async def create_room(
    body: RoomIn,
    case: MediatorCase,
    mediator: CurrentMediator,
    session: SessionDep,
    request: Request,
    background: BackgroundTasks,
) -> RoomOut:
    """``scheduled_for``: when the meeting is set for (422 if past, or more than a year
    ahead); everyone of the case is told, and reminded before it."""
    if body.scheduled_for is not None:
        schedule.check_time(body.scheduled_for)  # refused before anything is written
    room = await rooms_service.create_room(
        session,
        case=case,
        kind=body.kind,
        auto_admit=body.auto_admit,
        created_by=mediator.user.id or 0,
        actor=mediator.actor,
    )
    if body.scheduled_for is not None:
        room = await schedule.set_time(
            session, room=room, when=body.scheduled_for, actor=mediator.actor
        )
        background.add_task(reminders.wake, request.app)  # runs after the commit
    return room_out(room, settings_of(request).public_url)


@router.put("/api/rooms/{room_id}/schedule", response_model=RoomOut)
async def schedule_room(
    body: ScheduleIn,
    access: HostedRoom,
    session: SessionDep,
    request: Request,
    background: BackgroundTasks,
) -> RoomOut:
    """Set or move the meeting's time while the room has not opened (409 once it has, or
    once it has closed; 422 for a time past or more than a year ahead). Everyone of the
    case is told of the new time, and reminded before it."""
    room = await schedule.set_time(
        session, room=access.room, when=body.scheduled_for, actor=access.identity.actor
    )
    background.add_task(reminders.wake, request.app)
    return room_out(room, settings_of(request).public_url)


@router.get(
    "/api/rooms/{room_id}/calendar.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}},
)
async def room_calendar(access: ViewableRoom, session: SessionDep, request: Request) -> Response:
    """The meeting as a calendar entry (iCalendar), for a party of the case or its host:
    404 while the room has no time, 409 once it has opened or closed. It carries no
    credential: its link is the person's own case page."""
    room, case = access.room, access.case
    if room.scheduled_for is None:
        raise NotFound("This meeting has no time set.")
    schedule.refuse_unless_ahead(room)
    base = settings_of(request).public_url
    page = f"{base}/my-case" if access.identity.party_id is not None else f"{base}/cases/{case.id}"
    body = meeting_ics(
        room_id=room.id or 0,
        case_number=case.number,
        starts=room.scheduled_for,
        sequence=max(0, await schedule.times_set(session, room_id=room.id or 0) - 1),
        page_url=page,
        public_url=base,
        stamp=now(),
        language=request.state.language,
    )
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="meeting-{room.id}.ics"'},
    )


@router.get("/api/cases/{case_id}/rooms", response_model=list[RoomOut])
async def list_rooms(case: ReadableCase, session: SessionDep, request: Request) -> list[RoomOut]:
    rooms = await rooms_service.rooms_of_case(session, case_id=case.id or 0)
    return [room_out(r, settings_of(request).public_url) for r in rooms]


@router.get("/api/cases/{case_id}/consents", response_model=list[ConsentOut])
async def list_consents(case: MediatorCase, session: SessionDep) -> list[ConsentOut]:
    """The consent ledger of a case: the opening formalities, as they were recorded."""
    rows = await rooms_service.consents_of_case(session, case_id=case.id or 0)
    return [ConsentOut.model_validate(c.model_dump()) for c in rows]


@router.get("/api/rooms/{room_id}", response_model=RoomOut)
async def get_room(access: ReadableRoom, request: Request) -> RoomOut:
    return room_out(access.room, settings_of(request).public_url)


@router.post("/api/rooms/{room_id}/recording", response_model=RecordingState)
async def recording(
    body: RecordingIn, access: HostedRoom, session: SessionDep, request: Request
) -> RecordingState:
    live = registry_of(request.app).get(access.room.id or 0)
    if live is None or live.closed:
        if body.action == "stop":
            return RecordingState(on=False)
        raise Conflict("Nobody is in this room; open it first.")
    # The room's writes (the recordings' rows, the event) are this request's, committed
    # with it; its reads end first, as the room awaits media work (see release).
    await release(session)
    on = body.action == "start"
    await recorders.set_recording(live, on, access.identity.actor, target=session)
    return RecordingState(on=live.recording)


@router.get("/api/rooms/{room_id}/recordings", response_model=list[RecordingOut])
async def recordings(access: RoomRecordings, session: SessionDep) -> list[RecordingOut]:
    room_id = access.room.id or 0
    out = []
    for rec, segments, gaps in await rooms_service.recordings_of_room(session, room_id=room_id):
        out.append(
            RecordingOut(
                id=rec.id,
                participant=rec.participant,
                participant_name=rec.participant_name,
                started_at=rec.started_at,
                stopped_at=rec.stopped_at,
                duration=round(sum(s.duration for s in segments), 3),
                segments=[
                    SegmentOut(
                        seq=s.seq,
                        sha256=s.sha256,
                        size=s.size,
                        duration=s.duration,
                        media_type=s.media_type,
                        url=f"/api/rooms/{room_id}/recordings/{rec.id}/segments/{s.seq}",
                    )
                    for s in segments
                ],
                gaps=[GapOut.model_validate(g._asdict()) for g in gaps],
            )
        )
    return out


@router.get(
    "/api/rooms/{room_id}/recordings/{recording_id}/segments/{seq}",
    response_class=FileResponse,
    responses={200: {"content": {"video/webm": {}}}},
)
async def segment_file(
    recording_id: PathId, seq: PathId, access: RoomRecordings, session: SessionDep, request: Request
) -> Response:
    segment = await rooms_service.segment_of(
        session, room_id=access.room.id or 0, recording_id=recording_id, seq=seq
    )
    path = request.app.state.store.path_for(segment.sha256)
    if not path.exists():
        raise NotFound("No such recording.")
    return FileResponse(path, media_type=segment.media_type)


@router.post("/api/rooms/{room_id}/close", response_model=RoomOut)
async def close_room(access: HostedRoom, session: SessionDep, request: Request) -> RoomOut:
    """Everyone is told and every peer and recorder ends; the room's last writes (the
    recordings' ends) and its closing are this request's one transaction."""
    room_id = access.room.id or 0
    await release(session)
    await registry_of(request.app).close(room_id, "closed", target=session)
    room = await rooms_service.close_room(
        session,
        room_id=room_id,
        actor=access.identity.actor,
        reason="host",
        participant=access.identity.participant_id,
    )
    return room_out(room, settings_of(request).public_url)


# -- the page ------------------------------------------------------------------------------


@router.get("/rooms/{room_id}", response_class=HTMLResponse, include_in_schema=False)
async def room_page(access: ViewableRoom, request: Request, session: SessionDep) -> Response:
    room, case, identity = access.room, access.case, access.identity
    consents = {"online": False, "recording": False}
    if identity.party_id is not None:
        latest = await rooms_service.latest_consents(session, room_id=room.id or 0)
        consents = {
            "online": latest.get((identity.party_id, "online_mediation"), False),
            "recording": latest.get((identity.party_id, "recording"), False),
        }
    me = {
        "participant_id": identity.participant_id,
        "role": identity.role,
        "name": identity.name,
        "is_host": identity.is_host,
        "is_party": identity.party_id is not None,
        "consents": consents,
    }
    ice_servers = settings_of(request).rtc.ice_servers
    # The room kind's heading (a confirmation room: the court), read before the release.
    rule = registry_of(request.app).services.host_rules.get(room.kind)
    heading = await rule.heading(session, room, case) if rule and rule.heading else None
    # The standby connection's offer comes with the page, so that the browser answers it
    # while the page loads (see standby.prepare). It is made under the room's lock, so the
    # page's reads end first (release): a room operation holding that lock may be waiting to
    # commit, and on SQLite this request's transaction holds the one writer's lock; each
    # waited for the other until SQLite's busy timeout, 30 s (bench/stall.py).
    prepared = None
    if room.status != RoomStatus.closed:
        await release(session)
        prepared = await standby.prepare(registry_of(request.app).get_or_create(room), identity)
    return pages.render(
        request,
        "rooms/room.html",
        script_strings=[*ROOM_SCRIPT_STRINGS, *pages.slot_strings(request, "room")],
        page_modules=request.app.state.page_modules.get("room", ()),
        room=room,
        case=case,
        me=me,
        ws_path=f"/api/rooms/{room.id}/signal",
        ice_servers=ice_servers,
        prepared={**prepared, "ice_servers": ice_servers} if prepared else None,
        starts_at=schedule.upcoming(room),
        heading=heading,
    )
