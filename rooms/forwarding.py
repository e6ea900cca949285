"""Forwarding: the room's policy (rooms/policy.py) applied to the gates of every forwarded
track and recorder. Nothing decides who receives whom but ``policy``; this only applies it,
after anything that may change its answer (admission, a caucus, a mute, a departure)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rooms import policy
from rooms.participant import Participant

if TYPE_CHECKING:
    from rooms.live import LiveRoom


def allowed(room: LiveRoom, subscriber: Participant, publisher: Participant, kind: str) -> bool:
    return policy.may_receive(subscriber.standing(), publisher.standing(), kind, room.caucus)


def may_be_recorded(room: LiveRoom, p: Participant | None) -> bool:
    return p is not None and policy.may_be_recorded(p.standing(), room.caucus)


def apply_policy(room: LiveRoom) -> None:
    """Open or shut every gate as the policy now says."""
    for sub in room.participants.values():
        if sub.peer is None or sub.peer.closed:
            continue
        for publisher_id, kind in list(sub.peer.outgoing):
            pub = room.participants.get(publisher_id)
            sub.peer.gate(publisher_id, kind, pub is not None and allowed(room, sub, pub, kind))
    for pid, active in room.recorders.items():
        active.recorder.gate(may_be_recorded(room, room.participants.get(pid)))
