"""Rooms over HTTP and WebSocket: create, list, record, close, the room page, signalling."""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request, Response, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, HTMLResponse
from sqlmodel.ext.asyncio.session import AsyncSession

from rooms import service as rooms_service
from rooms import signaling
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
    SegmentOut,
)
from rooms.sfu import Identity, LiveRoom, Participant, RoomRegistry
from rooms.strings import ROOM_SCRIPT_STRINGS
from service import pages
from service.auth import (
    SESSION_COOKIE,
    CurrentMediator,
    CurrentPrincipal,
    MediatorCase,
    OptionalPrincipal,
    PartyPrincipal,
    PathId,
    Principal,
    ViewableCase,
    load_principal,
    settings_of,
)
from service.db import SessionDep, unit_of_work
from service.errors import Conflict, Forbidden, MediationError, NotAuthenticated, NotFound
from service.i18n import gettext, pick_language
from service.models import Case, Role
from service.schemas import MAX_ID

log = logging.getLogger("mediation.rooms.http")
router = APIRouter(tags=["rooms"])


def registry_of(app: object) -> RoomRegistry:
    registry: RoomRegistry = app.state.rooms  # type: ignore[attr-defined]
    return registry


def room_out(room: Room, base_url: str) -> RoomOut:
    return RoomOut.model_validate({**room.model_dump(), "url": f"{base_url}/rooms/{room.id}"})


@dataclass
class RoomAccess:
    room: Room
    case: Case
    identity: Identity


def identity_for(principal: Principal, room: Room, case: Case) -> Identity:
    """Who this caller is in this room, or why not: the rules of DESIGN.md's table."""
    if isinstance(principal, PartyPrincipal):
        if principal.case.id != room.case_id:
            raise NotFound("No such room.")
        party = principal.party
        return Identity(
            participant_id=f"party-{party.id}",
            name=party.name,
            role=party.role,
            is_host=False,
            party_id=party.id,
            actor=principal.actor,
        )
    user = principal.user
    if user.role != Role.mediator:
        # Judges host confirmation rooms (the confirmation issue); admins see no case content.
        raise Forbidden("Your role may not do this.")
    if case.org_id != user.org_id:
        raise NotFound("No such room.")
    return Identity(
        participant_id=f"user-{user.id}",
        name=user.name,
        role=user.role,
        is_host=True,
        user_id=user.id,
        actor=principal.actor,
    )


async def room_access(session: AsyncSession, principal: Principal, room_id: int) -> RoomAccess:
    """The room, its case and who the caller is in it; the one lookup every route uses."""
    room = await session.get(Room, room_id) if 1 <= room_id <= MAX_ID else None
    if room is None:
        raise NotFound("No such room.")
    case = await session.get(Case, room.case_id)
    if case is None:  # (the foreign key forbids it)
        raise NotFound("No such room.")
    return RoomAccess(room, case, identity_for(principal, room, case))


async def _room_access(
    room_id: PathId, principal: CurrentPrincipal, session: SessionDep
) -> RoomAccess:
    return await room_access(session, principal, room_id)


async def _host_access(access: Annotated[RoomAccess, Depends(_room_access)]) -> RoomAccess:
    if not access.identity.is_host:
        raise Forbidden("Only the mediator may do this.")
    return access


ViewableRoom = Annotated[RoomAccess, Depends(_room_access)]
HostedRoom = Annotated[RoomAccess, Depends(_host_access)]


# -- REST -----------------------------------------------------------------------------------


@router.post("/api/cases/{case_id}/rooms", response_model=RoomOut, status_code=201)
async def create_room(
    body: RoomIn,
    case: MediatorCase,
    mediator: CurrentMediator,
    session: SessionDep,
    request: Request,
) -> RoomOut:
    room = await rooms_service.create_room(
        session,
        case=case,
        kind=body.kind,
        auto_admit=body.auto_admit,
        created_by=mediator.user.id or 0,
        actor=mediator.actor,
    )
    return room_out(room, settings_of(request).public_url)


