"""Packet loss is repaired per hop through the pass-through SFU: aiortc peers in process.

publisher -> server_in (``PacketFanout``) -> server_out (``ForwardedTrack``) -> subscriber,
with every 10th video RTP packet dropped on the server_out -> subscriber hop only. The
subscriber NACKs them, the server's own sender answers from its history with RTX, no NACK
goes upstream to the publisher, and the subscriber keeps decoding video (and audio).

Without repair aiortc's video jitter buffer stops at the first hole and only gives up
512 packets (several seconds) later with a PLI, so decoding "near the sent rate" through
the loss is itself proof that the holes were filled.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiortc
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RTCP_RTPFB_NACK, RtcpRtpfbPacket, RtpPacket, is_rtcp

from rooms import passthrough
from tests.rooms.client import Camera, Tone
from tests.rooms.conftest import eventually
from tests.rooms.test_passthrough import _connect, _forward, _pc, _prefer, _publish_through

LOSS_EVERY = 10  # drop every 10th original video RTP packet on the last hop
CLEAN_WINDOW = 2.0  # seconds measured without loss
LOSS_WINDOW = 3.0  # seconds measured with loss
CONTROL_WINDOW = 2.0  # seconds of the same loss with the server's retransmission disabled
OPUS_FRAME = 960  # samples per 20 ms Opus packet: Tone's samples / 960 = audio packets sent


def _nacked(packet: Any) -> list[int] | None:
    if isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
        return list(packet.lost)
    return None


def _spy_rtcp(sender: aiortc.RTCRtpSender, nacks: list[list[int]]) -> None:
    """Record the NACKs that reach ``sender`` (the transport routes them by media SSRC)."""
    internals: Any = sender  # an instance attribute shadows the method
    original: Callable[[Any], Awaitable[None]] = internals._handle_rtcp_packet

    async def handle(packet: Any) -> None:
        lost = _nacked(packet)
        if lost is not None:
            nacks.append(lost)
        await original(packet)

    internals._handle_rtcp_packet = handle


def _spy_nack_out(receiver: aiortc.RTCRtpReceiver, nacks: list[list[int]]) -> None:
    """Record the NACKs that ``receiver`` composes for its own hop."""
    internals: Any = receiver
    original: Callable[[int, list[int]], Awaitable[None]] = internals._send_rtcp_nack

    async def send(media_ssrc: int, lost: list[int]) -> None:
        nacks.append(list(lost))
        await original(media_ssrc, lost)

    internals._send_rtcp_nack = send


class Lossy:
    """Wraps the server_out DTLS transport's ``_send_rtp``: drops every ``LOSS_EVERY``th
    original video RTP packet while ``dropping``; never RTCP, audio or retransmissions.
    Also records which sequence numbers the RTX stream carried back."""

    def __init__(self, sender: aiortc.RTCRtpSender) -> None:
        self.ssrc: int = sender._ssrc
        self.rtx_ssrc: int = sender._rtx_ssrc
        self.dropping = False
        self.video = 0
        self.dropped: list[int] = []
        self.retransmitted: list[int] = []
        transport: Any = sender.transport
        original: Callable[[bytes], Awaitable[None]] = transport._send_rtp

        async def send_rtp(data: bytes) -> None:
            if not is_rtcp(data) and len(data) >= 12:
                ssrc = int.from_bytes(data[8:12], "big")
                if ssrc == self.ssrc:
                    self.video += 1
                    if self.dropping and self.video % LOSS_EVERY == 0:
                        self.dropped.append(int.from_bytes(data[2:4], "big"))
                        return  # lost on the wire
                elif ssrc == self.rtx_ssrc:
                    rtx = RtpPacket.parse(data)
                    self.retransmitted.append(int.from_bytes(rtx.payload[0:2], "big"))
            await original(data)

        transport._send_rtp = send_rtp


async def test_loss_on_the_last_hop_is_repaired_there_and_video_keeps_decoding() -> None:
    publisher, server_in, server_out, subscriber = _pc(), _pc(), _pc(), _pc()
    fanouts: dict[str, passthrough.PacketFanout] = {}
    tasks: list[asyncio.Task[None]] = []
    try:
        camera, tone = Camera(), Tone()
        video = publisher.addTransceiver(camera, direction="sendonly")
        _prefer(video, "video/VP8")
        publisher.addTransceiver(tone, direction="sendonly")
        upstream_nacks: list[list[int]] = []  # reaching the publisher's video sender
        _spy_rtcp(video.sender, upstream_nacks)
        keyframe_requests: list[float] = []
        passthrough.on_keyframe_request(
            video.sender, lambda: keyframe_requests.append(time.monotonic())
        )

        server_in_nacks: list[list[int]] = []  # composed by the server for the first hop

        def spy(track: aiortc.MediaStreamTrack, receiver: aiortc.RTCRtpReceiver) -> None:
            if track.kind == "video":
                _spy_nack_out(receiver, server_in_nacks)

        _publish_through(server_in, fanouts, spy)
        await _connect(publisher, server_in)
        await eventually(lambda: len(fanouts) == 2, what="both tracks published")
        out_video = _forward(fanouts, server_out, "video/VP8")
        served_nacks: list[list[int]] = []  # reaching the server's video sender
        _spy_rtcp(out_video.sender, served_nacks)

        decoded: dict[str, int] = {"video": 0, "audio": 0}
        video_at: list[float] = []

        async def count(track: aiortc.MediaStreamTrack) -> None:
            while True:
                try:
                    await track.recv()
                except MediaStreamError:
                    return
                decoded[track.kind] += 1
                if track.kind == "video":
                    video_at.append(time.monotonic())

        subscriber.on("track", lambda t: tasks.append(asyncio.ensure_future(count(t))))
        await _connect(server_out, subscriber)
        # After negotiation: with MAX_BUNDLE the senders now share the bundle transport.
        lossy = Lossy(out_video.sender)
        receiver: Any = next(r for r in subscriber.getReceivers() if r.track.kind == "video")
        subscriber_nacks: list[list[int]] = []
        _spy_nack_out(receiver, subscriber_nacks)
        subscriber_plis: list[float] = []
        original_pli = receiver._send_rtcp_pli

        async def send_pli(media_ssrc: int) -> None:
            subscriber_plis.append(time.monotonic())
            await original_pli(media_ssrc)

        receiver._send_rtcp_pli = send_pli
        repaired: list[int] = []  # original sequence numbers the RTX stream delivered
        original_rtp = receiver._handle_rtp_packet

        async def handle_rtp(packet: RtpPacket, arrival_time_ms: int) -> None:
            if packet.ssrc == lossy.rtx_ssrc and len(packet.payload) >= 2:
                repaired.append(int.from_bytes(packet.payload[0:2], "big"))
            await original_rtp(packet, arrival_time_ms=arrival_time_ms)

        receiver._handle_rtp_packet = handle_rtp

        await eventually(
            lambda: decoded["video"] > 20 and decoded["audio"] > 20,
            what="subscriber decoding",
            within=20,
        )

        def snapshot() -> dict[str, float]:
            return {
                "sent_video": camera.n,
                "sent_audio": tone.samples / OPUS_FRAME,
                "video": decoded["video"],
                "audio": decoded["audio"],
                "at": time.monotonic(),
            }

        def delta(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
            return {k: b[k] - a[k] for k in a}

        start = snapshot()
        await asyncio.sleep(CLEAN_WINDOW)
        lossy.dropping = True
        loss_start = snapshot()
        await asyncio.sleep(LOSS_WINDOW)
        lossy.dropping = False
        loss_end = snapshot()
        clean, lossy_window = delta(start, loss_start), delta(loss_start, loss_end)
        dropped = set(lossy.dropped)

        await eventually(
            lambda: dropped <= set(repaired), what="every dropped packet repaired", within=5
        )
        gaps = [
            b - a
            for a, b in itertools.pairwise(video_at)
            if loss_start["at"] <= a <= loss_end["at"]
        ]
        pli_in_loss = [t for t in subscriber_plis if loss_start["at"] <= t <= loss_end["at"]]
        print(
            f"\nclean {clean}\nloss {lossy_window}\n"
            f"video RTP {lossy.video}, dropped {len(dropped)}, "
            f"subscriber NACKs {len(subscriber_nacks)} "
            f"({sum(len(n) for n in subscriber_nacks)} seqs), "
            f"server sender NACKs {len(served_nacks)}, RTX sent {len(lossy.retransmitted)}, "
            f"RTX received {len(repaired)}, upstream NACKs {len(upstream_nacks)}, "
            f"server_in NACKs {len(server_in_nacks)}, subscriber PLIs in loss "
            f"{len(pli_in_loss)}, keyframe requests {len(keyframe_requests)}, "
            f"max gap in loss {max(gaps, default=0):.3f}s"
        )

        # Loss was injected (on this hop, original video packets only, by construction).
        assert len(dropped) >= 3, f"too little loss injected: {lossy.dropped}"
        # The subscriber asked for every packet that was lost ...
        nacked = {seq for n in subscriber_nacks for seq in n}
        assert dropped <= nacked, f"not NACKed: {sorted(dropped - nacked)}"
        # ... the server's sender received those NACKs and answered them itself ...
        served = {seq for n in served_nacks for seq in n}
        assert dropped <= served, f"NACKs not reaching the server: {sorted(dropped - served)}"
        assert dropped <= set(lossy.retransmitted), "the server did not retransmit"
        # ... on its RTX stream, which reached the subscriber (checked by eventually above).
        # Per hop: nothing the subscriber asked for goes upstream. Every NACK that reached
        # the publisher (normally none) was composed by server_in for its own hop.
        assert all(n in server_in_nacks for n in upstream_nacks), (
            f"NACKs forwarded upstream: {upstream_nacks} vs server_in's {server_in_nacks}"
        )
        # Repair, not recovery by keyframe: video keeps decoding near the rate it was sent.
        assert lossy_window["sent_video"] > 0
        assert lossy_window["video"] >= 0.5 * lossy_window["sent_video"], lossy_window
        assert lossy_window["video"] >= 0.5 * clean["video"], (clean, lossy_window)
        assert max(gaps, default=0.0) < 2.0, "video stalled during the loss"
        assert not pli_in_loss, "the subscriber fell back to asking for a keyframe"
        # The audio path is untouched by the loss injection.
        assert lossy_window["audio"] >= 0.5 * lossy_window["sent_audio"], lossy_window
        assert lossy_window["audio"] >= 0.5 * clean["audio"], (clean, lossy_window)

        # Control: the same loss with the server's sender not answering NACKs. The holes
        # stay open and the subscriber's video stalls, so the figures above are the repair.
        async def no_retransmit(sequence_number: int) -> None:
            pass

        server_sender: Any = out_video.sender
        server_sender._retransmit = no_retransmit
        retransmitted = len(lossy.retransmitted)
        lossy.dropping = True
        control_start = snapshot()
        await asyncio.sleep(CONTROL_WINDOW)
        lossy.dropping = False
        control = delta(control_start, snapshot())
        print(f"unrepaired {control}, dropped {len(lossy.dropped) - len(dropped)}")
        assert len(lossy.retransmitted) == retransmitted
        assert len(lossy.dropped) > len(dropped)
        assert control["video"] < 0.5 * control["sent_video"], control
        assert control["audio"] >= 0.5 * control["sent_audio"], control
        assert all(n in server_in_nacks for n in upstream_nacks), upstream_nacks
    finally:
        for task in tasks:
            task.cancel()
        for pc in (publisher, server_in, server_out, subscriber):
            await pc.close()
        for fanout in fanouts.values():
            await fanout.close()
