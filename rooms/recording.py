"""Server-side recording: the forwarded packets muxed into WebM/Matroska, never transcoded.

One ``ParticipantRecorder`` per participant and recording period. It subscribes to the
participant's published audio and video like any other subscriber and writes segments of
``segment_seconds`` (a new segment starts at a video keyframe, so each plays on its own).

The event loop carries every room's video, so it only decides where segments begin and
queues copies of the packets; one writer thread per recorder does the PyAV work (opening,
muxing, finalising). Each closed segment comes back to the loop, to ``on_segment``, which
stores it (hashing it in a thread). A segment that cannot be stored is evidence lost: the
recorder logs it with its ids should ``on_segment`` fail to report it itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import av
from aiortc.mediastreams import MediaStreamError

from rooms.passthrough import ForwardedTrack, PacketFanout, PacketInfo, vp8_dimensions

log = logging.getLogger("mediation.rooms.recording")

AUDIO_ONLY_AFTER = 3.0  # seconds without a video keyframe before recording sound alone
MAX_BACKLOG = 400  # packets queued for the writer (about 5 s of audio and video) before dropping
STOP_TIMEOUT = 10.0  # seconds stop() waits for the writer to finalise the last segment

_VideoEncoder = Literal["libvpx", "libx264"]  # named only to give the muxer a video stream


@dataclass
class Segment:
    seq: int
    path: Path
    media_type: str
    duration: float


# -- what the loop tells the writer ---------------------------------------------------------


@dataclass(frozen=True)
class _Start:
    """Close the open segment, if any, and open this one."""

    seq: int
    path: Path
    format: str
    video: tuple[_VideoEncoder, int, int] | None  # width, height
    audio: bool
    started: float  # monotonic arrival time that maps to pts 0


@dataclass(frozen=True)
class _Mux:
    kind: str
    data: bytes
    pts: int
    clock_rate: int
    keyframe: bool
    arrival: float


@dataclass
class _Plan:
    """The loop's view of the segment it last asked the writer to open."""

    kinds: frozenset[str]
    started: float


@dataclass
class _Open:
    """The writer's open segment."""

    start: _Start
    container: Any
    streams: dict[str, Any]
    last_at: float
    muxed: int = 0


def _mux(container: Any, packet: av.Packet) -> None:
    """The one place a packet is written (a seam for tests: it must run on the writer)."""
    container.mux(packet)


