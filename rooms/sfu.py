"""The live rooms of this process: participants, their peers, and the forwarding policy.

One ``LiveRoom`` per open room, kept in the app's ``RoomRegistry``. Everything the room does
(a signalling message, a timer, a failed connection, a REST call) is one operation, under
the room's lock, so the room changes one operation at a time; its durable effects (the room's
event log, the consent ledger, recordings) go to the operation's journal and are written in
one transaction when it ends (rooms/journal.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol, assert_never

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from rooms import policy, signaling
from rooms import service as rooms_service
from rooms.journal import Journal
from rooms.models import ConsentKind, Room, RoomStatus
from rooms.passthrough import PacketFanout
from rooms.peers import KINDS, Peer
from rooms.recording import ParticipantRecorder, Segment
from service import audit
from service.errors import Conflict
from service.i18n import gettext
from service.storage import ContentStore

log = logging.getLogger("mediation.rooms")

RECONNECT_GRACE = 20.0  # seconds a dropped participant keeps their place (and admission)
ANSWER_TIMEOUT = 15.0

# Why a recording segment is missing: its file could not be hashed into the content store
# ("store"), or its row could not be written ("record").
SegmentFailure = Literal["store", "record"]


class NegotiationError(RuntimeError):
    """The server's own peer did not produce an offer: a fault of ours, not the caller's."""


class Transport(Protocol):
    """How the room talks to one browser; a WebSocket in production, a list in tests."""

    language: str  # of the page, for the few texts the server words itself

    async def send_text(self, text: str) -> None: ...

    async def close(self, code: int = 1000) -> None: ...


@dataclass(frozen=True)
class Identity:
    """Who is joining, as established by authentication."""

    participant_id: str  # "user-3", "party-12"
    name: str
    role: str  # mediator, judge, applicant, respondent, third_party
    is_host: bool
    party_id: int | None = None
    user_id: int | None = None
    actor: audit.Actor = field(default_factory=lambda: audit.SYSTEM)


@dataclass
class Participant:
    identity: Identity
    admitted: bool = False
    transport: Transport | None = None
    peer: Peer | None = None
    audio_muted: bool = False
    video_muted: bool = False
    host_muted: bool = False
    receive_video: bool = True
    consents: dict[str, bool] = field(default_factory=lambda: {"online": False, "recording": False})
    identity_checked: bool = False
    consents_recorded: bool = False
    grace: asyncio.TimerHandle | None = None
    answer_timer: asyncio.TimerHandle | None = None
    # A standby prepared with the room page: the page's socket claims it with this token.
    token: str | None = None

    @property
    def id(self) -> str:
        return self.identity.participant_id

    @property
    def connected(self) -> bool:
        return self.transport is not None

    def standing(self) -> policy.Standing:
        return policy.Standing(
            id=self.id,
            admitted=self.admitted and self.connected,
            audio_muted=self.audio_muted or self.host_muted,
            video_muted=self.video_muted,
            receive_video=self.receive_video,
        )

    def describe(self, caucus: frozenset[str]) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.identity.name,
            "role": self.identity.role,
            "audio": not (self.audio_muted or self.host_muted),
            "video": not self.video_muted,
            "in_caucus": self.id in caucus,
            "admitted": self.admitted,
            "connected": self.connected,
            "consents": dict(self.consents),
            "identity_checked": self.identity_checked,
        }


@dataclass
class RoomServices:
    sessionmaker: async_sessionmaker[AsyncSession]
    store: ContentStore
    ice_servers: list[dict[str, Any]]
    video_codec: str
    workdir: Path
    segment_seconds: float


@dataclass
class ActiveRecording:
    """One participant's recorder and its Recording row. The row is written by the journal
    of the operation that started recording, so its id is known only once that commits."""

    participant_id: str
    recorder: ParticipantRecorder
    row_id: asyncio.Future[int]
    flushed_id: int | None = None  # the id within the journal's transaction, before commit

    async def recording_id(self) -> int | None:
        """The committed row's id; None if it was never written."""
        try:
            return await asyncio.wait_for(asyncio.shield(self.row_id), ROW_WAIT)
        except (RecordingNotWritten, TimeoutError):
            return None


class RecordingNotWritten(RuntimeError):
    """The journal that was to write a recording's row was rolled back."""


ROW_WAIT = 30.0  # seconds a segment waits for its recording's row (a request's commit)


