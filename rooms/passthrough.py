"""Forward encoded media through aiortc without decoding or re-encoding.

aiortc's receiver reassembles RTP into encoded frames and hands them to a decoder thread;
its sender packetises whatever its track yields, and for an ``av.Packet`` it calls the
codec's ``pack()`` instead of encoding. The pass-through sits exactly at that seam:

* receive side: the receiver's decoder input queue is replaced, so each reassembled frame
  becomes an ``av.Packet`` on the remote track (the decoder thread idles and never decodes);
* send side: ``ForwardedTrack.recv()`` yields those packets, so the sender only packs them;
* keyframes: a subscriber's PLI/FIR reaches the sender's ``_send_keyframe`` (a flag that the
  pack path never reads), so it is hooked and turned into a PLI to the publisher.

These are aiortc internals. The version is pinned in pyproject.toml and ``check_seam()``
verifies every internal this module touches, failing loudly on an aiortc that moved them.
NACK/RTX repair works per hop unchanged: each sender retransmits from its own history.
"""

from __future__ import annotations

import asyncio
import fractions
import functools
import inspect
import logging
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import aiortc
import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcrtpreceiver import RemoteStreamTrack, RTCRtpReceiver
from aiortc.rtcrtpsender import RTCRtpSender

log = logging.getLogger("mediation.rooms.passthrough")

SUPPORTED_AIORTC = ("1.16.0",)
KEYFRAME_REQUEST_INTERVAL = 0.3  # seconds between upstream PLIs for ordinary requests
NEWCOMER_REQUEST_INTERVAL = 0.05  # a newcomer's first request goes out almost at once
FRESH_KEYFRAME = 0.5  # seconds: a queued keyframe this recent may open a subscriber's stream


class SeamChangedError(RuntimeError):
    """aiortc's internals are not where this adapter expects them: do not forward blind."""


def check_seam() -> None:
    problems = []
    if aiortc.__version__ not in SUPPORTED_AIORTC:
        problems.append(f"aiortc {aiortc.__version__} is not one of {SUPPORTED_AIORTC}")
    checks: list[tuple[Callable[..., Any], str]] = [
        (RTCRtpReceiver._handle_rtp_packet, "self.__decoder_queue.put((codec, encoded_frame))"),
        (RTCRtpReceiver.__init__, "self.__decoder_queue: queue.Queue = queue.Queue()"),
        (RTCRtpReceiver.receive, "self._track._queue"),
        (RTCRtpSender._handle_rtcp_packet, "self._send_keyframe()"),
        (RTCRtpSender._next_encoded_frame, "self.__encoder.pack(data)"),
    ]
    for function, needle in checks:
        if needle not in inspect.getsource(function):
            problems.append(f"{function.__qualname__} no longer contains {needle!r}")
    if list(inspect.signature(RTCRtpReceiver._send_rtcp_pli).parameters) != ["self", "media_ssrc"]:
        problems.append("RTCRtpReceiver._send_rtcp_pli(media_ssrc) changed its signature")
    if problems:
        raise SeamChangedError("; ".join(problems))


@functools.cache
def ensure_seam() -> None:
    """``check_seam()`` once per process: reading aiortc's source takes milliseconds, and the
    adapter is set up on the event loop for every track a join adds. (A failed check is not
    cached: it raises again, every time.)"""
    check_seam()


# -- codec facts ----------------------------------------------------------------------------


def h264_nal_types(data: bytes) -> list[int]:
    """NAL unit types of an Annex-B frame (what aiortc's H.264 depayloader produces)."""
    types = []
    i = data.find(b"\x00\x00\x01")
    while i != -1 and i + 3 < len(data):
        types.append(data[i + 3] & 0x1F)
        i = data.find(b"\x00\x00\x01", i + 3)
    return types


def is_keyframe(mime_type: str, data: bytes) -> bool:
    mime = mime_type.lower()
    if mime == "video/vp8":
        # RFC 6386 9.1: bit 0 of the frame tag is 0 for a key frame, then start code 9d 01 2a.
        return len(data) >= 10 and (data[0] & 1) == 0 and data[3:6] == b"\x9d\x01\x2a"
    if mime == "video/h264":
        return 5 in h264_nal_types(data)  # an IDR slice
    return True  # every audio frame stands alone


def vp8_dimensions(data: bytes) -> tuple[int, int] | None:
    if not is_keyframe("video/vp8", data):
        return None
    width = int.from_bytes(data[6:8], "little") & 0x3FFF
    height = int.from_bytes(data[8:10], "little") & 0x3FFF
    return width, height


@dataclass(frozen=True)
class PacketInfo:
    """What travels with each forwarded ``av.Packet`` (as ``packet.opaque``)."""

    mime_type: str
    clock_rate: int
    arrival: float  # time.monotonic() when the frame left the jitter buffer


# -- receive side ---------------------------------------------------------------------------


