"""The pass-through adapter with aiortc peers in process: no browser, no server."""

from __future__ import annotations

import asyncio
import fractions
import time
from collections.abc import Callable

import aioice.ice
import aiortc
import av
import pytest
from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
)
from aiortc.codecs import depayload, get_encoder
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from rooms import passthrough, peers
from tests.conftest import LOOPBACK_ONLY
from tests.rooms.client import Camera, Tone
from tests.rooms.conftest import eventually

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=97)
H264 = RTCRtpCodecParameters(
    mimeType="video/H264",
    clockRate=90000,
    payloadType=99,
    parameters={"packetization-mode": "1", "profile-level-id": "42e01f"},
)


def test_the_seam_is_where_the_adapter_expects_it() -> None:
    """aiortc is pinned; an upgrade that moves the internals fails here, loudly."""
    assert aiortc.__version__ == "1.16.0"
    passthrough.check_seam()


def test_the_seam_check_refuses_another_aiortc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aiortc, "__version__", "9.9.9")
    with pytest.raises(passthrough.SeamChangedError, match=r"9\.9\.9"):
        passthrough.check_seam()


@pytest.mark.parametrize("codec", [VP8, H264], ids=["vp8", "h264"])
async def test_keyframes_are_recognised_and_pack_gives_back_the_frame(
    codec: RTCRtpCodecParameters,
) -> None:
    """What the jitter buffer hands over, packed again, is the same encoded frame."""
    camera = Camera()
    encoder = get_encoder(codec)
    frames = []
    for i in range(3):
        payloads, timestamp = encoder.encode(await camera.recv(), force_keyframe=(i == 0))
        data = b"".join(depayload(codec, p) for p in payloads)
        frames.append((data, timestamp))
    camera.stop()
    assert [passthrough.is_keyframe(codec.mimeType, d) for d, _ in frames] == [True, False, False]
    data, timestamp = frames[1]
    packet = av.Packet(data)
    packet.pts, packet.time_base = timestamp, fractions.Fraction(1, 90000)
    payloads, packed_timestamp = get_encoder(codec).pack(packet)
    assert packed_timestamp == timestamp
    assert b"".join(depayload(codec, p) for p in payloads) == data
    if codec is VP8:
        assert passthrough.vp8_dimensions(frames[0][0]) == (320, 240)


def _pc() -> RTCPeerConnection:
    return RTCPeerConnection(RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))


async def _connect(offerer: RTCPeerConnection, answerer: RTCPeerConnection) -> None:
    await offerer.setLocalDescription(await offerer.createOffer())
    await answerer.setRemoteDescription(offerer.localDescription)
    await answerer.setLocalDescription(await answerer.createAnswer())
    await offerer.setRemoteDescription(answerer.localDescription)


def _prefer(transceiver: aiortc.RTCRtpTransceiver, mime: str) -> None:
    transceiver.setCodecPreferences(passthrough.codec_preferences("video", mime))


def _publish_through(
    server_in: RTCPeerConnection,
    fanouts: dict[str, passthrough.PacketFanout],
    on_receiver: Callable[[aiortc.MediaStreamTrack, aiortc.RTCRtpReceiver], None] | None = None,
) -> None:
    """What Peer does for a publisher: each arriving track passes through to a fan-out."""

    @server_in.on("track")
    def on_track(track: aiortc.MediaStreamTrack) -> None:
        receiver = next(
            t.receiver for t in server_in.getTransceivers() if t.receiver.track is track
        )
        passthrough.enable_passthrough(receiver)
        if on_receiver is not None:
            on_receiver(track, receiver)
        fanouts[track.kind] = passthrough.PacketFanout(receiver)
        fanouts[track.kind].start()


def _forward(
    fanouts: dict[str, passthrough.PacketFanout], server_out: RTCPeerConnection, mime: str
) -> aiortc.RTCRtpTransceiver:
    """What Peer does for a subscriber: a copy of each track; returns the video transceiver."""
    forwarded = {kind: fanouts[kind].subscribe() for kind in ("video", "audio")}
    out_video = server_out.addTransceiver(forwarded["video"], direction="sendonly")
    _prefer(out_video, mime)
    server_out.addTransceiver(forwarded["audio"], direction="sendonly")
    forwarded["video"].attach(out_video.sender)
    return out_video


