"""A WebRTC participant played by aiortc instead of a browser, for in-process room tests.

It speaks the room's signalling exactly as the browser page does (answer the server's
offers, send on the ``upstream`` transceivers), publishes a synthetic camera and tone, and
counts what it receives from each other participant, decoded.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import math
from collections import defaultdict
from typing import Any

import av
import numpy as np
import websockets
from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import (
    AudioStreamTrack,
    MediaStreamError,
    MediaStreamTrack,
    VideoStreamTrack,
)


class Camera(VideoStreamTrack):
    """A moving test picture at 320x240."""

    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        self.n += 1
        image = np.full((240, 320, 3), (self.n * 4) % 255, dtype=np.uint8)
        image[:, (self.n * 3) % 320] = 255
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        return frame


class Tone(AudioStreamTrack):
    """A 440 Hz tone (aiortc's own AudioStreamTrack is silence)."""

    def __init__(self) -> None:
        super().__init__()
        self.samples = 0

    RATE = 48000

    async def recv(self) -> av.AudioFrame:
        # The parent paces 20 ms frames (at 8 kHz); make each 20 ms of 48 kHz sound.
        frame = await super().recv()
        n = self.RATE * frame.samples // frame.sample_rate
        t = (np.arange(n) + self.samples) / self.RATE
        self.samples += n
        data = (np.sin(2 * math.pi * 440 * t) * 8000).astype(np.int16).reshape(1, -1)
        out = av.AudioFrame.from_ndarray(data, format="s16", layout="mono")
        out.sample_rate = self.RATE
        out.pts = frame.pts * self.RATE // frame.sample_rate
        out.time_base = fractions.Fraction(1, self.RATE)
        return out


class Held(MediaStreamTrack):
    """Yields nothing until released, then its source's frames: what a browser standing by
    sends (no track on its senders) until Join, for aiortc, whose senders stop for good when
    they start without a track."""

    def __init__(self, source: MediaStreamTrack) -> None:
        super().__init__()
        self.kind = source.kind
        self.source = source
        self.released = asyncio.Event()

    async def recv(self) -> Any:
        await self.released.wait()
        return await self.source.recv()


class Client:
    def __init__(
        self,
        url: str,
        token: str,
        *,
        consent: bool = True,
        prejoin: bool = False,
        prepared: dict[str, Any] | None = None,
    ) -> None:
        # The offer the room page carried: answered before the socket opens and sent, tagged
        # with its token, as soon as the socket is open, as the page's head does.
        self.prepared = prepared
        prejoin = prejoin or prepared is not None
        self.url = f"{url}?prejoin=1" if prejoin else url
        if prepared is not None:
            self.url += f"&standby={prepared['token']}"
        self.token = token
        self.consent = consent
        self.joined = not prejoin  # standing by (?prejoin=1) until join_meeting()
        self.upstream: dict[str, str] = {}
        self.pc: RTCPeerConnection | None = None
        self.ws: Any = None
        self.messages: list[dict[str, Any]] = []
        self.tracks: dict[str, dict[str, str]] = {}
        self.frames: dict[tuple[str, str], int] = defaultdict(int)
        self.energy: dict[str, float] = defaultdict(float)
        self.first_frame_at: dict[str, float] = {}
        self.participant_id: str | None = None
        self.role: str | None = None
        self.camera = Held(Camera())
        self.tone = Held(Tone())
        if self.joined:
            self.camera.released.set()
            self.tone.released.set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reader: asyncio.Task[Any] | None = None
        self.offers = 0

    async def connect(self) -> None:
        answer = None
        if self.prepared is not None:
            await self._new_pc()
            answer = await self._make_answer(self.prepared)
        self.ws = await websockets.connect(
            self.url,
            additional_headers={"Authorization": f"Bearer {self.token}"},
            max_size=2**20,
        )
        if answer is not None and self.prepared is not None:
            await self.send(**answer, standby=self.prepared["token"])
        self._reader = asyncio.create_task(self._read())

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind]

    async def send(self, **message: Any) -> None:
        await self.ws.send(json.dumps(message))

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self.ws:
                message = json.loads(raw)
                self.messages.append(message)
                kind = message["type"]
                if kind == "welcome":
                    self.participant_id = message["participant_id"]
                    self.role = message["role"]
                    if self.prepared is None or not message.get("prepared"):
                        await self._new_pc()  # (the server ignores the prepared answer)
                    if self.joined:
                        await self._consent()
                elif kind == "lobby" and self.offers:
                    await self._new_pc()  # stood by: the server let that peer go
                elif kind == "offer":
                    await self._answer(message)

    async def _consent(self) -> None:
        if self.role not in ("mediator", "judge") and self.consent:
            await self.send(type="consent", online=True, recording=True)

    async def join_meeting(self) -> None:
        """Standing by -> in the meeting, as the page's Join button does: say so, consent,
        then start sending on the connection that is already up."""
        self.joined = True
        await self.send(type="join")
        await self._consent()
        self._attach()

    def _attach(self) -> None:
        if self.pc is None:
            return
        if self.joined:
            self.camera.released.set()
            self.tone.released.set()
        for transceiver in self.pc.getTransceivers():
            if transceiver.mid is None or transceiver.sender.track is not None:
                continue
            if transceiver.mid == self.upstream.get("audio"):
                transceiver.sender.replaceTrack(self.tone)
            elif transceiver.mid == self.upstream.get("video"):
                transceiver.sender.replaceTrack(self.camera)

    async def _new_pc(self) -> None:
        if self.pc is not None:
            await self.pc.close()
        # As on the server: aiortc's default bundle policy misroutes m-lines that arrive in
        # the first offer alongside others of the same kind (browsers bundle correctly).
        self.pc = RTCPeerConnection(RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        self.pc.on("track", self._on_track)

    async def _answer(self, offer: dict[str, Any]) -> None:
        await self.send(**await self._make_answer(offer))

    async def _make_answer(self, offer: dict[str, Any]) -> dict[str, Any]:
        assert self.pc is not None
        self.offers += 1
        self.tracks.update(offer["tracks"])
        await self.pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
        self.upstream = offer["upstream"]
        for transceiver in self.pc.getTransceivers():
            if transceiver.mid in self.upstream.values():
                transceiver.direction = "sendonly"
        self._attach()
        answer = await self.pc.createAnswer()
        await self.pc.setLocalDescription(answer)
        return {"type": "answer", "sdp": self.pc.localDescription.sdp}

    def _on_track(self, track: Any) -> None:
        assert self.pc is not None
        mid = next(t.mid for t in self.pc.getTransceivers() if t.receiver.track is track)
        task = asyncio.create_task(self._count(mid, track))
        self._tasks.add(task)

    async def _count(self, mid: str, track: Any) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            who = self.tracks.get(mid, {}).get("participant_id", "?")
            self.frames[(who, track.kind)] += 1
            if track.kind == "video":
                self.first_frame_at.setdefault(who, loop.time())
            else:
                samples = frame.to_ndarray().astype(np.float64)
                self.energy[who] += float(np.mean((samples / 32768.0) ** 2))

    def received(self, who: str, kind: str) -> int:
        return self.frames[(who, kind)]

    async def drop(self) -> None:
        """Cut the connection as a network change would: no goodbye, the media dies too."""
        self.ws.transport.abort()
        if self._reader is not None:
            self._reader.cancel()
        if self.pc is not None:
            await self.pc.close()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._reader is not None:
            self._reader.cancel()
        with contextlib.suppress(Exception):
            await self.ws.close()
        if self.pc is not None:
            await self.pc.close()