class _PassthroughQueue(queue.Queue[Any]):
    """Stands in for the receiver's decoder input queue.

    ``_handle_rtp_packet`` calls ``put((codec, JitterFrame))`` on the event loop; the frame
    goes straight to the remote track as an ``av.Packet``. ``None`` (the receiver stopping)
    goes to the real queue so aiortc's own decoder thread ends the track and exits.
    """

    def __init__(self, receiver: RTCRtpReceiver) -> None:
        super().__init__()
        self._receiver = receiver

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:
            super().put(item, block, timeout)
            return
        codec, frame = item
        if not frame.data:
            return
        packet = av.Packet(frame.data)
        packet.pts = packet.dts = frame.timestamp
        packet.time_base = fractions.Fraction(1, codec.clockRate)
        packet.is_keyframe = is_keyframe(codec.mimeType, frame.data)
        packet.opaque = PacketInfo(codec.mimeType, codec.clockRate, time.monotonic())
        internals: Any = self._receiver  # private attribute, checked by check_seam()
        internals._track._queue.put_nowait(packet)


def enable_passthrough(receiver: RTCRtpReceiver) -> None:
    """Make ``receiver.track.recv()`` yield encoded packets. Call from the "track" event,
    which aiortc emits before the receiver starts its decoder."""
    ensure_seam()
    internals: Any = receiver  # name-mangled private attributes, checked by check_seam()
    if internals._RTCRtpReceiver__decoder_thread is not None:
        raise RuntimeError("enable_passthrough() must run before the receiver starts")
    if not isinstance(receiver.track, RemoteStreamTrack):
        raise RuntimeError("the receiver has no remote track yet")
    internals._RTCRtpReceiver__decoder_queue = _PassthroughQueue(receiver)


async def request_keyframe_from(receiver: RTCRtpReceiver) -> None:
    """Send a PLI upstream for every stream the receiver currently sees."""
    for source in receiver.getSynchronizationSources():
        try:
            await receiver._send_rtcp_pli(source.source)
        except ConnectionError:
            return


def on_keyframe_request(sender: RTCRtpSender, callback: Callable[[], None]) -> None:
    """Route PLI/FIR that ``sender`` receives to ``callback`` (the pack path ignores them)."""
    ensure_seam()
    internals: Any = sender
    original = internals._send_keyframe

    def hooked() -> None:
        original()
        callback()

    internals._send_keyframe = hooked  # an instance attribute shadows the method


# -- fan-out --------------------------------------------------------------------------------


class ForwardedTrack(MediaStreamTrack):
    """One subscriber's copy of a published track, yielding ``av.Packet``.

    ``open`` is the room's forwarding decision (lobby, caucus, mute, audio-only): while it
    is False nothing is queued, so nothing can reach the subscriber. Video resumes only on a
    keyframe, which is requested at once.
    """

    MAX_QUEUE: ClassVar[dict[str, int]] = {"video": 120, "audio": 50}

    def __init__(self, fanout: PacketFanout, *, open: bool = True) -> None:
        super().__init__()
        self.kind = fanout.kind
        self._fanout = fanout
        self._queue: asyncio.Queue[av.Packet | None] = asyncio.Queue()
        self._need_keyframe = fanout.kind == "video"
        self._started = False
        self._open = open
        self._head_keyframe: float | None = None  # arrival of the keyframe heading the queue
        self.forwarded = 0

    @property
    def open(self) -> bool:
        return self._open

    def set_open(self, value: bool) -> None:
        if value == self._open:
            return
        self._open = value
        if not value:
            self._drain()
        elif self.kind == "video":
            self._need_keyframe = True
            self._fanout.request_keyframe(urgent=True)

    def _drain(self) -> None:
        self._head_keyframe = None
        while not self._queue.empty():
            if self._queue.get_nowait() is None:
                self._queue.put_nowait(None)
                return

    def push(self, packet: av.Packet | None) -> None:
        if packet is None:
            self._queue.put_nowait(None)
            return
        if not self._open or self.readyState != "live":
            return
        if self._need_keyframe:
            if not packet.is_keyframe:
                if self._started:
                    # A newcomer (nothing forwarded yet) keeps asking at the newcomer's pace:
                    # a publisher ignores a request that comes too soon after another one
                    # (libwebrtc takes one per 300 ms) and sometimes one with no such reason,
                    # and until the keyframe comes the newcomer sees nothing.
                    self._fanout.request_keyframe(urgent=self.forwarded == 0)
                return
            self._need_keyframe = False
        if packet.is_keyframe and not self._started and self.kind == "video":
            self._drain()  # not sending yet: keep only what the newest keyframe starts
        if self._queue.qsize() >= self.MAX_QUEUE[self.kind]:
            # A subscriber that cannot keep up starts again from a fresh keyframe.
            self._drain()
            if self.kind == "video" and not packet.is_keyframe:
                self._need_keyframe = True
                self._fanout.request_keyframe()
                return
        if self._queue.empty():
            info: PacketInfo = packet.opaque  # type: ignore[assignment]
            self._head_keyframe = info.arrival if packet.is_keyframe else None
        self._queue.put_nowait(packet)

    def prime(self) -> None:
        """The subscriber's connection is about to come up (its answer has arrived): ask for
        a keyframe now, so that one is here when the sender starts rather than a round trip
        to the publisher later."""
        if self.kind == "video" and self._open and not self._started:
            self._fanout.request_keyframe(urgent=True)

    async def recv(self) -> av.Packet:
        if self.readyState != "live":
            raise MediaStreamError
        if not self._started:
            # The sender pulls only once its transport is up. Start from a keyframe: the one
            # prime() asked for if it is fresh (a short burst of at most FRESH_KEYFRAME of
            # video), else a new one rather than a stale backlog.
            self._started = True
            head = self._head_keyframe
            fresh = head is not None and time.monotonic() - head <= FRESH_KEYFRAME
            if self.kind == "video" and not fresh:
                self._drain()
                self._need_keyframe = True
                if self._open:  # a shut gate asks when it opens (set_open)
                    self._fanout.request_keyframe(urgent=True)
        packet = await self._queue.get()
        if packet is None:
            self.stop()
            raise MediaStreamError
        self.forwarded += 1
        return packet

    def attach(self, sender: RTCRtpSender) -> None:
        on_keyframe_request(sender, self._fanout.request_keyframe)

    def stop(self) -> None:
        super().stop()
        self._fanout.unsubscribe(self)