class LiveRoom:
    def __init__(self, room: Room, services: RoomServices) -> None:
        self.room_id = room.id or 0
        self.case_id = room.case_id
        self.kind = room.kind
        self.auto_admit = room.auto_admit
        self.services = services
        self.participants: dict[str, Participant] = {}
        # Connections standing by (?prejoin=1): a peer each, nothing forwarded, not in the
        # meeting. Not keyed by person: a second tab may stand by beside a live call.
        self.standbys: list[Participant] = []
        self.caucus: frozenset[str] = frozenset()
        self.recorders: dict[str, ActiveRecording] = {}
        self.recording = False
        # Removed by the host: back only through the lobby, until the host admits them again
        # (for the life of this live room).
        self.barred: set[str] = set()
        self.closed = False
        self.lock = asyncio.Lock()
        self._tasks: set[asyncio.Future[Any]] = set()

    # -- plumbing ----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def operation(self, target: AsyncSession | None = None) -> AsyncIterator[Journal]:
        """One thing the room does (a message, a timer, a failed connection, a REST call):
        under the room's lock, so the room changes one operation at a time, with one journal
        for its writes. They are written when the operation ends, in its own unit of work or
        (``target``) in a request's transaction; if it raises, none are."""
        async with self.lock:
            journal = Journal()
            try:
                yield journal
            except BaseException:
                journal.abort()
                raise
            if target is None:
                await journal.commit(self.services.sessionmaker)
            else:
                await journal.apply_to(target)

    def _spawn(self, coro: Awaitable[Any], *, participant: str | None = None) -> None:
        """Run ``coro`` beside the room's messages; a failure is logged with the room's and
        the participant's ids (the task has no one else to tell)."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(functools.partial(self._task_done, participant))

    def _task_done(self, participant: str | None, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled() or (exc := task.exception()) is None:
            return
        coro = task.get_coro() if isinstance(task, asyncio.Task) else None
        log.error(
            "room task %s failed (room %d, participant %s)",
            getattr(coro, "__qualname__", task),
            self.room_id,
            participant or "-",
            exc_info=exc,
            extra={"room": self.room_id, "participant": participant},
        )

    async def _send(self, p: Participant, kind: str, **fields: Any) -> None:
        if p.transport is None:
            return
        try:
            await p.transport.send_text(signaling.out(kind, **fields))
        except Exception:  # a dead socket is handled by its reader; never break the room
            log.info("send failed", extra={"room": self.room_id, "participant": p.id})

    async def _broadcast(self, kind: str, **fields: Any) -> None:
        for p in list(self.participants.values()):
            await self._send(p, kind, **fields)

    async def _roster(self) -> None:
        people = [p.describe(self.caucus) for p in self.participants.values()]
        for p in list(self.participants.values()):
            if p.identity.is_host:
                await self._send(p, "participants", participants=people)
            else:  # parties see who is in the meeting, not the lobby or the formalities
                visible = [
                    {k: v for k, v in d.items() if k not in ("consents", "identity_checked")}
                    for d in people
                    if d["admitted"]
                ]
                await self._send(p, "participants", participants=visible)

    async def _locked_roster(self) -> None:
        async with self.lock:
            if not self.closed:
                await self._roster()

    def _event(
        self,
        journal: Journal,
        kind: str,
        *,
        participant: str | None = None,
        actor: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        journal.write(
            lambda session: rooms_service.log_event(
                session,
                room_id=self.room_id,
                kind=kind,
                participant=participant,
                actor=actor,
                data=data,
            )
        )

    def _consent(
        self,
        journal: Journal,
        kind: ConsentKind,
        *,
        given: bool,
        party_id: int | None,
        by: Identity,
    ) -> None:
        """An entry of the consent ledger (and the case's audit chain)."""

        async def write(session: AsyncSession) -> None:
            room = await rooms_service.get_room(session, self.room_id)
            await rooms_service.record_consent(
                session,
                room=room,
                kind=kind,
                given=given,
                party_id=party_id,
                by_user_id=by.user_id,
                actor=by.actor,
            )

        journal.write(write)

    # -- joining and leaving ------------------------------------------------------------------

    def _goes_straight_in(self, identity: Identity) -> bool:
        """Whether Join leads into the meeting rather than to the lobby. Only then is a media
        connection made before Join: the lobby has no peer, and an offer would tell someone
        not yet let in who is in the meeting."""
        earlier = self.participants.get(identity.participant_id)
        return (earlier is not None and earlier.admitted) or self._admits_at_once(identity)

    def _admits_at_once(self, identity: Identity) -> bool:
        """Whether someone new to the meeting skips the lobby: the host does; a party does in
        a room that admits automatically, unless the host removed them."""
        return identity.is_host or (self.auto_admit and identity.participant_id not in self.barred)

    async def stand_by(self, identity: Identity, transport: Transport) -> Participant:
        """A connection that is not in the meeting yet (the person is checking their camera):
        welcome it and connect its media at once, with every gate shut, so that joining
        later costs no ICE, DTLS or offer round trips."""
        async with self.operation():
            if self.closed:
                await transport.send_text(signaling.out("closed", reason="closed"))
                raise Conflict("This meeting has ended.")
            standby = Participant(identity=identity, transport=transport)
            self.standbys.append(standby)
            await self._welcome(standby, joined=False)
            if self._goes_straight_in(identity):
                await self._start_media(standby)  # not admitted yet: every gate shut
            return standby

    async def prepare(self, identity: Identity) -> dict[str, Any] | None:
        """The room page is being served: make its standby connection's peer and offer now,
        for the page to carry, so that the browser answers while the page is still loading
        instead of after a socket, a welcome and an offer. Returns the token with which the
        page's socket claims it (``claim``) and the offer; None when Join would lead to the
        lobby or the meeting has ended (the socket then stands by as usual).

        Unclaimed, it goes when its answer is overdue (ANSWER_TIMEOUT); a person has at most
        one waiting, so reloading the page makes no pile of peers."""
        async with self.operation() as journal:
            if self.closed or not self._goes_straight_in(identity):
                return None
            for old in [s for s in self.standbys if s.token and s.id == identity.participant_id]:
                await self._forget_standby(journal, old)
            standby = Participant(identity=identity, token=secrets.token_urlsafe(16))
            self.standbys.append(standby)
            offer = await self._start_media(standby)
            if offer is None:  # a fresh peer offers at once; without one there is nothing
                await self._forget_standby(journal, standby)
                raise NegotiationError(f"no offer from a fresh peer in room {self.room_id}")
            return {"token": standby.token, **offer}

    async def claim(
        self, identity: Identity, token: str, transport: Transport
    ) -> Participant | None:
        """The standby socket of a page that carried a prepared offer takes that connection
        over. None if there is none to take (it expired, was replaced by a newer page, or is
        not this person's): the socket then stands by afresh."""
        async with self.operation():
            if self.closed:
                return None
            standby = next(
                (
                    s
                    for s in self.standbys
                    if s.token is not None
                    and s.id == identity.participant_id
                    and secrets.compare_digest(s.token, token)
                ),
                None,
            )
            if standby is None or standby.peer is None:
                return None
            standby.token = None
            standby.transport = transport
            await self._welcome(standby, joined=False, prepared=True)
            return standby

    async def drop_standby(self, standby: Participant) -> None:
        async with self.operation() as journal:
            if standby in self.standbys:
                await self._forget_standby(journal, standby)

    async def _forget_standby(self, journal: Journal, standby: Participant) -> None:
        self.standbys.remove(standby)
        standby.transport = None
        await self._drop_peer(journal, standby)

    async def _welcome(self, p: Participant, *, joined: bool, prepared: bool = False) -> None:
        await self._send(
            p,
            "welcome",
            participant_id=p.id,
            role=p.identity.role,
            name=p.identity.name,
            joined=joined,
            prepared=prepared,
            room={
                "id": self.room_id,
                "kind": self.kind,
                "status": "open",
                "auto_admit": self.auto_admit,
            },
            ice_servers=self.services.ice_servers,
            video_codec=self.services.video_codec,
        )

    async def join(
        self, identity: Identity, transport: Transport, standby: Participant | None = None
    ) -> Participant:
        """Into the meeting: as the socket opens, or (``standby``) on its ``join`` message,
        keeping the media connection made while standing by."""
        async with self.operation() as journal:
            if self.closed:
                await transport.send_text(signaling.out("closed", reason="closed"))
                raise Conflict("This meeting has ended.")
            warm: Peer | None = None
            if standby is not None and standby in self.standbys:
                self.standbys.remove(standby)
                warm, standby.peer = standby.peer, None
                if standby.answer_timer is not None:
                    standby.answer_timer.cancel()
                    standby.answer_timer = None
            p = self.participants.get(identity.participant_id)
            rejoin = p is not None
            if p is None:
                p = Participant(identity=identity, admitted=self._admits_at_once(identity))
                self.participants[p.id] = p
            else:
                # The same person again (a phone moving from Wi-Fi to 4G): replace the stale
                # socket and peer, keep their admission and consents.
                if p.grace is not None:
                    p.grace.cancel()
                    p.grace = None
                old, p.transport = p.transport, None
                if old is not None:
                    with contextlib.suppress(Exception):  # it may be gone already
                        await old.close(4000)
                await self._drop_peer(journal, p)
            p.transport = transport
            if standby is None:
                await self._welcome(p, joined=True)
            else:
                await self._send(p, "joined", admitted=p.admitted)
            # The offer first, the bookkeeping after: ICE and DTLS run while it is written.
            if p.admitted and warm is not None:
                if warm.negotiating:  # the standby's offer is still out: keep its deadline
                    self._await_answer(p, warm)
                await self._adopt(p, warm)
            elif p.admitted:
                await self._start_media(p)
            else:
                if warm is not None:
                    # The lobby has no peer: the browser starts a fresh one on "lobby".
                    await warm.close()
                await self._send(p, "lobby")
            if identity.is_host:
                self._open_room(journal, identity)
            self._event(journal, "rejoin" if rejoin else "join", participant=p.id)
            if self.recording:
                await self._send(p, "recording", on=True)
            if self.caucus:
                await self._send(p, "caucus", **{"with": sorted(self.caucus)})
            await self._roster()
            return p

    def _open_room(self, journal: Journal, identity: Identity) -> None:
        async def write(session: AsyncSession) -> None:
            room = await rooms_service.get_room(session, self.room_id)
            if room.status == RoomStatus.scheduled:
                await rooms_service.set_status(
                    session, room=room, to=RoomStatus.open, actor=identity.actor
                )

        journal.write(write)

    async def disconnected(self, p: Participant, transport: Transport) -> None:
        """The socket went away. Keep the place for a while: the person may be back in a
        moment on another network."""
        async with self.operation() as journal:
            if p.transport is not transport or self.participants.get(p.id) is not p:
                return  # already replaced by a newer connection
            p.transport = None
            await self._drop_peer(journal, p)
            self._event(journal, "disconnect", participant=p.id)
            loop = asyncio.get_running_loop()
            p.grace = loop.call_later(
                RECONNECT_GRACE, lambda: self._spawn(self._expire(p), participant=p.id)
            )
            await self._roster()

    async def leave(self, p: Participant, transport: Transport) -> None:
        """The person closed the page or tapped Leave: gone now, not after the grace time."""
        async with self.operation() as journal:
            if p.transport is not transport or self.participants.get(p.id) is not p:
                return
            p.transport = None
            await self._remove(journal, p, "left")
            self._apply_policy()
            await self._roster()

    async def _expire(self, p: Participant) -> None:
        async with self.operation() as journal:
            if p.transport is None and self.participants.get(p.id) is p:
                await self._remove(journal, p, "left")
                await self._roster()

    async def _remove(self, journal: Journal, p: Participant, why: str) -> None:
        self.participants.pop(p.id, None)
        if p.grace is not None:
            p.grace.cancel()
        await self._drop_peer(journal, p, leaving=True)
        if p.transport is not None:
            transport, p.transport = p.transport, None
            with contextlib.suppress(Exception):  # a socket already gone needs no goodbye
                await transport.send_text(signaling.out("closed", reason=why))
                await transport.close(4001 if why == "removed" else 1000)
        if p.id in self.caucus:
            self.caucus = self.caucus - {p.id}
        self._event(journal, "leave", participant=p.id, data={"why": why})

    # -- media ----------------------------------------------------------------------------

    async def _start_media(self, p: Participant) -> dict[str, Any] | None:
        peer = Peer(
            participant_id=p.id,
            room_id=self.room_id,
            ice_servers=self.services.ice_servers,
            video_codec=self.services.video_codec,
            on_published=self._published,
            on_failed=self._peer_failed,
            on_connected=self._peer_connected,
        )
        p.peer = peer
        for other in self.participants.values():
            if other.id == p.id or other.peer is None:
                continue  # (a standby beside the same person's live call: not themselves)
            for kind, fanout in other.peer.published.items():
                peer.subscribe(other.id, kind, fanout, open=self._allowed(p, other, kind))
        return await self._negotiate(p)

    async def _adopt(self, p: Participant, peer: Peer) -> None:
        """Take over the peer a standby connected: publish what it already receives from the
        browser, and open the gates the room's policy allows."""
        p.peer = peer
        for kind, fanout in list(peer.published.items()):
            self._published(peer, kind, fanout)
        self._apply_policy()
        if peer.renegotiate:
            await self._negotiate(p)

    def _owner(self, peer: Peer) -> Participant | None:
        p = self.participants.get(peer.participant_id)
        if p is not None and p.peer is peer:
            return p
        return next((s for s in self.standbys if s.peer is peer), None)

    def _with_peers(self) -> list[Participant]:
        """Everyone whose peer receives forwarded media: participants and standbys."""
        return [p for p in [*self.participants.values(), *self.standbys] if p.peer is not None]

    async def _drop_peer(self, journal: Journal, p: Participant, *, leaving: bool = False) -> None:
        peer, p.peer = p.peer, None
        if p.answer_timer is not None:
            p.answer_timer.cancel()
            p.answer_timer = None
        if peer is None:
            return
        # A standby has no recorder (the same person's live call may have one).
        if leaving or self.participants.get(p.id) is p:
            await self._stop_recorder(journal, p.id)
        await peer.close()
        for other in self._with_peers():
            if other.peer is not None and other.peer.unsubscribe(p.id):
                await self._negotiate(other)

    def _published(self, peer: Peer, kind: str, fanout: PacketFanout) -> None:
        """A participant's microphone or camera has arrived: forward it to the others."""
        publisher = self.participants.get(peer.participant_id)
        if publisher is None or publisher.peer is not peer:
            return  # gone, replaced, or only standing by: a standby publishes nothing
        for other in self._with_peers():
            if other.peer is not None and other.id != publisher.id:
                other.peer.subscribe(
                    publisher.id, kind, fanout, open=self._allowed(other, publisher, kind)
                )
                self._spawn(self._locked_negotiate(other), participant=other.id)
        if self.recording:
            self._spawn(self._locked_record(publisher), participant=publisher.id)

    async def _locked_negotiate(self, p: Participant) -> None:
        async with self.operation():
            # (a prepared standby has no socket yet, but notes the offer due after its answer)
            if p.peer is not None and (p.transport is not None or p.token is not None):
                await self._negotiate(p)

    async def _locked_record(self, p: Participant) -> None:
        async with self.operation() as journal:
            if self.recording and p.peer is not None and self.participants.get(p.id) is p:
                self._record(journal, p)

    def _peer_connected(self, peer: Peer) -> None:
        p = self._owner(peer)
        if p is not None and peer.renegotiate:
            self._spawn(self._locked_negotiate(p), participant=p.id)

    def _peer_failed(self, peer: Peer, reason: str) -> None:
        self._spawn(self._drop_failed_peer(peer, reason), participant=peer.participant_id)

    async def _drop_failed_peer(self, peer: Peer, reason: str) -> None:
        """``reason``: "ice" (the connection failed) or "forwarding" (the server cannot pass
        this participant's media on, logged loudly where it happened)."""
        async with self.operation() as journal:
            p = self._owner(peer)
            if p is None:
                return
            if p in self.standbys:
                self.standbys.remove(p)
            else:
                self._event(journal, f"{reason}_failed", participant=p.id)
            await self._drop_peer(journal, p)
        # The browser reconnects its socket and gets a fresh peer on the next welcome.
        if p.transport is not None:
            with contextlib.suppress(Exception):  # the socket may be gone already
                await p.transport.close(4002)

    async def _negotiate(self, p: Participant) -> dict[str, Any] | None:
        """Offer the participant's peer as it now is (or note that another offer is due once
        the one out is answered). Returns the offer made, if any."""
        peer = p.peer
        if peer is None or peer.closed:
            return None
        if peer.negotiating or not peer.may_renegotiate:
            peer.renegotiate = True
            return None
        peer.negotiating = True
        peer.renegotiate = False
        offer = await peer.create_offer()
        await self._send(p, "offer", **offer)  # (a prepared standby has no socket yet)
        self._await_answer(p, peer)
        return offer

    def _await_answer(self, p: Participant, peer: Peer) -> None:
        loop = asyncio.get_running_loop()
        p.answer_timer = loop.call_later(
            ANSWER_TIMEOUT, lambda: self._spawn(self._answer_missing(p, peer), participant=p.id)
        )

    async def _answer_missing(self, p: Participant, peer: Peer) -> None:
        async with self.operation() as journal:
            if p.peer is peer and peer.negotiating:
                if p.token is not None:  # a prepared standby whose page never claimed it
                    await self._forget_standby(journal, p)
                    return
                log.warning("no answer", extra={"room": self.room_id, "participant": p.id})
                await self._drop_peer(journal, p)
                if p.transport is not None:
                    with contextlib.suppress(Exception):  # the socket may be gone already
                        await p.transport.close(4002)

    def _allowed(self, subscriber: Participant, publisher: Participant, kind: str) -> bool:
        return policy.may_receive(subscriber.standing(), publisher.standing(), kind, self.caucus)

    def _apply_policy(self) -> None:
        for sub in self.participants.values():
            if sub.peer is None or sub.peer.closed:
                continue
            for publisher_id, kind in list(sub.peer.outgoing):
                pub = self.participants.get(publisher_id)
                sub.peer.gate(publisher_id, kind, pub is not None and self._allowed(sub, pub, kind))
        for pid, active in self.recorders.items():
            p = self.participants.get(pid)
            allowed = p is not None and policy.may_be_recorded(p.standing(), self.caucus)
            active.recorder.gate(allowed)

    # -- recording -----------------------------------------------------------------------------

    async def set_recording(
        self, on: bool, actor: audit.Actor, *, target: AsyncSession | None = None
    ) -> None:
        """Start or stop recording everyone in the meeting. ``target``: the session of the
        request that asked, which commits the recording rows and the event."""
        async with self.operation(target) as journal:
            if on == self.recording:
                return
            if on:
                missing = [
                    p.identity.name
                    for p in self.participants.values()
                    if p.admitted and not p.identity.is_host and not p.consents["recording"]
                ]
                if missing:
                    raise Conflict(
                        "Recording needs the consent of everyone in the meeting; not yet"
                        " given by: {names}.",
                        names="、".join(missing),
                    )
            self.recording = on
            if on:
                for p in self.participants.values():
                    if p.peer is not None and p.admitted:
                        self._record(journal, p)
            else:
                for pid in list(self.recorders):
                    await self._stop_recorder(journal, pid)
            self._event(journal, "recording_on" if on else "recording_off", actor=actor.label)
            await self._broadcast("recording", on=on)

    def _record(self, journal: Journal, p: Participant) -> None:
        if p.id in self.recorders or p.peer is None or not p.peer.published:
            return
        recorder = ParticipantRecorder(
            room_id=self.room_id,
            participant_id=p.id,
            workdir=self.services.workdir,
            segment_seconds=self.services.segment_seconds,
            on_segment=lambda segment: self._store_segment(active, segment),
            on_failed=lambda: self._spawn(self._recording_failed(active), participant=p.id),
        )
        active = ActiveRecording(p.id, recorder, asyncio.get_running_loop().create_future())

        async def write(session: AsyncSession) -> None:
            room = await rooms_service.get_room(session, self.room_id)
            row = await rooms_service.start_recording(
                session, room=room, participant=p.id, participant_name=p.identity.name
            )
            active.flushed_id = row.id

        def written() -> None:
            if active.flushed_id is not None and not active.row_id.done():
                active.row_id.set_result(active.flushed_id)

        def lost() -> None:
            active.flushed_id = None
            if not active.row_id.done():
                active.row_id.set_exception(RecordingNotWritten(p.id))
                active.row_id.exception()  # (retrieved: waiting segments see it)
            # A recorder without a row records nothing that can be kept: end it, loudly.
            self._spawn(self._recording_failed(active), participant=p.id)

        journal.write(write)
        journal.on_commit(written)
        journal.on_abort(lost)
        allowed = policy.may_be_recorded(p.standing(), self.caucus)
        for kind in KINDS:
            fanout = p.peer.published.get(kind)
            if fanout is not None:
                active.recorder.add(kind, fanout, open=allowed)
        self.recorders[p.id] = active

    async def _recording_failed(self, active: ActiveRecording) -> None:
        """A recording that may stand in for the transcript must not end unnoticed: close
        its row, log it, and tell the host, who can turn recording off and on again."""
        async with self.operation() as journal:
            if self.recorders.get(active.participant_id) is not active:
                return  # already stopped
            await self._stop_recorder(journal, active.participant_id)
            self._event(journal, "recording_failed", participant=active.participant_id)
            p = self.participants.get(active.participant_id)
            name = p.identity.name if p is not None else ""
            for host in self.participants.values():
                if host.identity.is_host:
                    await self._send(host, "notice", code="recording_failed", name=name)

    async def _stop_recorder(self, journal: Journal, participant_id: str) -> None:
        active = self.recorders.pop(participant_id, None)
        if active is None:
            return
        await active.recorder.stop()
        # Known before the transaction begins: never wait on another one from inside it.
        recording_id = await active.recording_id()
        if recording_id is not None:  # (a row never written has nothing to close)
            journal.write(
                lambda session: rooms_service.stop_recording(session, recording_id=recording_id)
            )

    async def _store_segment(self, active: ActiveRecording, segment: Segment) -> None:
        """Hash and store a closed segment off the event loop, then record it, in a unit of
        work of its own (it belongs to no message). A segment that cannot be stored or
        recorded is a gap in the evidence: see _segment_failed."""
        try:
            size = segment.path.stat().st_size
            sha256 = await self.services.store.put_file_async(segment.path)
        except Exception as exc:
            # The temporary file is the only copy left: keep it for the operator.
            await self._segment_failed(active, segment, "store", exc)
            return
        segment.path.unlink(missing_ok=True)
        try:
            recording_id = await active.recording_id()
            if recording_id is None:
                raise RecordingNotWritten(f"no recording row for {active.participant_id}")
            journal = Journal()
            journal.write(
                lambda session: rooms_service.add_segment(
                    session,
                    recording_id=recording_id,
                    seq=segment.seq,
                    sha256=sha256,
                    size=size,
                    duration=round(segment.duration, 3),
                    media_type=segment.media_type,
                )
            )
            await journal.commit(self.services.sessionmaker)
        except Exception as exc:  # stored under its hash, but not in the recording's list
            await self._segment_failed(active, segment, "record", exc, sha256=sha256)

    async def _segment_failed(
        self,
        active: ActiveRecording,
        segment: Segment,
        reason: SegmentFailure,
        exc: BaseException,
        *,
        sha256: str | None = None,
    ) -> None:
        """Log it with every id, mark the gap durably (the recording list shows it), and tell
        the host, who may want to say again what the missing minutes held."""
        participant_id = active.participant_id
        recording_id = active.flushed_id if active.row_id.done() else None
        ids = {
            "room": self.room_id,
            "participant": participant_id,
            "recording": recording_id,
            "seq": segment.seq,
        }
        where = f"stored under {sha256}" if sha256 else f"kept at {segment.path}"
        log.error(
            "recording segment %d of recording %s (room %d, participant %s) was not %s: %s;"
            " it is %s",
            segment.seq,
            recording_id,
            self.room_id,
            participant_id,
            "stored" if reason == "store" else "recorded",
            exc,
            where,
            exc_info=exc,
            extra={**ids, "reason": reason},
        )
        journal = Journal()
        self._event(
            journal,
            "segment_failed",
            participant=participant_id,
            data={"recording_id": recording_id, "seq": segment.seq, "reason": reason},
        )
        try:
            await journal.commit(self.services.sessionmaker)
        except Exception:
            log.exception("the gap could not be recorded either", extra=ids)
        p = self.participants.get(participant_id)
        name = p.identity.name if p is not None else participant_id
        for host in list(self.participants.values()):
            if host.identity.is_host and host.transport is not None:
                text = gettext(
                    host.transport.language,
                    "Part {seq} of {name}'s recording could not be saved. The recording goes"
                    " on; the case page lists the gap.",
                    seq=segment.seq,
                    name=name,
                )
                await self._send(
                    host,
                    "notice",
                    code="recording_segment_failed",
                    name=name,
                    seq=segment.seq,
                    text=text,
                )

    # -- messages -------------------------------------------------------------------------------

    async def handle(self, p: Participant, message: signaling.Incoming) -> None:
        """One message from one participant, as one operation: its writes are committed
        together when it has been handled. Raises signaling.BadMessage to refuse it."""
        kind = message.type
        if kind in signaling.HOST_ONLY and not p.identity.is_host:
            raise signaling.BadMessage(f"Only the mediator may send '{kind}'.")
        if kind in signaling.PARTY_ONLY and p.identity.party_id is None:
            raise signaling.BadMessage(f"Only a party may send '{kind}'.")
        if kind == "ping":
            return
        async with self.operation() as journal:
            if p in self.standbys:
                if kind not in signaling.STANDBY or kind == "join":
                    raise signaling.BadMessage("Join the meeting first.")
            elif kind == "join":
                raise signaling.BadMessage("You are already in the meeting.")
            elif self.participants.get(p.id) is not p:
                return
            if self.closed:
                return
            await self._dispatch(journal, p, message)

    async def _dispatch(
        self, journal: Journal, p: Participant, message: signaling.Incoming
    ) -> None:
        match message:
            case signaling.Answer():
                await self._on_answer(p, message)
            case signaling.Candidate():
                await self._on_candidate(p, message)
            case signaling.Mute():
                await self._on_mute(journal, p, message)
            case signaling.Receive():
                self._on_receive(journal, p, message)
            case signaling.Chat():
                await self._on_chat(p, message)
            case signaling.Consent():
                self._on_consent(journal, p, message)
            case signaling.Admit():
                await self._on_admit(journal, p, message)
            case signaling.Remove():
                await self._on_remove(journal, p, message)
            case signaling.Caucus():
                await self._on_caucus(journal, p, message)
            case signaling.Identity():
                self._on_identity(journal, p, message)
            case signaling.Warning():
                self._on_warning(journal, p, message)
            case signaling.Ping() | signaling.Join():
                pass  # (a ping keeps the socket alive; join is the socket's, on standing by)
            case _:
                assert_never(message)

    async def _on_answer(self, p: Participant, m: signaling.Answer) -> None:
        peer = p.peer
        if peer is None or not peer.negotiating:
            raise signaling.BadMessage("No offer is waiting for an answer.")
        if p.answer_timer is not None:
            p.answer_timer.cancel()
            p.answer_timer = None
        try:
            await peer.apply_answer(m.sdp)
        except Exception as exc:
            peer.negotiating = False
            raise signaling.BadMessage(f"The answer was not accepted: {exc}") from None
        peer.negotiating = False
        if peer.renegotiate and peer.may_renegotiate:
            await self._negotiate(p)

    async def _on_candidate(self, p: Participant, m: signaling.Candidate) -> None:
        if p.peer is None:
            return
        try:
            await p.peer.add_candidate(m.candidate, m.sdpMid, m.sdpMLineIndex)
        except Exception:
            raise signaling.BadMessage("That ICE candidate could not be used.") from None

    async def _on_mute(self, journal: Journal, p: Participant, m: signaling.Mute) -> None:
        target = p
        if m.participant_id is not None and m.participant_id != p.id:
            if not p.identity.is_host:
                raise signaling.BadMessage("Only the mediator may mute someone else.")
            target = self._participant(m.participant_id)
            if m.audio is not None:
                target.host_muted = m.audio
            await self._send(target, "notice", code="muted_by_host", text="")
        else:
            if m.audio is not None:
                p.audio_muted = m.audio
                if not m.audio:
                    p.host_muted = False  # unmuting yourself is always allowed
            if m.video is not None:
                p.video_muted = m.video
        self._apply_policy()
        self._event(
            journal,
            "mute",
            participant=target.id,
            actor=p.id,
            data={"audio": m.audio, "video": m.video},
        )
        await self._roster()

    def _on_receive(self, journal: Journal, p: Participant, m: signaling.Receive) -> None:
        p.receive_video = m.video
        self._apply_policy()
        self._event(journal, "receive", participant=p.id, data={"video": m.video})

    async def _on_chat(self, p: Participant, m: signaling.Chat) -> None:
        at = datetime.now(UTC).isoformat()
        fields = {"from": p.id, "name": p.identity.name, "text": m.text, "at": at}
        for other in self.participants.values():
            # Chat follows the same walls as media: nothing crosses a caucus, or the lobby.
            same_side = not self.caucus or ((other.id in self.caucus) == (p.id in self.caucus))
            if other.admitted and same_side:
                await self._send(other, "chat", **fields)

    def _on_consent(self, journal: Journal, p: Participant, m: signaling.Consent) -> None:
        """Both answers go to the ledger together, or neither does; the host's list shows
        them once they are recorded (recording may then start on them)."""
        for kind, given, key in (
            (ConsentKind.online_mediation, m.online, "online"),
            (ConsentKind.recording, m.recording, "recording"),
        ):
            if p.consents[key] != given or not p.consents_recorded:
                self._consent(
                    journal, kind, given=given, party_id=p.identity.party_id, by=p.identity
                )

        def recorded() -> None:
            p.consents = {"online": m.online, "recording": m.recording}
            p.consents_recorded = True
            self._spawn(self._locked_roster(), participant=p.id)

        journal.on_commit(recorded)

    async def _on_admit(self, journal: Journal, p: Participant, m: signaling.Admit) -> None:
        target = self._participant(m.participant_id)
        self.barred.discard(target.id)  # the host's admission lifts a removal
        if target.admitted:
            return
        target.admitted = True
        self._event(journal, "admit", participant=target.id, actor=p.id)
        if target.connected:
            await self._start_media(target)
            if self.recording:
                await self._send(target, "recording", on=True)
        await self._roster()

    async def _on_remove(self, journal: Journal, p: Participant, m: signaling.Remove) -> None:
        target = self._participant(m.participant_id)
        if target.identity.is_host:
            raise signaling.BadMessage("The mediator cannot be removed.")
        self.barred.add(target.id)
        await self._remove(journal, target, "removed")
        self._apply_policy()
        await self._roster()

    async def _on_caucus(self, journal: Journal, p: Participant, m: signaling.Caucus) -> None:
        chosen = set(m.with_)
        for pid in chosen:
            target = self._participant(pid)
            if not target.admitted:
                raise signaling.BadMessage("Only people in the meeting can join a caucus.")
        self.caucus = frozenset(chosen | {p.id}) if chosen else frozenset()
        self._apply_policy()
        self._event(journal, "caucus", actor=p.id, data={"with": sorted(chosen)})
        await self._broadcast("caucus", **{"with": sorted(self.caucus)})
        await self._roster()

    def _on_identity(self, journal: Journal, p: Participant, m: signaling.Identity) -> None:
        target = self._participant(m.participant_id)
        if target.identity.party_id is None:
            raise signaling.BadMessage("Identity checks are for the parties.")
        self._consent(
            journal,
            ConsentKind.identity_verified,
            given=m.verified,
            party_id=target.identity.party_id,
            by=p.identity,
        )

        def recorded() -> None:
            target.identity_checked = m.verified
            self._spawn(self._locked_roster(), participant=target.id)

        journal.on_commit(recorded)

    def _on_warning(self, journal: Journal, p: Participant, m: signaling.Warning) -> None:
        self._consent(journal, ConsentKind.sham_warning, given=True, party_id=None, by=p.identity)
        journal.on_commit(
            lambda: self._spawn(
                self._locked_broadcast("notice", code="sham_warning_read", text=""),
                participant=p.id,
            )
        )

    async def _locked_broadcast(self, kind: str, **fields: Any) -> None:
        async with self.lock:
            if not self.closed:
                await self._broadcast(kind, **fields)

    def _participant(self, participant_id: str) -> Participant:
        target = self.participants.get(participant_id)
        if target is None:
            raise signaling.BadMessage("No such participant in this room.")
        return target

    # -- the end ------------------------------------------------------------------------------

    async def close(self, reason: str = "closed", *, target: AsyncSession | None = None) -> None:
        """End the room for everyone: every peer, recorder, socket and task. Idempotent.
        ``target``: the session of the request that closes the room, which commits what the
        room writes on the way out (the recordings' ends)."""
        async with self.operation(target) as journal:
            if self.closed:
                return
            self.closed = True
            for pid in list(self.recorders):
                await self._stop_recorder(journal, pid)
            everyone = [*self.participants.values(), *self.standbys]
            self.participants.clear()
            self.standbys = []
            for p in everyone:
                if p.grace is not None:
                    p.grace.cancel()
                if p.answer_timer is not None:
                    p.answer_timer.cancel()
                peer, p.peer = p.peer, None
                if peer is not None:
                    await peer.close()
                if p.transport is not None:
                    transport, p.transport = p.transport, None
                    with contextlib.suppress(Exception):  # a socket already gone
                        await transport.send_text(signaling.out("closed", reason=reason))
                        await transport.close(1000)
        for task in list(self._tasks):
            task.cancel()


def registry_of(app: Any) -> RoomRegistry:
    """The app's live rooms (made by the rooms domain's start-up hook)."""
    registry: RoomRegistry = app.state.rooms
    return registry


class RoomRegistry:
    """The live rooms of this process, by id (a room lives on one media node)."""

    def __init__(self, services: RoomServices) -> None:
        self.services = services
        self.rooms: dict[int, LiveRoom] = {}

    def get_or_create(self, room: Room) -> LiveRoom:
        live = self.rooms.get(room.id or 0)
        if live is None or live.closed:
            live = LiveRoom(room, self.services)
            self.rooms[live.room_id] = live
        return live

    def get(self, room_id: int) -> LiveRoom | None:
        return self.rooms.get(room_id)

    async def close(
        self, room_id: int, reason: str = "closed", *, target: AsyncSession | None = None
    ) -> None:
        live = self.rooms.pop(room_id, None)
        if live is not None:
            await live.close(reason, target=target)

    async def close_all(self) -> None:
        for room_id in list(self.rooms):
            await self.close(room_id, "server_shutdown")
