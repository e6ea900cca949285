"""The server's side of one participant's connection: an RTCPeerConnection that receives the
participant's microphone and camera and sends them everyone they may hear and see.

A peer is closed through one idempotent ``close()``, called from every exit path (failed
connection, socket gone, removed, room closed, server shutdown).
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aioice.ice
from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamTrack
from aiortc.sdp import candidate_from_sdp

from rooms.passthrough import (
    ForwardedTrack,
    PacketFanout,
    SeamChangedError,
    codec_preferences,
    enable_passthrough,
)

log = logging.getLogger("mediation.rooms.peer")

KINDS = ("audio", "video")


@dataclass
class Outgoing:
    """Media of one publisher, of one kind, on its way to this peer's participant."""

    publisher_id: str
    kind: str
    transceiver: RTCRtpTransceiver
    track: ForwardedTrack


_EVERY_INTERFACE = aioice.ice.get_host_addresses


def use_host_addresses(addresses: Sequence[str]) -> None:
    """Gather ICE host candidates only on ``addresses`` (empty: every interface but loopback,
    aioice's own choice). Process-wide, as the interfaces are.

    aioice (pinned in pyproject.toml) takes no list of addresses: each gathering looks up its
    module's ``get_host_addresses``, so the list goes in there. Raises SeamChangedError on an
    aioice that gathers some other way, rather than silently offering every interface."""
    if "get_host_addresses(" not in inspect.getsource(aioice.ice.Connection.gather_candidates):
        raise SeamChangedError("aioice no longer gathers through get_host_addresses()")
    if not addresses:
        aioice.ice.get_host_addresses = _EVERY_INTERFACE
        return
    chosen = list(addresses)

    def host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in chosen if (use_ipv6 if ":" in a else use_ipv4)]

    aioice.ice.get_host_addresses = host_addresses


def ice_configuration(servers: list[dict[str, Any]]) -> RTCConfiguration:
    # MAX_BUNDLE: every m-line shares the first transport from the start. Under aiortc's
    # default (BALANCED) a transceiver added between an offer and its answer borrows a
    # transport that BUNDLE then discards, and its sender never starts.
    return RTCConfiguration(
        bundlePolicy=RTCBundlePolicy.MAX_BUNDLE,
        iceServers=[
            RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
            for s in servers
        ],
    )


