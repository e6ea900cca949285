"""A participant of a live room: who they are, where they are (one ``Stage``), their media.

Everyone the room knows of is a ``Participant``: a connection standing by (the person is
still checking their camera) as much as someone in the meeting. Where each one is, is one
value, moved only by ``move``, which refuses a move the room does not make; the forwarding
policy, the host's list and the lobby all read it from there.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, TypedDict

from rooms import policy
from service import audit

if TYPE_CHECKING:
    from rooms.peers import Peer


class Transport(Protocol):
    """How the room talks to one browser: a WebSocket (rooms/socket.py)."""

    language: str  # of the page, for the few texts the server words itself

    async def send_text(self, text: str) -> None: ...

    async def close(self, code: int = 1000) -> None: ...


@dataclass(frozen=True)
class Identity:
    """Who is joining, as established by authentication (rooms/access.py)."""

    participant_id: str  # "user-3", "party-12"
    name: str
    role: str  # mediator, judge, applicant, respondent, third_party
    is_host: bool
    party_id: int | None = None
    user_id: int | None = None
    actor: audit.Actor = field(default_factory=lambda: audit.SYSTEM)


class Stage(StrEnum):
    prepared = "prepared"  # a peer made with the room page; its socket has not claimed it yet
    standby = "standby"  # a socket standing by: connected, not in the meeting yet
    lobby = "lobby"  # in the meeting's list, waiting for the host to let them in
    admitted = "admitted"  # in the meeting
    lobby_away = "lobby_away"  # dropped from the lobby: the place kept for RECONNECT_GRACE
    admitted_away = "admitted_away"  # dropped from the meeting: place and admission kept
    removed = "removed"  # removed by the host (the room bars them until admitted again)
    gone = "gone"  # left, timed out, joined (a standby), failed, or the room closed


MOVES: dict[Stage, frozenset[Stage]] = {
    Stage.prepared: frozenset({Stage.standby, Stage.gone}),
    Stage.standby: frozenset({Stage.gone}),  # joining makes a participant of its own
    Stage.lobby: frozenset({Stage.admitted, Stage.lobby_away, Stage.removed, Stage.gone}),
    Stage.admitted: frozenset({Stage.admitted_away, Stage.removed, Stage.gone}),
    Stage.lobby_away: frozenset({Stage.lobby, Stage.admitted_away, Stage.removed, Stage.gone}),
    Stage.admitted_away: frozenset({Stage.admitted, Stage.removed, Stage.gone}),
    Stage.removed: frozenset(),
    Stage.gone: frozenset(),
}
STANDING_BY = frozenset({Stage.prepared, Stage.standby})  # not in the meeting
IN_MEETING = frozenset({Stage.admitted, Stage.admitted_away})  # let in (away or not)
AWAY = frozenset({Stage.lobby_away, Stage.admitted_away})
ENDED = frozenset({Stage.removed, Stage.gone})


class IllegalMove(RuntimeError):
    """The room tried a move its own state machine forbids: a fault of the room's code."""


class Consents(TypedDict):
    online: bool
    recording: bool


@dataclass
class Participant:
    identity: Identity
    stage: Stage
    transport: Transport | None = None
    peer: Peer | None = None
    audio_muted: bool = False
    video_muted: bool = False
    host_muted: bool = False
    receive_video: bool = True
    consents: Consents | None = None  # as last recorded in the ledger; None: not answered
    identity_checked: bool = False
    grace: asyncio.TimerHandle | None = None  # while away: when the place is given up
    answer_timer: asyncio.TimerHandle | None = None  # while an offer is out
    token: str | None = None  # prepared: the token with which the page's socket claims it
    offer: dict[str, Any] | None = None  # prepared: the offer the page carries

    @property
    def id(self) -> str:
        return self.identity.participant_id

    @property
    def admitted(self) -> bool:
        """Let into the meeting (and still so if their connection dropped a moment ago)."""
        return self.stage in IN_MEETING

    @property
    def connected(self) -> bool:
        return self.transport is not None

    def gave_consent(self, key: str) -> bool:
        return self.consents is not None and bool(self.consents.get(key))

    def standing(self) -> policy.Standing:
        return policy.Standing(
            id=self.id,
            admitted=self.stage == Stage.admitted,
            audio_muted=self.audio_muted or self.host_muted,
            video_muted=self.video_muted,
            receive_video=self.receive_video,
        )

    def describe(self, caucus: frozenset[str]) -> dict[str, Any]:
        """As the host's list shows them (parties see less: LiveRoom.roster)."""
        return {
            "id": self.id,
            "name": self.identity.name,
            "role": self.identity.role,
            "audio": not (self.audio_muted or self.host_muted),
            "video": not self.video_muted,
            "in_caucus": self.id in caucus,
            "admitted": self.admitted,
            "connected": self.stage not in AWAY,
            "consents": {
                "online": self.gave_consent("online"),
                "recording": self.gave_consent("recording"),
            },
            "identity_checked": self.identity_checked,
        }


def move(p: Participant, to: Stage) -> None:
    """The one way a participant's stage changes."""
    if to != p.stage and to not in MOVES[p.stage]:
        raise IllegalMove(f"participant {p.id} cannot move from {p.stage} to {to}")
    p.stage = to
    if to not in AWAY and p.grace is not None:  # back, or gone: no place to keep any more
        p.grace.cancel()
        p.grace = None
