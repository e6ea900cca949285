"""A live room: who is in it, and the operations that change it (join, leave, a message, close).

One ``LiveRoom`` per open room, kept in the app's registry (rooms/sfu.py). Everything the
room does is one operation (``operation``): a signalling message, a timer, a failed
connection, a REST call. Operations run one at a time under the room's lock, and each has
one journal for its writes, written when it ends (rooms/journal.py). The room's other
concerns live beside it, as functions of the room: standing by (rooms/standby.py), media
negotiation (rooms/negotiation.py), forwarding (rooms/forwarding.py), recording
(rooms/recorders.py), and the host's and parties' commands (rooms/commands.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, assert_never

from sqlmodel.ext.asyncio.session import AsyncSession

from rooms import commands, ending, forwarding, negotiation, recorders, signaling
from rooms import service as rooms_service
from rooms.journal import Journal
from rooms.models import ConsentKind, Room, RoomStatus
from rooms.participant import ENDED, STANDING_BY, Identity, Participant, Stage, Transport, move
from rooms.peers import Peer
from rooms.tasks import RoomTasks
from service.db import unit_of_work
from service.errors import Conflict
from service.i18n import N_

if TYPE_CHECKING:
    from rooms.sfu import RoomServices

log = logging.getLogger("mediation.rooms")

RECONNECT_GRACE = 20.0  # seconds a dropped participant keeps their place (and admission)


class LiveRoom:
    def __init__(
        self,
        room: Room,
        services: RoomServices,
        on_idle: Callable[[LiveRoom], None] = lambda _room: None,
    ) -> None:
        self.room_id = room.id or 0
        self.case_id = room.case_id
        self.kind = room.kind
        self.auto_admit = room.auto_admit
        self.services = services
        self.participants: dict[str, Participant] = {}  # in the meeting or its lobby, by id
        # Connections standing by: a peer each, nothing forwarded, not in the meeting. Not
        # keyed by person: a second tab may stand by beside a live call.
        self.standbys: list[Participant] = []
        self.caucus: frozenset[str] = frozenset()
        self.recorders: dict[str, recorders.ActiveRecording] = {}
        self.recording = False
        # Removed by the host: back only through the lobby, until the host admits them again
        # (read from the room's log when this live room is made: ``ended``).
        self.barred: set[str] = set()
        self.closed = False
        self.loaded = False  # whether ``ended`` has read the record yet
        self.lock = asyncio.Lock()
        self.tasks = RoomTasks(self.room_id)
        # Runs while nobody is in the room (rooms/ending.py); the registry closes it if it
        # runs out (``on_idle``) and starts it when the room comes to life.
        self.idle = ending.IdleTimer(services.idle_seconds, lambda: on_idle(self))

    # -- plumbing ----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def operation(self, target: AsyncSession | None = None) -> AsyncIterator[Journal]:
        """One thing the room does: under the room's lock, with one journal for its writes,
        written when it ends, in a unit of work of its own or (``target``) in a request's
        transaction. If it raises, none are."""
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

    async def send(self, p: Participant, kind: str, **fields: Any) -> None:
        if p.transport is None:
            return
        try:
            await p.transport.send_text(signaling.out(kind, **fields))
        except Exception:  # a dead socket is handled by its reader; never break the room
            log.info("send failed", extra={"room": self.room_id, "participant": p.id})

    async def broadcast(self, kind: str, **fields: Any) -> None:
        for p in list(self.participants.values()):
            await self.send(p, kind, **fields)

    async def roster(self) -> None:
        people = [p.describe(self.caucus) for p in self.participants.values()]
        for p in list(self.participants.values()):
            if p.identity.is_host:
                await self.send(p, "participants", participants=people)
            else:  # parties see who is in the meeting, not the lobby or the formalities
                visible = [
                    {k: v for k, v in d.items() if k not in ("consents", "identity_checked")}
                    for d in people
                    if d["admitted"]
                ]
                await self.send(p, "participants", participants=visible)

    async def then(self, action: Callable[[], Awaitable[None]]) -> None:
        """Do ``action`` once the operation that asked for it has ended (this waits for the
        lock), for what must follow the record: the host's list once a consent is written.
        Spawned (tasks.spawn) from the journal's on_commit."""
        async with self.lock:
            if not self.closed:
                await action()

    def event(
        self,
        journal: Journal,
        kind: str,
        *,
        participant: str | None = None,
        actor: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        """An entry of the room's own log, written with the operation."""
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

    def ledger(
        self,
        journal: Journal,
        kind: ConsentKind,
        *,
        given: bool,
        party_id: int | None,
        by: Identity,
    ) -> None:
        """An entry of the consent ledger (and the case's audit chain), written with the
        operation."""

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

    def participant(self, participant_id: str) -> Participant:
        target = self.participants.get(participant_id)
        if target is None:
            raise signaling.BadMessage(N_("No such participant in this room."))
        return target

    def owner(self, peer: Peer) -> Participant | None:
        """Whose peer this is, if it is still anyone's."""
        p = self.participants.get(peer.participant_id)
        if p is not None and p.peer is peer:
            return p
        return next((s for s in self.standbys if s.peer is peer), None)

    def with_peers(self) -> list[Participant]:
        """Everyone whose peer receives forwarded media: participants and standbys."""
        return [p for p in [*self.participants.values(), *self.standbys] if p.peer is not None]

    # -- joining and leaving ------------------------------------------------------------------

    async def ended(self) -> bool:
        """Asked under the lock before anyone comes in. First, a live room reads the record
        (it may be new: after a restart, or made while its closing was being committed):
        whether the room has closed, and whom the host removed and has not let in again."""
        if not self.closed and not self.loaded:
            async with unit_of_work(self.services.sessionmaker, read_only=True) as session:
                room = await rooms_service.get_room(session, self.room_id)
                removed = await rooms_service.removed_participants(session, room_id=self.room_id)
            self.barred |= removed
            self.loaded = True
            self.closed = room.status == RoomStatus.closed  # (its idle timer lets it go)
        return self.closed

    def goes_straight_in(self, identity: Identity) -> bool:
        """Whether Join leads into the meeting rather than to the lobby. Only then is a media
        connection made before Join: the lobby has no peer, and an offer would tell someone
        not yet let in who is in the meeting."""
        earlier = self.participants.get(identity.participant_id)
        return (earlier is not None and earlier.admitted) or self.admits_at_once(identity)

    def admits_at_once(self, identity: Identity) -> bool:
        """Whether someone new to the meeting skips the lobby: the host does; a party does in
        a room that admits automatically, unless the host removed them."""
        return identity.is_host or (self.auto_admit and identity.participant_id not in self.barred)

    async def welcome(self, p: Participant, *, joined: bool, prepared: bool = False) -> None:
        await self.send(
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
            if await self.ended():
                await transport.send_text(signaling.out("closed", reason="closed"))
                raise Conflict("This meeting has ended.")
            self.idle.cancel()
            warm: Peer | None = None
            if standby is not None and standby in self.standbys:
                self.standbys.remove(standby)
                move(standby, Stage.gone)  # its connection carries on as the participant's
                warm, standby.peer = standby.peer, None
                if standby.answer_timer is not None:
                    standby.answer_timer.cancel()
                    standby.answer_timer = None
            p = self.participants.get(identity.participant_id)
            rejoin = p is not None
            if p is None:
                stage = Stage.admitted if self.admits_at_once(identity) else Stage.lobby
                p = Participant(identity=identity, stage=stage)
                self.participants[p.id] = p
            else:
                # The same person again (a phone moving from Wi-Fi to 4G): replace the stale
                # socket and peer, keep their admission and consents.
                move(p, Stage.admitted if p.admitted else Stage.lobby)
                old, p.transport = p.transport, None
                if old is not None:
                    with contextlib.suppress(Exception):  # it may be gone already
                        await old.close(4000)
                await negotiation.drop_peer(self, journal, p)
            p.transport = transport
            if standby is None:
                await self.welcome(p, joined=True)
            else:
                await self.send(p, "joined", admitted=p.admitted)
            # The offer first, the bookkeeping after: ICE and DTLS run while it is written.
            if p.admitted and warm is not None:
                if warm.negotiating:  # the standby's offer is still out: keep its deadline
                    negotiation.await_answer(self, p, warm)
                await negotiation.adopt(self, p, warm)
            elif p.admitted:
                await negotiation.start_media(self, p)
            else:
                if warm is not None:
                    # The lobby has no peer: the browser starts a fresh one on "lobby".
                    await warm.close()
                await self.send(p, "lobby")
            if identity.is_host:
                self._open_room(journal, identity)
            self.event(journal, "rejoin" if rejoin else "join", participant=p.id)
            if self.recording:
                await self.send(p, "recording", on=True)
            if self.caucus:
                await self.send(p, "caucus", **{"with": sorted(self.caucus)})
            await self.roster()
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
            move(p, Stage.admitted_away if p.admitted else Stage.lobby_away)
            await negotiation.drop_peer(self, journal, p)
            self.event(journal, "disconnect", participant=p.id)
            p.grace = asyncio.get_running_loop().call_later(
                RECONNECT_GRACE, lambda: self.tasks.spawn(self._expire(p), participant=p.id)
            )
            await self.roster()

    async def leave(self, p: Participant, transport: Transport) -> None:
        """The person closed the page or tapped Leave: gone now, not after the grace time."""
        async with self.operation() as journal:
            if p.transport is not transport or self.participants.get(p.id) is not p:
                return
            p.transport = None
            await self.remove(journal, p, Stage.gone)
            forwarding.apply_policy(self)
            await self.roster()

    async def _expire(self, p: Participant) -> None:
        async with self.operation() as journal:
            if p.transport is None and self.participants.get(p.id) is p:
                await self.remove(journal, p, Stage.gone)
                await self.roster()

    async def remove(self, journal: Journal, p: Participant, to: Stage) -> None:
        """Out of the meeting: ``to`` removed (by the host) or gone (left, timed out)."""
        self.participants.pop(p.id, None)
        if not self.participants:
            self.idle.arm()
        move(p, to)
        await negotiation.drop_peer(self, journal, p, leaving=True)
        why = "removed" if to == Stage.removed else "left"
        if p.transport is not None:
            transport, p.transport = p.transport, None
            with contextlib.suppress(Exception):  # a socket already gone needs no goodbye
                await transport.send_text(signaling.out("closed", reason=why))
                await transport.close(4001 if to == Stage.removed else 1000)
        if p.id in self.caucus:
            self.caucus = self.caucus - {p.id}
        self.event(journal, "leave", participant=p.id, data={"why": why})

    # -- messages -------------------------------------------------------------------------------

    async def handle(self, p: Participant, message: signaling.Incoming) -> None:
        """One message from one participant, as one operation: its writes are committed
        together once it has been handled. Raises signaling.BadMessage to refuse it."""
        kind = message.type
        if kind in signaling.HOST_ONLY and not p.identity.is_host:
            raise signaling.BadMessage(N_("Only the host of this meeting may do this."))
        if kind in signaling.PARTY_ONLY and p.identity.party_id is None:
            raise signaling.BadMessage(N_("Only a party may send '{kind}'."), kind=kind)
        if kind == "ping":
            return
        async with self.operation() as journal:
            if self.closed or p.stage in ENDED:
                return  # (a standby whose connection failed, someone removed meanwhile)
            if p.stage in STANDING_BY:
                if kind not in signaling.STANDBY or kind == "join":
                    raise signaling.BadMessage(N_("Join the meeting first."))
            elif kind == "join":
                raise signaling.BadMessage(N_("You are already in the meeting."))
            await self._dispatch(journal, p, message)

    async def _dispatch(
        self, journal: Journal, p: Participant, message: signaling.Incoming
    ) -> None:
        match message:
            case signaling.Answer():
                await negotiation.answer(self, p, message.sdp)
            case signaling.Candidate():
                await negotiation.candidate(self, p, message)
            case signaling.Mute():
                await commands.mute(self, journal, p, message)
            case signaling.Receive():
                commands.receive(self, journal, p, message)
            case signaling.Chat():
                await commands.chat(self, p, message)
            case signaling.Consent():
                commands.consent(self, journal, p, message)
            case signaling.Admit():
                commands.admit(self, journal, p, message)
            case signaling.Remove():
                commands.remove(self, journal, p, message)
            case signaling.Caucus():
                await commands.caucus(self, journal, p, message)
            case signaling.Identity():
                commands.identity(self, journal, p, message)
            case signaling.Warning():
                commands.warning(self, journal, p)
            case signaling.Ping() | signaling.Join():
                pass  # (a ping only keeps the socket alive; a join is the socket's own)
            case _:
                assert_never(message)

    # -- the end ------------------------------------------------------------------------------

    async def close(self, reason: str = "closed", *, target: AsyncSession | None = None) -> None:
        """End the room for everyone: every peer, recorder, socket and task. Idempotent.
        ``target``: the session of the request that closes the room, which commits what the
        room writes on the way out (the recordings' ends)."""
        async with self.operation(target) as journal:
            await ending.shut(self, journal, reason)
        self.tasks.cancel_all()