@pytest.mark.parametrize("mime", ["video/VP8", "video/H264"], ids=["vp8", "h264"])
async def test_forwarding_without_decoding_and_keyframe_requests_reach_the_publisher(
    mime: str,
) -> None:
    """Publisher -> server (pass-through) -> subscriber: frames decode at the subscriber, the
    server decodes nothing, and a PLI from the subscriber makes the publisher send a
    keyframe."""
    publisher, server_in, server_out, subscriber = _pc(), _pc(), _pc(), _pc()
    try:
        camera, tone = Camera(), Tone()
        video = publisher.addTransceiver(camera, direction="sendonly")
        _prefer(video, mime)
        publisher.addTransceiver(tone, direction="sendonly")
        keyframe_requests: list[int] = []
        original = video.sender._send_keyframe
        video.sender._send_keyframe = lambda: (keyframe_requests.append(1), original())

        fanouts: dict[str, passthrough.PacketFanout] = {}

        _publish_through(server_in, fanouts)
        await _connect(publisher, server_in)
        await eventually(lambda: len(fanouts) == 2, what="both tracks published")
        _forward(fanouts, server_out, mime)

        decoded: dict[str, int] = {"video": 0, "audio": 0}

        async def count(track: aiortc.MediaStreamTrack) -> None:
            while True:
                try:
                    await track.recv()
                except MediaStreamError:
                    return
                decoded[track.kind] += 1

        tasks = []
        subscriber.on("track", lambda t: tasks.append(asyncio.ensure_future(count(t))))
        await _connect(server_out, subscriber)
        await eventually(
            lambda: decoded["video"] > 20 and decoded["audio"] > 20,
            what="subscriber decoding",
            within=20,
        )
        packet = await asyncio.wait_for(fanouts["video"].subscribe().recv(), 5)
        assert isinstance(packet, av.Packet), "the server's receiver decoded: no pass-through"
        assert packet.opaque.mime_type.lower() == mime.lower()

        before = len(keyframe_requests)
        await asyncio.sleep(passthrough.KEYFRAME_REQUEST_INTERVAL + 0.1)
        receiver = next(r for r in subscriber.getReceivers() if r.track.kind == "video")
        await receiver._send_rtcp_pli(receiver.getSynchronizationSources()[0].source)
        await eventually(
            lambda: len(keyframe_requests) > before,
            what="the subscriber's PLI reaching the publisher",
        )
        for task in tasks:
            task.cancel()
    finally:
        for pc in (publisher, server_in, server_out, subscriber):
            await pc.close()
        for fanout in fanouts.values():
            await fanout.close()


def test_codec_preferences_pin_one_codec_with_rtx() -> None:
    names = [c.mimeType for c in passthrough.codec_preferences("video", "video/H264")]
    assert set(names) == {"video/H264", "video/rtx"}
    assert all(
        c.mimeType in {"video/VP8", "video/H264", "video/rtx"}
        for c in RTCRtpSender.getCapabilities("video").codecs
    )


class _Fanout(passthrough.PacketFanout):
    """A fan-out without a receiver, counting the keyframe requests it would send."""

    def __init__(self) -> None:
        self.kind = "video"
        self._subscribers: set[passthrough.ForwardedTrack] = set()
        self._task = None
        self.requests: list[bool] = []

    def start(self) -> None:
        pass  # nothing to read: the test pushes the packets

    def request_keyframe(self, urgent: bool = False) -> None:
        self.requests.append(urgent)


def _frame(name: bytes, *, key: bool, age: float = 0.0) -> av.Packet:
    packet = av.Packet(name)
    packet.is_keyframe = key
    packet.opaque = passthrough.PacketInfo("video/VP8", 90000, time.monotonic() - age)
    return packet