@router.get("/api/cases/{case_id}/rooms", response_model=list[RoomOut])
async def list_rooms(case: ViewableCase, session: SessionDep, request: Request) -> list[RoomOut]:
    rooms = await rooms_service.rooms_of_case(session, case_id=case.id or 0)
    return [room_out(r, settings_of(request).public_url) for r in rooms]


@router.get("/api/cases/{case_id}/consents", response_model=list[ConsentOut])
async def list_consents(case: MediatorCase, session: SessionDep) -> list[ConsentOut]:
    """The consent ledger of a case: the opening formalities, as they were recorded."""
    rows = await rooms_service.consents_of_case(session, case_id=case.id or 0)
    return [ConsentOut.model_validate(c.model_dump()) for c in rows]


@router.get("/api/rooms/{room_id}", response_model=RoomOut)
async def get_room(access: ViewableRoom, request: Request) -> RoomOut:
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
    await live.set_recording(body.action == "start", access.identity.actor, target=session)
    return RecordingState(on=live.recording)


@router.get("/api/rooms/{room_id}/recordings", response_model=list[RecordingOut])
async def recordings(access: HostedRoom, session: SessionDep) -> list[RecordingOut]:
    room_id = access.room.id or 0
    out = []
    for rec, segments, gaps in await rooms_service.recordings_of_room(session, room_id=room_id):
        out.append(
            RecordingOut(
                id=rec.id or 0,
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
    recording_id: PathId, seq: PathId, access: HostedRoom, session: SessionDep, request: Request
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
    # Read again inside the writing transaction: another close may have come first.
    room = await rooms_service.get_room(session, room_id, for_update=True)
    if room.status != RoomStatus.closed:
        await rooms_service.set_status(
            session, room=room, to=RoomStatus.closed, actor=access.identity.actor
        )
        await rooms_service.log_event(
            session, room_id=room_id, kind="close", actor=access.identity.participant_id
        )
    return room_out(room, settings_of(request).public_url)


# -- the page ------------------------------------------------------------------------------


@router.get("/rooms/{room_id}", response_class=HTMLResponse, include_in_schema=False)
async def room_page(
    room_id: int, request: Request, principal: OptionalPrincipal, session: SessionDep
) -> Response:
    if principal is None:
        raise NotAuthenticated("Sign in first (or open your join link again).")
    access = await room_access(session, principal, room_id)
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
    # The standby connection's offer comes with the page, so that the browser answers it
    # while the page loads (see LiveRoom.prepare).
    prepared = None
    if room.status != RoomStatus.closed:
        prepared = await registry_of(request.app).get_or_create(room).prepare(identity)
    return pages.render(
        request,
        "rooms/room.html",
        script_strings=ROOM_SCRIPT_STRINGS,
        room=room,
        case=case,
        me=me,
        ws_path=f"/api/rooms/{room.id}/signal",
        ice_servers=ice_servers,
        prepared={**prepared, "ice_servers": ice_servers} if prepared else None,
    )


# -- signalling -----------------------------------------------------------------------------


class WebSocketTransport:
    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.language = pick_language(
            websocket.query_params.get("lang"), websocket.cookies.get("lang")
        )
        self._lock = asyncio.Lock()  # one message at a time on the wire

    async def send_text(self, text: str) -> None:
        async with self._lock:
            await self.websocket.send_text(text)

    async def close(self, code: int = 1000) -> None:
        async with self._lock:
            await self.websocket.close(code)


def _same_origin(websocket: WebSocket) -> bool:
    """A cookie-authenticated socket must come from our own pages (no cross-site hijack)."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True  # not a browser
    return urlsplit(origin).netloc == websocket.headers.get("host")


def _detail(websocket: WebSocket, exc: MediationError) -> str:
    language = pick_language(websocket.query_params.get("lang"), websocket.cookies.get("lang"))
    return gettext(language, exc.message, **exc.params)


def _meant_for(message: signaling.Incoming, claimed_token: str | None) -> bool:
    """A message tagged with a prepared connection's token (the page's answer and candidates,
    sent before the welcome said whether the socket claimed it) applies only if it did."""
    tag = getattr(message, "standby", None)
    if tag is None:
        return True
    return claimed_token is not None and secrets.compare_digest(tag, claimed_token)


async def _refuse(websocket: WebSocket, code: int, detail: str) -> None:
    await websocket.accept()
    await websocket.send_text(signaling.out("error", detail=detail))
    await websocket.close(code)


@router.websocket("/api/rooms/{room_id}/signal")
async def signal(websocket: WebSocket, room_id: int) -> None:
    app = websocket.app
    header = websocket.headers.get("authorization", "")
    scheme, _, bearer = header.partition(" ")
    token = bearer.strip() if scheme.lower() == "bearer" else websocket.cookies.get(SESSION_COOKIE)
    if token and scheme.lower() != "bearer" and not _same_origin(websocket):
        refused = Forbidden("This page may not open the room.")
        await _refuse(websocket, 4403, _detail(websocket, refused))
        return
    try:
        async with unit_of_work(app.state.sessionmaker, read_only=True) as session:
            principal = await load_principal(session, token) if token else None
            if principal is None:
                raise NotAuthenticated("Sign in first (or open your join link again).")
            access = await room_access(session, principal, room_id)
            room, identity = access.room, access.identity
            if room.status == RoomStatus.closed:
                raise MediationError("This meeting has ended.")
    except MediationError as exc:
        codes = {401: 4401, 403: 4403, 404: 4404}
        await _refuse(websocket, codes.get(exc.status_code, 4400), _detail(websocket, exc))
        return
    live: LiveRoom = registry_of(app).get_or_create(room)
    transport = WebSocketTransport(websocket)
    await websocket.accept()
    prejoin = websocket.query_params.get("prejoin") == "1"
    # The prepared connection this socket took over: only for it are tagged messages meant.
    claimed_token: str | None = None
    try:
        if prejoin:  # standing by until a join message (see rooms/signaling.py)
            token = websocket.query_params.get("standby")
            claimed = await live.claim(identity, token, transport) if token else None
            claimed_token = token if claimed is not None else None
            participant = claimed or await live.stand_by(identity, transport)
        else:
            participant = await live.join(identity, transport)
    except MediationError:
        await websocket.close(1000)
        return
    standby: Participant | None = participant if prejoin else None
    left = False
    try:
        while True:
            frame = await websocket.receive()
            if frame["type"] == "websocket.disconnect":
                # 1000 is a deliberate goodbye (Leave); anything else may be a network change.
                left = frame.get("code") == 1000
                break
            raw = frame.get("text")
            if raw is None:
                raw = frame.get("bytes") or b""
            try:
                message = signaling.parse(raw)
                if not _meant_for(message, claimed_token):
                    continue  # sent before the welcome, for a connection that was not claimed
                if standby is not None and isinstance(message, signaling.Join):
                    participant = await live.join(identity, transport, standby=standby)
                    standby = None
                else:
                    await live.handle(participant, message)
            except signaling.BadMessage as exc:
                await transport.send_text(signaling.out("error", detail=exc.detail))
            except MediationError as exc:
                await transport.send_text(signaling.out("error", detail=_detail(websocket, exc)))
            except Exception:
                # Nothing of the message was written (its journal rolled back); the sender
                # may try again, the room goes on, and the log has the why.
                log.exception(
                    "a signalling message failed",
                    extra={"room": room_id, "participant": identity.participant_id},
                )
                detail = gettext(transport.language, "Something went wrong. Please try again.")
                await transport.send_text(signaling.out("error", detail=detail))
    except WebSocketDisconnect as exc:
        left = exc.code == 1000
    finally:
        if standby is not None:
            await live.drop_standby(standby)
        elif left:
            await live.leave(participant, transport)
        else:
            await live.disconnected(participant, transport)
