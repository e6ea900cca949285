"""A live room's media connections: making each participant's peer, wiring who is sent whose
media, and the offers and answers that carry it (the server always offers, so there is no
glare). Which of the wired media may flow is forwarding's decision (rooms/forwarding.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from typing import TYPE_CHECKING, Any

from rooms import forwarding, recorders, signaling
from rooms.journal import Journal
from rooms.participant import STANDING_BY, Participant, Stage, move
from rooms.passthrough import PacketFanout
from rooms.peers import Peer
from service.i18n import N_

if TYPE_CHECKING:
    from rooms.live import LiveRoom

log = logging.getLogger("mediation.rooms")

ANSWER_TIMEOUT = 15.0  # seconds an offer waits for its answer (a prepared one for its page)


class NegotiationError(RuntimeError):
    """The server's own peer did not produce an offer: a fault of ours, not the caller's."""


async def start_media(room: LiveRoom, p: Participant) -> dict[str, Any] | None:
    """A new peer for ``p``, sent everyone's published media (gates as the policy says),
    and its first offer. Returns the offer."""
    peer = Peer(
        participant_id=p.id,
        room_id=room.room_id,
        ice_servers=room.services.ice_servers,
        video_codec=room.services.video_codec,
        on_published=functools.partial(published, room),
        on_failed=functools.partial(_failed, room),
        on_connected=functools.partial(_connected, room),
    )
    p.peer = peer
    for other in room.participants.values():
        if other.id == p.id or other.peer is None:
            continue  # (a standby beside the same person's live call: not themselves)
        for kind, fanout in other.peer.published.items():
            peer.subscribe(other.id, kind, fanout, open=forwarding.allowed(room, p, other, kind))
    return await negotiate(room, p)


async def adopt(room: LiveRoom, p: Participant, peer: Peer) -> None:
    """Take over the peer a standby connected: publish what it already receives from the
    browser, and open the gates the room's policy allows."""
    p.peer = peer
    for kind, fanout in list(peer.published.items()):
        published(room, peer, kind, fanout)
    forwarding.apply_policy(room)
    if peer.renegotiate:
        await negotiate(room, p)


async def drop_peer(
    room: LiveRoom, journal: Journal, p: Participant, *, leaving: bool = False
) -> None:
    """Close ``p``'s peer (and their recorder: ``leaving``, or still in the meeting) and
    take their media off everyone else's connection."""
    peer, p.peer = p.peer, None
    if p.answer_timer is not None:
        p.answer_timer.cancel()
        p.answer_timer = None
    if peer is None:
        return
    # A standby has no recorder (the same person's live call may have one).
    if leaving or room.participants.get(p.id) is p:
        await recorders.stop_recorder(room, journal, p.id)
    await peer.close()
    for other in room.with_peers():
        if other.peer is not None and other.peer.unsubscribe(p.id):
            await negotiate(room, other)


def published(room: LiveRoom, peer: Peer, kind: str, fanout: PacketFanout) -> None:
    """A participant's microphone or camera has arrived: forward it to the others."""
    publisher = room.participants.get(peer.participant_id)
    if publisher is None or publisher.peer is not peer:
        return  # gone, replaced, or only standing by: a standby publishes nothing
    for other in room.with_peers():
        if other.peer is not None and other.id != publisher.id:
            allowed = forwarding.allowed(room, other, publisher, kind)
            other.peer.subscribe(publisher.id, kind, fanout, open=allowed)
            room.tasks.spawn(_renegotiate(room, other), participant=other.id)
    if room.recording:
        room.tasks.spawn(recorders.record_newcomer(room, publisher), participant=publisher.id)


async def negotiate(room: LiveRoom, p: Participant) -> dict[str, Any] | None:
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
    await room.send(p, "offer", **offer)  # (a prepared standby has no socket yet)
    await_answer(room, p, peer)
    return offer


async def _renegotiate(room: LiveRoom, p: Participant) -> None:
    async with room.operation():
        # (a prepared standby has no socket yet, but notes the offer due after its answer)
        if p.peer is not None and (p.transport is not None or p.stage == Stage.prepared):
            await negotiate(room, p)


def await_answer(room: LiveRoom, p: Participant, peer: Peer) -> None:
    p.answer_timer = asyncio.get_running_loop().call_later(
        ANSWER_TIMEOUT, lambda: room.tasks.spawn(_answer_missing(room, p, peer), participant=p.id)
    )


async def _answer_missing(room: LiveRoom, p: Participant, peer: Peer) -> None:
    async with room.operation() as journal:
        if p.peer is not peer or not peer.negotiating:
            return
        if p.stage == Stage.prepared:  # its page never claimed it: it goes
            room.standbys.remove(p)
            move(p, Stage.gone)
            await drop_peer(room, journal, p)
            return
        log.warning("no answer", extra={"room": room.room_id, "participant": p.id})
        await drop_peer(room, journal, p)
        if p.transport is not None:
            with contextlib.suppress(Exception):  # the socket may be gone already
                await p.transport.close(4002)


async def answer(room: LiveRoom, p: Participant, sdp: str) -> None:
    peer = p.peer
    if peer is None or not peer.negotiating:
        raise signaling.BadMessage(N_("No offer is waiting for an answer."))
    if p.answer_timer is not None:
        p.answer_timer.cancel()
        p.answer_timer = None
    try:
        await peer.apply_answer(sdp)
    except Exception as exc:
        peer.negotiating = False
        raise signaling.BadMessage(
            N_("The answer was not accepted: {problem}"), problem=str(exc)
        ) from None
    peer.negotiating = False
    if peer.renegotiate and peer.may_renegotiate:
        await negotiate(room, p)


async def candidate(room: LiveRoom, p: Participant, m: signaling.Candidate) -> None:
    if p.peer is None:
        return
    try:
        await p.peer.add_candidate(m.candidate, m.sdpMid, m.sdpMLineIndex)
    except Exception:
        raise signaling.BadMessage(N_("That ICE candidate could not be used.")) from None


def _connected(room: LiveRoom, peer: Peer) -> None:
    p = room.owner(peer)
    if p is not None and peer.renegotiate:
        room.tasks.spawn(_renegotiate(room, p), participant=p.id)


def _failed(room: LiveRoom, peer: Peer, reason: str) -> None:
    room.tasks.spawn(_drop_failed(room, peer, reason), participant=peer.participant_id)


async def _drop_failed(room: LiveRoom, peer: Peer, reason: str) -> None:
    """``reason``: "ice" (the connection failed) or "forwarding" (the server cannot pass
    this participant's media on, logged loudly where it happened)."""
    async with room.operation() as journal:
        p = room.owner(peer)
        if p is None:
            return
        if p.stage in STANDING_BY:
            room.standbys.remove(p)
            move(p, Stage.gone)
        else:
            room.event(journal, f"{reason}_failed", participant=p.id)
        await drop_peer(room, journal, p)
    # The browser reconnects its socket and gets a fresh peer on the next welcome.
    if p.transport is not None:
        with contextlib.suppress(Exception):  # the socket may be gone already
            await p.transport.close(4002)