async def test_a_newcomer_starts_from_the_keyframe_primed_for_it() -> None:
    """Before its sender starts, a subscriber keeps only what the newest keyframe starts and
    asks for nothing; prime() (its answer arrived) asks once; when the sender starts, a fresh
    keyframe is sent at once instead of another round trip to the publisher."""
    fanout = _Fanout()
    track = fanout.subscribe()
    track.push(_frame(b"d0", key=False))
    assert fanout.requests == []  # not sending yet: no PLI storm for a peer still connecting
    track.push(_frame(b"k1", key=True))
    track.push(_frame(b"d1", key=False))
    track.prime()
    assert fanout.requests == [True]
    track.push(_frame(b"k2", key=True))  # the keyframe prime() asked for
    track.push(_frame(b"d2", key=False))
    assert [bytes(await track.recv()) for _ in range(2)] == [b"k2", b"d2"]
    assert fanout.requests == [True]


async def test_a_stale_keyframe_is_not_sent_as_a_backlog() -> None:
    fanout = _Fanout()
    track = fanout.subscribe()
    track.push(_frame(b"old", key=True, age=passthrough.FRESH_KEYFRAME + 1))
    track.push(_frame(b"d", key=False))
    receiving = asyncio.ensure_future(track.recv())
    await asyncio.sleep(0)
    assert fanout.requests == [True]  # a new keyframe, asked for when the sender started
    track.push(_frame(b"d2", key=False))  # still waiting for the keyframe
    track.push(_frame(b"new", key=True))
    assert bytes(await asyncio.wait_for(receiving, 1)) == b"new"


async def test_a_newcomer_waiting_for_its_keyframe_keeps_asking() -> None:
    """Started without a keyframe, a subscriber asks at the newcomer's pace on every frame
    until one comes (a publisher may ignore a request); one that has had its picture and
    falls behind asks at the ordinary pace."""
    fanout = _Fanout()
    track = fanout.subscribe()
    receiving = asyncio.ensure_future(track.recv())
    await asyncio.sleep(0)
    assert fanout.requests == [True]  # the sender started: nothing fresh to start from
    for name in (b"d1", b"d2", b"d3"):
        track.push(_frame(name, key=False))
    assert fanout.requests == [True] * 4  # each frame without a keyframe asks again, urgently
    track.push(_frame(b"k", key=True))
    assert bytes(await asyncio.wait_for(receiving, 1)) == b"k"
    # Falling behind (the queue overflows) starts again from a keyframe, asked for as usual.
    for i in range(passthrough.ForwardedTrack.MAX_QUEUE["video"] + 2):
        track.push(_frame(b"d%d" % i, key=False))
    assert fanout.requests[4:] and not any(fanout.requests[4:])


def test_the_aioice_consent_seam_is_where_peer_close_expects_it() -> None:
    """Peer.close() disarms aioice's consent checks through an internal (pinned version)."""
    import inspect

    import aioice

    assert aioice.__version__ == "0.13.0"
    assert "asyncio.create_task(self.query_consent())" in inspect.getsource(
        aioice.Connection.connect
    )


async def _offered_addresses() -> set[str]:
    pc = RTCPeerConnection()
    try:
        pc.addTransceiver("audio")
        await pc.setLocalDescription(await pc.createOffer())
        lines = pc.localDescription.sdp.splitlines()
    finally:
        await pc.close()
    return {line.split()[4] for line in lines if line.startswith("a=candidate:")}


async def test_media_is_offered_only_on_the_configured_addresses() -> None:
    try:
        peers.use_host_addresses(["127.0.0.1"])
        assert await _offered_addresses() == {"127.0.0.1"}
        peers.use_host_addresses([])  # aioice's own choice: every interface but loopback
        assert "127.0.0.1" not in await _offered_addresses()
    finally:
        peers.use_host_addresses(LOOPBACK_ONLY)


def test_the_aioice_gathering_seam_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    async def elsewhere(self: object) -> None:
        """Gathers some other way."""

    monkeypatch.setattr(aioice.ice.Connection, "gather_candidates", elsewhere)
    with pytest.raises(passthrough.SeamChangedError, match="get_host_addresses"):
        peers.use_host_addresses(["127.0.0.1"])
