"""Room signalling: the typed messages on ``WS /api/rooms/{id}/signal`` (API.md).

One WebSocket per participant; JSON text messages with a ``type``. The server always makes
the offers and the browser answers, so there is no glare. Messages are parsed here, at the
edge: anything malformed, over 64 KiB, or not allowed for the sender's role gets an
``error`` back and changes nothing for anyone else.

Standing by (``?prejoin=1`` on the socket's URL): the room page connects while the person is
still checking their camera, so that the media connection is up by the time they tap Join.
The server welcomes (``joined: false``) and, if Join will let them straight in (the host,
a room that admits automatically, someone admitted before), offers at once; someone bound
for the lobby gets no offer, which would tell them who is in the meeting. Either way the
person is not in the meeting: nobody sees them in the list, nothing is forwarded to or from
them and nothing is logged, and only ``answer``, ``candidate``, ``ping`` and ``join`` are
accepted. ``join`` makes them a participant on the same connection (``joined``); without
``?prejoin=1`` the socket joins as it opens.

The offer usually comes with the room page: serving it, the server makes the standby's peer
and offer at once (``rooms.standby.prepare``) and the page carries them with a one-time token, so
the browser answers while the page is still loading. The page's socket claims that connection
with ``?prejoin=1&standby=<token>``: the welcome then says ``prepared: true`` and no offer
follows. The page does not wait for the welcome: as soon as its socket is open it sends the
answer and its candidates tagged with the token (``standby``), and the server applies tagged
messages only on the socket that claimed that connection, ignoring them anywhere else.
A reload, or a second tab, of a page whose connection is still unclaimed carries the same
token and offer. ``prepared: false`` means there was none to claim (it went unanswered for
ANSWER_TIMEOUT, another page of the same person claimed it, or the token is not this
person's): the browser drops it, and a fresh offer follows as usual, to be answered untagged.
A person stands by on two sockets at most: a third closes the oldest with 4000.

How the browser maps media to people: every ``offer`` carries ``upstream`` (the mids of the
two transceivers on which the browser must send its own microphone and camera) and
``tracks`` (mid -> participant id and kind, for the media the server forwards to it).

Server -> browser
    welcome      {participant_id, role, name, room: {id, kind, status, auto_admit},
                  ice_servers, video_codec}
                 joined: false when standing by (?prejoin=1); prepared: true when
                 the socket claimed the connection whose offer came with the page
                 (there is no "admitted" message: the first offer means you are in)
    joined       {admitted}                          the answer to join; admitted false:
                                                     a lobby message follows, and the
                                                     offer comes on admission (a new peer)
    lobby        {}                                  waiting for the mediator to admit you
    offer        {sdp, upstream: {audio, video}, tracks: {mid: {participant_id, kind}}}
    candidate    {candidate, sdpMid, sdpMLineIndex}  (the server's candidates are in the SDP)
    participants {participants: [{id, name, role, audio, video, in_caucus, admitted,
                                  connected, consents: {online, recording}, identity_checked}]}
                 audio/video true = on. The host sees everyone, including the lobby and the
                 formalities; parties see only who is in the meeting.
    caucus       {with: [participant ids]}           the host included; [] = the caucus ended
    recording    {on}
    agreement    {agreement_id, version}             (agreements issue)
    chat         {from, name, text, at}              also echoed to the sender; at is ISO 8601
    notice       {code, text?, name?, seq?}          codes: muted_by_host, sham_warning_read,
                                                     recording_failed (to the host; name:
                                                     whose recording stopped),
                                                     recording_segment_failed (to the host;
                                                     name, seq: the part of whose recording
                                                     was lost; text: worded by the server)
    closed       {reason}                            closed, removed, left, server_shutdown
    error        {detail}

Close codes: 1000 normal (from the browser: the person left); 4000 the same person joined
from elsewhere; 4001 removed by the mediator (until the mediator admits them again, joining
again leads to the lobby, in a room that admits automatically too); 4002 the media
connection failed, no answer came, or the server could not forward the media (reconnect);
1011 entering or joining failed on the server (an ``error`` says so; nothing of it stays:
reconnect); 4401, 4403, 4404 refused (not signed in, not allowed, not theirs). An ``error``'s
detail is in the socket's language (``?lang=``, or the ``lang`` cookie; Chinese by default).

Browser -> server
    answer       {sdp, standby?}                     standby: the token of the connection
    candidate    {candidate, sdpMid, sdpMLineIndex,  the page came with (sent before the
                  standby?}                          welcome; ignored unless it was claimed)
    mute         {audio?, video?, participant_id?}   true = muted; participant_id: the
                                                     mediator mutes someone (they may unmute)
    receive      {video}                             a weak connection asks for audio only
    chat         {text}
    consent      {online, recording}                 a party, before joining the call
    admit        {participant_id}                    mediator or judge
    remove       {participant_id}                    mediator or judge
    caucus       {with: [participant ids]}           mediator; [] ends the caucus
    identity     {participant_id, verified}          mediator: ID document checked on camera
    warning      {}                                  mediator: the sham-mediation warning was read
    join         {}                                  standing by -> in the meeting
    ping         {}
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from service.i18n import N_

MAX_MESSAGE_BYTES = 64 * 1024
ParticipantId = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z]+-\d+$")]


class _In(BaseModel):
    # Strict: "yes" is no consent and 2.0 no index. A consent goes into the legal ledger,
    # so only a JSON true counts. (No enums or dates here, which strict mode would refuse.)
    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True)


StandbyToken = Annotated[str, Field(min_length=1, max_length=64)]


class Answer(_In):
    type: Literal["answer"]
    sdp: Annotated[str, Field(min_length=10, max_length=MAX_MESSAGE_BYTES)]
    standby: StandbyToken | None = None


class Candidate(_In):
    type: Literal["candidate"]
    candidate: Annotated[str, Field(max_length=1000)]
    sdpMid: Annotated[str, Field(max_length=32)] | None = None
    sdpMLineIndex: Annotated[int, Field(ge=0, le=1000)] | None = None
    standby: StandbyToken | None = None


class Mute(_In):
    type: Literal["mute"]
    audio: bool | None = None
    video: bool | None = None
    participant_id: ParticipantId | None = None


class Receive(_In):
    type: Literal["receive"]
    video: bool


class Chat(_In):
    type: Literal["chat"]
    text: Annotated[str, Field(min_length=1, max_length=2000)]


class Consent(_In):
    type: Literal["consent"]
    online: bool
    recording: bool


class Admit(_In):
    type: Literal["admit"]
    participant_id: ParticipantId


class Remove(_In):
    type: Literal["remove"]
    participant_id: ParticipantId


class Caucus(_In):
    type: Literal["caucus"]
    with_: Annotated[list[ParticipantId], Field(alias="with", max_length=20)]


class Identity(_In):
    type: Literal["identity"]
    participant_id: ParticipantId
    verified: bool


class Warning(_In):
    type: Literal["warning"]


class Ping(_In):
    type: Literal["ping"]


class Join(_In):
    type: Literal["join"]


Incoming = Annotated[
    Answer
    | Candidate
    | Mute
    | Receive
    | Chat
    | Consent
    | Admit
    | Remove
    | Caucus
    | Identity
    | Warning
    | Ping
    | Join,
    Field(discriminator="type"),
]
_incoming: TypeAdapter[Incoming] = TypeAdapter(Incoming)

# Only the room's host (the mediator, or the judge in a confirmation room) may send these.
HOST_ONLY = frozenset({"admit", "remove", "caucus", "identity", "warning"})
PARTY_ONLY = frozenset({"consent"})
# What a connection that is only standing by (not yet joined) may send.
STANDBY = frozenset({"answer", "candidate", "ping", "join"})


class BadMessage(Exception):
    """The message cannot be accepted. ``message`` (a msgid, marked with N_) filled with
    ``params`` is safe to send back to its sender, in their language (rooms/socket.py);
    ``detail`` is it in English."""

    def __init__(self, message: str, /, **params: Any) -> None:
        self.message = message
        self.params = params
        self.detail = message.format(**params) if params else message
        super().__init__(self.detail)


def parse(raw: str | bytes) -> Incoming:
    if isinstance(raw, bytes):
        raise BadMessage(N_("Send JSON text messages, not binary ones."))
    if len(raw.encode()) > MAX_MESSAGE_BYTES:
        raise BadMessage(N_("Message too large (the limit is 64 KiB)."))
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        raise BadMessage(N_("Message is not valid JSON.")) from None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise BadMessage(N_("Message needs a string 'type'."))
    try:
        return _incoming.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()) if p != data["type"])
        raise BadMessage(
            N_("Malformed '{type}' message: {where} {problem}"),
            type=data["type"],
            where=where,
            problem=first["msg"],  # (pydantic's words, in English)
        ) from None


def out(kind: str, **fields: Any) -> str:
    return json.dumps({"type": kind, **fields}, ensure_ascii=False)