class Peer:
    def __init__(
        self,
        *,
        participant_id: str,
        room_id: int,
        ice_servers: list[dict[str, Any]],
        video_codec: str,
        on_published: Callable[[Peer, str, PacketFanout], None],
        on_failed: Callable[[Peer, str], None],
        on_connected: Callable[[Peer], None],
    ) -> None:
        self.participant_id = participant_id
        self.room_id = room_id
        self.video_mime = f"video/{video_codec}"
        self.pc = RTCPeerConnection(ice_configuration(ice_servers))
        self.upstream = {kind: self.pc.addTransceiver(kind, direction="recvonly") for kind in KINDS}
        self.upstream["video"].setCodecPreferences(codec_preferences("video", self.video_mime))
        self.published: dict[str, PacketFanout] = {}
        self.outgoing: dict[tuple[str, str], Outgoing] = {}
        self.negotiating = False
        self.renegotiate = False
        self.closed = False
        self._on_published = on_published
        self._on_failed = on_failed
        self._on_connected = on_connected
        self.offers = 0
        self.pc.on("track", self._track)
        self.pc.on("connectionstatechange", self._state_changed)

    def __repr__(self) -> str:
        return f"Peer(room={self.room_id}, participant={self.participant_id})"

    @property
    def log_ids(self) -> dict[str, Any]:
        return {"room": self.room_id, "participant": self.participant_id}

    def fail(self, reason: str) -> None:
        """The connection cannot carry this participant's media any more (``reason``: "ice"
        or "forwarding"): the room drops the peer and the browser reconnects."""
        if not self.closed:
            self._on_failed(self, reason)

    # -- receiving the participant's own media ---------------------------------------------

    def _track(self, track: MediaStreamTrack) -> None:
        transceiver = next(
            (t for t in self.pc.getTransceivers() if t.receiver.track is track), None
        )
        if transceiver is None or transceiver not in self.upstream.values():
            log.warning("unexpected track %s on %r", track.kind, self)
            return
        try:
            enable_passthrough(transceiver.receiver)
        except Exception:  # SeamChangedError above all: forwarding blind is not an option
            log.exception(
                "cannot forward %s of participant %s in room %d",
                track.kind,
                self.participant_id,
                self.room_id,
                extra=self.log_ids,
            )
            self.fail("forwarding")
            return
        fanout = PacketFanout(
            transceiver.receiver,
            on_error=lambda _exc: self.fail("forwarding"),
            log_ids=self.log_ids,
        )
        fanout.start()
        self.published[track.kind] = fanout
        self._on_published(self, track.kind, fanout)

    async def _state_changed(self) -> None:
        state = self.pc.connectionState
        log.info("connection %s", state, extra=self.log_ids)
        if state == "failed":
            self.fail("ice")
        elif state == "connected" and not self.closed:
            self._on_connected(self)

    @property
    def may_renegotiate(self) -> bool:
        """aiortc starts the senders that a renegotiation adds only if the transport is already
        connected when the answer lands (RTCPeerConnection.__connect skips them while the
        first DTLS handshake runs, and nothing retries). So after the first offer, offer
        again only once connected; ``on_connected`` picks up what waited."""
        return self.offers == 0 or self.pc.connectionState == "connected"

    # -- sending other participants' media -------------------------------------------------

    def subscribe(self, publisher_id: str, kind: str, fanout: PacketFanout, *, open: bool) -> None:
        key = (publisher_id, kind)
        if key in self.outgoing or self.closed:
            return
        track = fanout.subscribe(open=open)
        transceiver = self.pc.addTransceiver(track, direction="sendonly")
        if kind == "video":
            transceiver.setCodecPreferences(codec_preferences("video", self.video_mime))
        track.attach(transceiver.sender)
        self.outgoing[key] = Outgoing(publisher_id, kind, transceiver, track)

    def unsubscribe(self, publisher_id: str) -> bool:
        """Stop sending a publisher's media; the m-lines stay (SDP cannot remove them) but go
        inactive. Returns whether anything changed, i.e. whether to renegotiate."""
        changed = False
        for kind in KINDS:
            out = self.outgoing.pop((publisher_id, kind), None)
            if out is None:
                continue
            out.track.stop()
            out.transceiver.sender.replaceTrack(None)
            out.transceiver.direction = "inactive"
            changed = True
        return changed

    def gate(self, publisher_id: str, kind: str, open: bool) -> None:
        out = self.outgoing.get((publisher_id, kind))
        if out is not None:
            out.track.set_open(open)

    # -- negotiation (the server always offers) ---------------------------------------------

    async def create_offer(self) -> dict[str, Any]:
        self.offers += 1
        offer = await self.pc.createOffer()
        await self.pc.setLocalDescription(offer)
        tracks = {
            out.transceiver.mid: {"participant_id": out.publisher_id, "kind": out.kind}
            for out in self.outgoing.values()
            if out.transceiver.mid is not None
        }
        return {
            "sdp": self.pc.localDescription.sdp,
            "upstream": {kind: t.mid for kind, t in self.upstream.items()},
            "tracks": tracks,
        }

    async def apply_answer(self, sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        for out in self.outgoing.values():
            out.track.prime()

    async def add_candidate(self, candidate: str, sdp_mid: str | None, index: int | None) -> None:
        if not candidate:
            return  # end of candidates
        parsed = candidate_from_sdp(candidate.split(":", 1)[1] if ":" in candidate else candidate)
        parsed.sdpMid = sdp_mid
        parsed.sdpMLineIndex = index
        await self.pc.addIceCandidate(parsed)

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for out in list(self.outgoing.values()):
            out.track.stop()
        self.outgoing.clear()
        for fanout in list(self.published.values()):
            await fanout.close()
        self.published.clear()
        _forgo_consent_checks(self.pc)
        with contextlib.suppress(Exception):
            await self.pc.close()
        log.info("peer closed", extra=self.log_ids)


async def _no_consent_checks() -> None:
    """Stands in for aioice's consent checks on a connection that is being closed."""


def _forgo_consent_checks(pc: RTCPeerConnection) -> None:
    """aioice (0.13) ``Connection.connect()`` starts its consent freshness checks once the
    check list completes, even if ``close()`` ran in between (ICE succeeding while the peer
    closes); that task then sleeps and wakes forever, holding the connection. Before closing,
    shadow the method on each ICE connection of the peer, so a late ``connect()`` starts
    nothing; checks already running are cancelled by ``close()`` as usual."""
    connections: dict[int, Any] = {}
    transports = [t.receiver.transport for t in pc.getTransceivers()]
    transports += [t.sender.transport for t in pc.getTransceivers()]
    if pc.sctp is not None:
        transports.append(pc.sctp.transport)
    for dtls in transports:
        connection = getattr(getattr(dtls, "transport", None), "_connection", None)
        if connection is not None and hasattr(connection, "query_consent"):
            connections[id(connection)] = connection
    for connection in connections.values():
        connection.query_consent = _no_consent_checks
