"""Standing by: the media connection is made while the person is still checking their camera,
so that Join costs no ICE, DTLS or offer round trips (rooms/signaling.py says how).

A standby is a participant who is not in the meeting: nobody sees them, nothing is
forwarded to or from them, nothing is logged. It either comes with the room page
(``prepare``: the page carries the offer, and its socket ``claim``s it) or with a socket
(``stand_by``). GET /rooms/{id} makes a peer, so the page's are bounded: a person has at
most one prepared connection waiting, which a reload (or a second tab) is given again while
it is unclaimed, and which goes when its answer is overdue (negotiation.ANSWER_TIMEOUT). A
person's standing-by sockets are bounded too (``MAX_SOCKETS``).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from typing import TYPE_CHECKING, Any

from rooms import negotiation, signaling
from rooms.journal import Journal
from rooms.participant import Identity, Participant, Stage, Transport, move
from service.errors import Conflict

if TYPE_CHECKING:
    from rooms.live import LiveRoom

# Standing-by sockets per person: a second tab beside the first. A third replaces the oldest
# (closed as a socket replaced by the same person elsewhere: its page connects afresh on Join).
MAX_SOCKETS = 2


async def stand_by(room: LiveRoom, identity: Identity, transport: Transport) -> Participant:
    """A socket that is not in the meeting yet: welcome it and connect its media at once,
    with every gate shut (only if Join will lead straight in: the lobby has no peer)."""
    async with room.operation() as journal:
        if await room.ended():
            await transport.send_text(signaling.out("closed", reason="closed"))
            raise Conflict("This meeting has ended.")
        await _make_way(room, journal, identity)
        standby = Participant(identity=identity, stage=Stage.standby, transport=transport)
        room.standbys.append(standby)
        await room.welcome(standby, joined=False)
        if room.goes_straight_in(identity):
            await negotiation.start_media(room, standby)  # not admitted: every gate shut
        return standby


async def prepare(room: LiveRoom, identity: Identity) -> dict[str, Any] | None:
    """The room page is being served: make its standby connection's peer and offer now, for
    the page to carry, so that the browser answers while the page is still loading instead
    of after a socket, a welcome and an offer. Returns the token with which the page's
    socket claims it and the offer; None when Join would lead to the lobby or the meeting
    has ended (the socket then stands by as usual)."""
    async with room.operation() as journal:
        if await room.ended() or not room.goes_straight_in(identity):
            return None
        for old in [p for p in room.standbys if _prepared_for(p, identity)]:
            peer, offer = old.peer, old.offer
            if peer is not None and offer is not None and _in_time(old):
                # A reload, or a second tab: the same connection, still unclaimed, for this
                # page, whose answer gets the time it takes from now.
                if old.answer_timer is not None:
                    old.answer_timer.cancel()
                negotiation.await_answer(room, old, peer)
                return {"token": old.token, **offer}
            await forget(room, journal, old)  # (at most one waits per person)
        standby = Participant(
            identity=identity, stage=Stage.prepared, token=secrets.token_urlsafe(16)
        )
        room.standbys.append(standby)
        offer = await negotiation.start_media(room, standby)
        if offer is None:  # a fresh peer offers at once; without one there is nothing
            await forget(room, journal, standby)
            raise negotiation.NegotiationError(f"no offer from a new peer in room {room.room_id}")
        standby.offer = offer
        return {"token": standby.token, **offer}


async def claim(
    room: LiveRoom, identity: Identity, token: str, transport: Transport
) -> Participant | None:
    """The standby socket of a page that carried a prepared offer takes that connection
    over. None if there is none to take (it expired, was replaced by a newer page, or is
    not this person's): the socket then stands by afresh."""
    async with room.operation() as journal:
        if room.closed:
            return None
        standby = next(
            (
                p
                for p in room.standbys
                if _prepared_for(p, identity)
                and p.token is not None
                and secrets.compare_digest(p.token, token)
            ),
            None,
        )
        if standby is None or standby.peer is None:
            return None
        await _make_way(room, journal, identity)
        move(standby, Stage.standby)
        standby.token = standby.offer = None
        standby.transport = transport
        await room.welcome(standby, joined=False, prepared=True)
        return standby


async def drop(room: LiveRoom, standby: Participant) -> None:
    """The standby's socket closed before it joined."""
    async with room.operation() as journal:
        if standby in room.standbys:
            await forget(room, journal, standby)


async def forget(room: LiveRoom, journal: Journal, standby: Participant) -> None:
    room.standbys.remove(standby)
    move(standby, Stage.gone)
    standby.transport = None
    await negotiation.drop_peer(room, journal, standby)


async def _make_way(room: LiveRoom, journal: Journal, identity: Identity) -> None:
    """Room for one more standing-by socket of this person: the oldest beyond
    ``MAX_SOCKETS`` go (a tab left open and forgotten, most likely)."""
    mine = [
        p for p in room.standbys if p.stage == Stage.standby and p.id == identity.participant_id
    ]
    for old in mine[: max(0, len(mine) + 1 - MAX_SOCKETS)]:
        transport = old.transport
        await forget(room, journal, old)
        if transport is not None:
            with contextlib.suppress(Exception):  # (a socket gone already)
                await transport.close(4000)


def _in_time(p: Participant) -> bool:
    """Its offer still waits for an answer, within its deadline (once that has passed, its
    dropping is queued behind this operation)."""
    timer = p.answer_timer
    return (
        p.peer is not None
        and p.peer.negotiating
        and timer is not None
        and timer.when() > asyncio.get_running_loop().time()
    )


def _prepared_for(p: Participant, identity: Identity) -> bool:
    return p.stage == Stage.prepared and p.id == identity.participant_id
