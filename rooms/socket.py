"""The signalling socket's life: ``WS /api/rooms/{id}/signal`` (messages: rooms/signaling.py).

In order: the origin check (a cookie-authenticated socket must come from our own pages), the
caller's session and their right to the room (rooms/access.py, in a read-only unit of work,
so that it waits for no writer), entering the live room (claiming the connection prepared
with the page, standing by, or joining at once), then one message at a time until the socket
closes, and leaving as the way it closed says (a goodbye, or a network change that keeps the
place for a while). Each message is parsed at this edge and handled by the live room as one
operation with one journal; a refusal goes back to its sender only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from rooms import forwarding, signaling, standby
from rooms.access import room_access
from rooms.live import LiveRoom
from rooms.models import RoomStatus
from rooms.participant import Identity, Participant, Stage
from rooms.sfu import registry_of
from service.auth import SESSION_COOKIE, load_principal
from service.db import unit_of_work
from service.errors import Forbidden, MediationError, NotAuthenticated
from service.i18n import gettext, pick_language

log = logging.getLogger("mediation.rooms.socket")
router = APIRouter(tags=["rooms"])

REFUSAL_CODES = {401: 4401, 403: 4403, 404: 4404}  # anything else: 4400


class WebSocketTransport:
    """The room's Transport over a Starlette WebSocket."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.language = language_of(websocket)
        self._lock = asyncio.Lock()  # one message at a time on the wire

    async def send_text(self, text: str) -> None:
        async with self._lock:
            await self.websocket.send_text(text)

    async def close(self, code: int = 1000) -> None:
        async with self._lock:
            await self.websocket.close(code)


def language_of(websocket: WebSocket) -> str:
    return pick_language(websocket.query_params.get("lang"), websocket.cookies.get("lang"))