class ParticipantRecorder:
    def __init__(
        self,
        *,
        room_id: int,
        participant_id: str,
        workdir: Path,
        segment_seconds: float,
        on_segment: Callable[[Segment], Coroutine[Any, Any, None]],
        on_failed: Callable[[], None] | None = None,
    ) -> None:
        self.room_id = room_id
        self.participant_id = participant_id
        self.log_ids = {"room": room_id, "participant": participant_id}
        self.workdir = workdir
        self.segment_seconds = segment_seconds
        self.on_segment = on_segment
        self.on_failed = on_failed  # the writer failed: the recording has ended
        self.tracks: dict[str, ForwardedTrack] = {}
        self.mime: dict[str, str] = {}
        self._fanouts: dict[str, PacketFanout] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._segment: _Plan | None = None
        self._seq = 0
        self._began = time.monotonic()
        self._pending: list[asyncio.Task[None]] = []
        # Unbounded so that the stop marker always fits; the loop is the only producer, so
        # checking qsize() before each packet keeps the backlog within MAX_BACKLOG.
        self._queue: queue.SimpleQueue[_Start | _Mux | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._ended: asyncio.Future[bool] | None = None  # resolved when the writer exits
        self._failed = False
        self._video_gap = False  # video dropped: wait for a keyframe before queuing more
        self._dropped = 0
        self.stopped = False

    def add(self, kind: str, fanout: PacketFanout, *, open: bool) -> None:
        if kind in self.tracks or self.stopped or self._failed:
            return
        self._start_writer()
        track = fanout.subscribe(open=open)
        self.tracks[kind] = track
        self._fanouts[kind] = fanout
        self._tasks.append(asyncio.create_task(self._read(kind, track)))

    def gate(self, open: bool) -> None:
        for track in self.tracks.values():
            track.set_open(open)

    # -- on the event loop ----------------------------------------------------------------------

    def _start_writer(self) -> None:
        if self._thread is not None:
            return
        loop = asyncio.get_running_loop()
        self._ended = loop.create_future()
        # A daemon, so that a writer stuck on a dead disk cannot hold up the process's exit.
        self._thread = threading.Thread(
            target=self._write_all,
            args=(loop,),
            name=f"recorder-{self.participant_id}",
            daemon=True,
        )
        self._thread.start()

    async def _read(self, kind: str, track: ForwardedTrack) -> None:
        while True:
            try:
                packet = await track.recv()
            except MediaStreamError:
                return
            try:
                self._feed(kind, packet)
            except Exception:
                log.exception("recording failed", extra=self.log_ids)
                return

    def _feed(self, kind: str, packet: av.Packet) -> None:
        if self.stopped or self._failed:
            return
        info: PacketInfo = packet.opaque  # type: ignore[assignment]
        self.mime[kind] = info.mime_type.lower()
        if not self._has_room(kind, packet):
            return
        segment = self._segment_for(kind, packet, info)
        if segment is None or kind not in segment.kinds or info.arrival < segment.started:
            return
        # Align audio and video by arrival time. The packet is shared with the other
        # subscribers, so the writer gets a copy of its bytes.
        pts = round((info.arrival - segment.started) * info.clock_rate)
        self._queue.put(
            _Mux(kind, bytes(packet), pts, info.clock_rate, packet.is_keyframe, info.arrival)
        )

    def _has_room(self, kind: str, packet: av.Packet) -> bool:
        """Whether to queue this packet. A writer that falls behind loses media rather than
        the loop blocking or memory growing; video then resumes at a keyframe, so that what
        is recorded still decodes."""
        full = self._queue.qsize() >= MAX_BACKLOG
        waiting = kind == "video" and self._video_gap and not packet.is_keyframe
        if full or waiting:
            if full and not self._dropped:
                log.warning(
                    "recording writer is falling behind; dropping media",
                    extra=self.log_ids,
                )
            self._dropped += 1
            if kind == "video":
                self._video_gap = True
                self._fanouts["video"].request_keyframe()
            return False
        if kind == "video":
            self._video_gap = False
        if self._dropped and not self._video_gap:
            log.warning(
                "recording writer caught up after dropping %d packets",
                self._dropped,
                extra=self.log_ids,
            )
            self._dropped = 0
        return True

    def _segment_for(self, kind: str, packet: av.Packet, info: PacketInfo) -> _Plan | None:
        if self._segment is not None:
            # A new segment starts at a keyframe when this one is long enough, or when the
            # camera came on during a sound-only segment.
            rotate = (
                kind == "video"
                and packet.is_keyframe
                and (
                    info.arrival - self._segment.started >= self.segment_seconds
                    or "video" not in self._segment.kinds
                )
            )
            if not rotate:
                return self._segment
            self._segment = None
        if kind == "video" and packet.is_keyframe:
            return self._begin_segment(packet, info)
        no_camera = "video" not in self.tracks or (
            "video" not in self.mime and time.monotonic() - self._began > AUDIO_ONLY_AFTER
        )
        if kind == "audio" and no_camera:
            return self._begin_segment(None, info)
        return None

    def _begin_segment(self, video: av.Packet | None, info: PacketInfo) -> _Plan:
        self._seq += 1
        vp8 = self.mime.get("video") == "video/vp8"
        suffix, fmt = (".webm", "webm") if vp8 or video is None else (".mkv", "matroska")
        path = self.workdir / f"{self.participant_id}-{uuid.uuid4().hex[:8]}-{self._seq}{suffix}"
        spec: tuple[_VideoEncoder, int, int] | None = None
        if video is not None and vp8:
            spec = ("libvpx", *(vp8_dimensions(bytes(video)) or (640, 480)))
        elif video is not None:
            spec = ("libx264", 640, 480)  # H.264 dimensions travel in the SPS; players read it
        audio = "audio" in self.tracks
        self._queue.put(_Start(self._seq, path, fmt, spec, audio, started=info.arrival))
        kinds = {kind for kind, present in (("video", spec), ("audio", audio)) if present}
        self._segment = _Plan(frozenset(kinds), info.arrival)
        return self._segment

    def _segment_closed(self, segment: Segment) -> None:
        task = asyncio.create_task(self.on_segment(segment))
        task.add_done_callback(functools.partial(self._segment_handled, segment))
        self._pending.append(task)

    def _segment_handled(self, segment: Segment, task: asyncio.Task[None]) -> None:
        """``on_segment`` reports its own failures; anything that escapes it is still logged,
        never dropped with the task."""
        exc = None if task.cancelled() else task.exception()
        if task.cancelled() or exc is not None:
            log.error(
                "recording segment %d of %s in room %d was not stored%s",
                segment.seq,
                self.participant_id,
                self.room_id,
                " (cancelled)" if exc is None else "",
                exc_info=exc,
                extra={**self.log_ids, "seq": segment.seq},
            )

    def _writer_ended(self, failed: bool) -> None:
        if self._ended is not None and not self._ended.done():
            self._ended.set_result(failed)
        if failed and not self.stopped:
            # The recording of this participant ends here; stop() still follows and joins.
            self._failed = True
            for track in self.tracks.values():
                track.stop()
            for task in self._tasks:
                task.cancel()
            if self.on_failed is not None:
                self.on_failed()

    async def stop(self) -> None:
        """Close the open segment, end the writer and wait until every segment is stored.
        Idempotent."""
        if self.stopped:
            return
        self.stopped = True
        for track in self.tracks.values():
            track.stop()
        for task in self._tasks:
            task.cancel()
        # Before any await: the writer finishes the last segment even if this is cancelled.
        self._queue.put(None)
        if self._tasks:
            await asyncio.wait(self._tasks)
        for task in self._tasks:
            if not task.cancelled() and (exc := task.exception()) is not None:
                log.error("recording reader failed", exc_info=exc, extra=self.log_ids)
        await self._join_writer()
        # Each store's outcome is reported by _segment_handled (and by on_segment itself).
        if self._pending:
            await asyncio.wait(self._pending)

    async def _join_writer(self) -> None:
        thread, ended = self._thread, self._ended
        if thread is None or ended is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(ended), STOP_TIMEOUT)
        except TimeoutError:
            log.error(
                "recording writer did not finish within %.0f s; abandoning it",
                STOP_TIMEOUT,
                extra=self.log_ids,
            )
            return
        # It told the loop it is done and has only to return: this join does not block.
        thread.join(timeout=1.0)

    # -- on the writer thread -----------------------------------------------------------------

    def _write_all(self, loop: asyncio.AbstractEventLoop) -> None:
        current: _Open | None = None
        failed = False
        try:
            while (item := self._queue.get()) is not None:
                if isinstance(item, _Start):
                    previous, current = current, None
                    self._finish(loop, previous)
                    current = self._open(item)
                elif current is not None:
                    self._write(current, item)
        except Exception:
            failed = True
            log.exception("recording writer failed", extra=self.log_ids)
        finally:
            try:
                self._finish(loop, current)
            except Exception:
                failed = True
                log.exception("recording writer failed", extra=self.log_ids)
            # Always, or stop() would wait out STOP_TIMEOUT.
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
                loop.call_soon_threadsafe(self._writer_ended, failed)

    def _open(self, start: _Start) -> _Open:
        start.path.parent.mkdir(parents=True, exist_ok=True)
        container = av.open(str(start.path), mode="w", format=start.format)
        try:
            streams: dict[str, Any] = {}
            if start.video is not None:
                encoder, width, height = start.video
                stream = container.add_stream(encoder, rate=30)
                stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
                streams["video"] = stream
            if start.audio:
                audio = container.add_stream("libopus", rate=48000)
                audio.layout = "stereo"
                streams["audio"] = audio
        except BaseException:
            with contextlib.suppress(Exception):
                container.close()
            start.path.unlink(missing_ok=True)
            raise
        return _Open(start, container, streams, last_at=start.started)

    def _write(self, segment: _Open, item: _Mux) -> None:
        stream = segment.streams.get(item.kind)
        if stream is None:
            return
        packet = av.Packet(item.data)
        packet.pts = packet.dts = item.pts
        packet.time_base = Fraction(1, item.clock_rate)
        packet.is_keyframe = item.keyframe
        packet.stream = stream
        try:
            _mux(segment.container, packet)
        except (av.FFmpegError, ValueError):
            return  # a timestamp that went backwards (a publisher restart); skip the frame
        segment.last_at = max(segment.last_at, item.arrival)
        segment.muxed += 1

    def _finish(self, loop: asyncio.AbstractEventLoop, segment: _Open | None) -> None:
        """Finalise a segment (the trailer and cues) and hand it to the loop to store."""
        if segment is None:
            return
        start = segment.start
        try:
            segment.container.close()
        except Exception:
            # What was written may still play; store it rather than lose it.
            log.warning(
                "recording segment did not close cleanly",
                exc_info=True,
                extra=self.log_ids,
            )
        if not segment.muxed:
            start.path.unlink(missing_ok=True)  # nothing in it worth storing
            return
        media_type = "video/webm" if start.path.suffix == ".webm" else "video/x-matroska"
        done = Segment(start.seq, start.path, media_type, segment.last_at - start.started)
        try:
            loop.call_soon_threadsafe(self._segment_closed, done)
        except RuntimeError:  # the loop is closed: nobody can store it, so say where it is
            log.error(
                "recording segment %d of %s in room %d not stored (the event loop has ended);"
                " it is kept at %s",
                start.seq,
                self.participant_id,
                self.room_id,
                start.path,
                extra={**self.log_ids, "seq": start.seq},
            )