class PacketFanout:
    """Reads one published track once and hands each packet to every subscriber.

    Keyframe requests from all subscribers are coalesced into at most one upstream PLI per
    ``KEYFRAME_REQUEST_INTERVAL``.
    """

    def __init__(
        self,
        receiver: RTCRtpReceiver,
        *,
        on_error: Callable[[BaseException], None] | None = None,
        log_ids: dict[str, Any] | None = None,
    ) -> None:
        self.receiver = receiver
        self.kind: str = receiver.track.kind
        # Forwarding that stops on an error (above all SeamChangedError) is reported here,
        # loudly, and through ``on_error`` (the peer fails): it is never left to close().
        self.on_error = on_error
        self.log_ids = {**(log_ids or {}), "kind": self.kind}
        self.error: BaseException | None = None
        self.mime_type: str | None = None
        self.packets = 0
        self._subscribers: set[ForwardedTrack] = set()
        self._task: asyncio.Task[None] | None = None
        self._last_request = -1e9
        self.keyframe_requests = 0
        self._requests: set[asyncio.Future[None]] = set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"fanout-{self.kind}")
            self._task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or (exc := task.exception()) is None:
            return
        self.error = exc
        log.error(
            "forwarding of %s stopped: %s (room %s, participant %s)",
            self.kind,
            exc,
            self.log_ids.get("room"),
            self.log_ids.get("participant"),
            exc_info=exc,
            extra=self.log_ids,
        )
        for subscriber in list(self._subscribers):  # they get nothing more from here
            subscriber.push(None)
        if self.on_error is not None:
            self.on_error(exc)

    def subscribe(self, *, open: bool = True) -> ForwardedTrack:
        track = ForwardedTrack(self, open=open)
        self._subscribers.add(track)
        self.start()
        return track

    def unsubscribe(self, track: ForwardedTrack) -> None:
        self._subscribers.discard(track)

    def request_keyframe(self, urgent: bool = False) -> None:
        if self.kind != "video":
            return
        now = time.monotonic()
        gap = NEWCOMER_REQUEST_INTERVAL if urgent else KEYFRAME_REQUEST_INTERVAL
        if now - self._last_request < gap:
            return
        self._last_request = now
        self.keyframe_requests += 1
        task = asyncio.ensure_future(request_keyframe_from(self.receiver))
        self._requests.add(task)
        task.add_done_callback(self._requests.discard)

    async def _run(self) -> None:
        track = self.receiver.track
        while True:
            try:
                packet = await track.recv()
            except MediaStreamError:
                packet = None
            if packet is not None:
                if not isinstance(packet, av.Packet):
                    raise SeamChangedError("the receiver decoded frames: pass-through is off")
                info: PacketInfo = packet.opaque  # type: ignore[assignment]
                self.mime_type = info.mime_type
                self.packets += 1
            for subscriber in list(self._subscribers):
                subscriber.push(packet)
            if packet is None:
                return

    async def close(self) -> None:
        for subscriber in list(self._subscribers):
            subscriber.push(None)
            subscriber.stop()
        if self._task is not None:
            self._task.cancel()
            # Waits without raising: a failure was already reported, loudly, by _ended.
            await asyncio.wait({self._task})
            self._task = None
        for task in list(self._requests):
            task.cancel()


def codec_preferences(kind: str, mime_type: str) -> list[Any]:
    """The capability list that pins one codec (with RTX) on a transceiver."""
    capabilities = RTCRtpSender.getCapabilities(kind).codecs
    chosen = [c for c in capabilities if c.mimeType.lower() == mime_type.lower()]
    rtx = [c for c in capabilities if c.mimeType.lower() == f"{kind}/rtx"]
    return chosen + rtx
