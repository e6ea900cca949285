"""Server-side recording: the forwarded packets muxed into WebM/Matroska, never transcoded.

One ``ParticipantRecorder`` per participant and recording period. It subscribes to the
participant's published audio and video like any other subscriber, writes segments of
``segment_seconds`` (a new segment starts at a video keyframe, so each plays on its own),
and hands each closed segment to ``on_segment`` which hashes and stores it off the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError

from rooms.passthrough import ForwardedTrack, PacketFanout, PacketInfo, vp8_dimensions

log = logging.getLogger("mediation.rooms.recording")

AUDIO_ONLY_AFTER = 3.0  # seconds without a video keyframe before recording sound alone


@dataclass
class Segment:
    seq: int
    path: Path
    media_type: str
    duration: float


@dataclass
class _Open:
    container: Any
    path: Path
    streams: dict[str, Any]
    started: float  # monotonic arrival time that maps to pts 0
    first_at: float = field(default=0.0)
    last_at: float = field(default=0.0)


class ParticipantRecorder:
    def __init__(
        self,
        *,
        participant_id: str,
        workdir: Path,
        segment_seconds: float,
        on_segment: Callable[[Segment], Coroutine[Any, Any, None]],
    ) -> None:
        self.participant_id = participant_id
        self.workdir = workdir
        self.segment_seconds = segment_seconds
        self.on_segment = on_segment
        self.tracks: dict[str, ForwardedTrack] = {}
        self.mime: dict[str, str] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._open: _Open | None = None
        self._seq = 0
        self._began = time.monotonic()
        self._pending: list[asyncio.Task[None]] = []
        self.stopped = False

    def add(self, kind: str, fanout: PacketFanout, *, open: bool) -> None:
        if kind in self.tracks or self.stopped:
            return
        track = fanout.subscribe(open=open)
        self.tracks[kind] = track
        self._tasks.append(asyncio.create_task(self._read(kind, track)))

    def gate(self, open: bool) -> None:
        for track in self.tracks.values():
            track.set_open(open)

    async def _read(self, kind: str, track: ForwardedTrack) -> None:
        while True:
            try:
                packet = await track.recv()
            except MediaStreamError:
                return
            try:
                self._write(kind, packet)
            except Exception:
                log.exception("recording write failed", extra={"participant": self.participant_id})
                return

    def _container_for(self, kind: str, packet: av.Packet) -> _Open | None:
        info: PacketInfo = packet.opaque  # type: ignore[assignment]
        self.mime[kind] = info.mime_type.lower()
        if self._open is not None:
            # A new segment starts at a keyframe when this one is long enough, or when the
            # camera came on during a sound-only segment.
            rotate = (
                kind == "video"
                and packet.is_keyframe
                and (
                    info.arrival - self._open.started >= self.segment_seconds
                    or "video" not in self._open.streams
                )
            )
            if not rotate:
                return self._open
            self._close_segment()
        if kind == "video" and packet.is_keyframe:
            return self._start_segment(packet, info)
        no_camera = "video" not in self.tracks or (
            "video" not in self.mime and time.monotonic() - self._began > AUDIO_ONLY_AFTER
        )
        if kind == "audio" and no_camera:
            return self._start_segment(None, info)
        return None

    def _start_segment(self, video: av.Packet | None, info: PacketInfo) -> _Open:
        self._seq += 1
        self.workdir.mkdir(parents=True, exist_ok=True)
        vp8 = self.mime.get("video") == "video/vp8"
        suffix, fmt = (".webm", "webm") if vp8 or video is None else (".mkv", "matroska")
        path = self.workdir / f"{self.participant_id}-{uuid.uuid4().hex[:8]}-{self._seq}{suffix}"
        container = av.open(str(path), mode="w", format=fmt)
        streams: dict[str, Any] = {}
        if video is not None:
            if vp8:
                stream = container.add_stream("libvpx", rate=30)
                width, height = vp8_dimensions(bytes(video)) or (640, 480)
            else:
                stream = container.add_stream("libx264", rate=30)
                width, height = 640, 480  # H.264 dimensions travel in the SPS; players read it
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            streams["video"] = stream
        if "audio" in self.tracks:
            audio = container.add_stream("libopus", rate=48000)
            audio.layout = "stereo"
            streams["audio"] = audio
        self._open = _Open(container, path, streams, started=info.arrival)
        return self._open

    def _write(self, kind: str, packet: av.Packet) -> None:
        segment = self._container_for(kind, packet)
        if segment is None or kind not in segment.streams:
            return
        info: PacketInfo = packet.opaque  # type: ignore[assignment]
        if info.arrival < segment.started:
            return
        # Align audio and video by arrival time; the packet itself is shared with the other
        # subscribers, and muxing rewrites timestamps, so mux a copy.
        pts = round((info.arrival - segment.started) * info.clock_rate)
        copy = av.Packet(bytes(packet))
        copy.pts = copy.dts = pts
        copy.time_base = Fraction(1, info.clock_rate)
        copy.is_keyframe = packet.is_keyframe
        copy.stream = segment.streams[kind]
        try:
            segment.container.mux(copy)
        except (av.FFmpegError, ValueError):
            return  # a timestamp that went backwards (a publisher restart); skip the frame
        segment.last_at = max(segment.last_at, info.arrival)

    def _close_segment(self) -> None:
        segment, self._open = self._open, None
        if segment is None:
            return
        with contextlib.suppress(Exception):
            segment.container.close()
        media_type = "video/webm" if segment.path.suffix == ".webm" else "video/x-matroska"
        duration = max(0.0, segment.last_at - segment.started)
        done = Segment(self._seq, segment.path, media_type, duration)
        self._pending.append(asyncio.create_task(self.on_segment(done)))

    async def stop(self) -> None:
        """Close the open segment and wait until every segment is stored. Idempotent."""
        if self.stopped:
            return
        self.stopped = True
        for track in self.tracks.values():
            track.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._close_segment()
        for pending in self._pending:
            with contextlib.suppress(Exception):
                await pending