def same_origin(websocket: WebSocket) -> bool:
    """A cookie-authenticated socket must come from our own pages (no cross-site hijack)."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True  # not a browser
    return urlsplit(origin).netloc == websocket.headers.get("host")


def presented_token(websocket: WebSocket) -> tuple[str | None, bool]:
    """The session token and whether it came from the cookie (which needs the origin check)."""
    scheme, _, bearer = websocket.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and bearer.strip():
        return bearer.strip(), False
    return websocket.cookies.get(SESSION_COOKIE), True


async def refuse(websocket: WebSocket, exc: MediationError) -> None:
    """Refused before anything of the room is shown: one error, and the close code says why."""
    await websocket.accept()
    detail = gettext(language_of(websocket), exc.message, **exc.params)
    await websocket.send_text(signaling.out("error", detail=detail))
    await websocket.close(REFUSAL_CODES.get(exc.status_code, 4400))


async def authenticate(websocket: WebSocket, room_id: int) -> tuple[LiveRoom, Identity]:
    """The live room and who the caller is in it, or a MediationError saying why not."""
    token, from_cookie = presented_token(websocket)
    if token and from_cookie and not same_origin(websocket):
        raise Forbidden("This page may not open the room.")
    sessionmaker = websocket.app.state.sessionmaker
    async with unit_of_work(sessionmaker, read_only=True) as session:
        principal = await load_principal(session, token) if token else None
        if principal is None:
            raise NotAuthenticated("Sign in first (or open your join link again).")
        rules = registry_of(websocket.app).services.host_rules
        access = await room_access(session, principal, room_id, rules)
    if access.room.status == RoomStatus.closed:
        raise MediationError("This meeting has ended.")
    return registry_of(websocket.app).get_or_create(access.room), access.identity


@dataclass
class Connection:
    """One socket in one live room, from entering to leaving."""

    websocket: WebSocket
    live: LiveRoom
    identity: Identity
    transport: WebSocketTransport
    participant: Participant
    standing_by: bool  # not in the meeting yet: waiting for a join message
    claimed: str | None  # the token of the prepared connection this socket took over

    @property
    def log_ids(self) -> dict[str, object]:
        return {"room": self.live.room_id, "participant": self.identity.participant_id}

    def meant_for_me(self, message: signaling.Incoming) -> bool:
        """A message tagged with a prepared connection's token (the page's answer and
        candidates, sent before the welcome said whether the socket claimed it) applies
        only if it did."""
        match message:
            case signaling.Answer(standby=str(tag)) | signaling.Candidate(standby=str(tag)):
                return self.claimed is not None and secrets.compare_digest(tag, self.claimed)
            case _:
                return True

    async def dispatch(self, message: signaling.Incoming) -> None:
        match message:
            case signaling.Join() if self.standing_by:
                self.participant = await self.live.join(
                    self.identity, self.transport, standby=self.participant
                )
                self.standing_by = False
            case _:
                await self.live.handle(self.participant, message)

    async def receive(self) -> bool:
        """Messages until the socket closes; returns whether the person said goodbye (1000)
        rather than dropped (a network change: their place is kept for a while)."""
        while True:
            message: signaling.Incoming | None = None
            try:
                frame = await self.websocket.receive()
            except WebSocketDisconnect as exc:
                return exc.code == 1000
            if frame["type"] == "websocket.disconnect":
                return frame.get("code") == 1000
            text = frame.get("text")
            raw: str | bytes = text if text is not None else frame.get("bytes") or b""
            try:
                message = signaling.parse(raw)
                if self.meant_for_me(message):  # (else: for a connection not claimed)
                    await self.dispatch(message)
            except (signaling.BadMessage, MediationError) as exc:
                await self.reply_error(gettext(self.transport.language, exc.message, **exc.params))
            except Exception:
                # Nothing of the message was written (its journal rolled back); the sender
                # may try again, the room goes on, and the log has the why.
                log.exception("a signalling message failed", extra=self.log_ids)
                await self.reply_error(
                    gettext(self.transport.language, "Something went wrong. Please try again.")
                )
                if isinstance(message, signaling.Join) and self.standing_by:
                    # A join that failed part-way: nobody stays in the room on this socket,
                    # and the page connects afresh.
                    await withdraw(self.live, self.identity, self.transport)
                    return False

    async def reply_error(self, detail: str) -> None:
        try:
            await self.transport.send_text(signaling.out("error", detail=detail))
        except Exception:  # the room closed this socket meanwhile: nobody is left to tell
            log.info("error reply not sent: the socket is closed", extra=self.log_ids)

    async def leave(self, goodbye: bool) -> None:
        if self.standing_by:
            await standby.drop(self.live, self.participant)
        elif goodbye:
            await self.live.leave(self.participant, self.transport)
        else:
            await self.live.disconnected(self.participant, self.transport)


async def enter(websocket: WebSocket, live: LiveRoom, identity: Identity) -> Connection | None:
    """Into the live room as the socket's URL asks: ``?prejoin=1`` stands by (claiming the
    page's prepared connection with ``&standby=<token>`` if it is still there), otherwise
    joins at once. None if the room refused (it has ended meanwhile)."""
    transport = WebSocketTransport(websocket)
    await websocket.accept()
    standing_by = websocket.query_params.get("prejoin") == "1"
    token = websocket.query_params.get("standby") if standing_by else None
    claimed: str | None = None
    try:
        if standing_by:
            participant = await standby.claim(live, identity, token, transport) if token else None
            claimed = token if participant is not None else None
            participant = participant or await standby.stand_by(live, identity, transport)
        else:
            participant = await live.join(identity, transport)
    except MediationError:
        await websocket.close(1000)  # (the room has told the socket why)
        return None
    except Exception:
        # Failed part-way (its record not written): nobody stays in the room on this socket,
        # with a place nobody takes or a peer nobody uses. The page connects afresh.
        log.exception(
            "entering the room failed",
            extra={"room": live.room_id, "participant": identity.participant_id},
        )
        with contextlib.suppress(Exception):  # (a socket gone already)
            detail = gettext(transport.language, "Something went wrong. Please try again.")
            await transport.send_text(signaling.out("error", detail=detail))
        await withdraw(live, identity, transport)
        return None
    return Connection(websocket, live, identity, transport, participant, standing_by, claimed)


async def withdraw(live: LiveRoom, identity: Identity, transport: WebSocketTransport) -> None:
    """Undo an entry that failed part-way: whoever it put in the room on ``transport``, in
    the meeting or standing by, goes (quietly: the socket is closed with 1011, on which the
    page connects afresh). Their going is recorded if the database lets it; it is done in
    any case."""
    try:
        async with live.operation() as journal:
            for s in [s for s in live.standbys if s.transport is transport]:
                await standby.forget(live, journal, s)
            p = live.participants.get(identity.participant_id)
            if p is not None and p.transport is transport:
                p.transport = None  # (no "closed": the page is to come back, not to end)
                await live.remove(journal, p, Stage.gone)
                forwarding.apply_policy(live)
                await live.roster()
    except Exception:
        log.exception(
            "the failed entry's going was not recorded",
            extra={"room": live.room_id, "participant": identity.participant_id},
        )
    with contextlib.suppress(Exception):
        await transport.close(1011)


@router.websocket("/api/rooms/{room_id}/signal")
async def signal(websocket: WebSocket, room_id: int) -> None:
    try:
        live, identity = await authenticate(websocket, room_id)
    except MediationError as exc:
        await refuse(websocket, exc)
        return
    connection = await enter(websocket, live, identity)
    if connection is None:
        return
    goodbye = False
    try:
        goodbye = await connection.receive()
    finally:
        await connection.leave(goodbye)
