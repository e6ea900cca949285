"""Shutting the server down while a meeting is live leaves nothing behind.

Each test runs a server of its own, as ``mediation serve`` runs it (service.app.Server, with
the app's lifespan), stopped the way it stops on SIGTERM: the live rooms end first, telling
everyone ``closed {reason: server_shutdown}``; then uvicorn closes the connections and runs
the lifespan's exit. Afterwards no server-side peer is open, no task of rooms/, aiortc or
aioice is pending, no UDP socket of the peers and no file under the data folder is open, and
each recording's last segment is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCPeerConnection

from rooms import service as rooms_service
from service.app import create_app
from service.storage import ContentStore
from tests.conftest import Database, Factory, Made, Serving, make_settings, serving
from tests.rooms.conftest import Meeting, eventually, muxed
from tests.rooms.test_media import flowing
from tests.rooms.test_recording import _consented

WATCHED = ("rooms", "aiortc", "aioice")  # the packages whose tasks must not outlive shutdown


# -- what this process holds open ----------------------------------------------------------


def open_fds() -> dict[int, str]:
    """fd -> what it points at ("socket:[inode]", a path, ...)."""
    found = {}
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the listing's own fd is gone by now
            found[int(name)] = os.readlink(f"/proc/self/fd/{name}")
    return found


def socket_inodes() -> set[int]:
    return {
        int(target[len("socket:[") : -1])
        for target in open_fds().values()
        if target.startswith("socket:[")
    }


def _bound_ports(table: str) -> dict[int, int]:
    """inode -> local port, of the sockets in /proc/self/net/<table>."""
    ports = {}
    for table_file in (f"/proc/self/net/{table}", f"/proc/self/net/{table}6"):
        with contextlib.suppress(FileNotFoundError), open(table_file) as fh:
            next(fh)
            for line in fh:
                fields = line.split()
                ports[int(fields[9])] = int(fields[1].rsplit(":", 1)[1], 16)
    return ports


def our_sockets(table: str) -> dict[int, int]:
    """inode -> local port, of this process's own ``udp`` or ``tcp`` sockets."""
    mine = socket_inodes()
    return {inode: port for inode, port in _bound_ports(table).items() if inode in mine}


def files_open_under(root: Path) -> list[str]:
    root = root.resolve()
    return sorted(
        target
        for target in open_fds().values()
        if target.startswith("/") and Path(target).is_relative_to(root)
    )


def host_ports(pcs: Iterable[RTCPeerConnection]) -> set[int]:
    """The UDP ports the peers' ICE agents gathered candidates on."""
    ports = set()
    for pc in pcs:
        for transceiver in pc.getTransceivers():
            transport = transceiver.sender.transport
            if transport is not None:
                ports |= {c.port for c in transport.transport.iceGatherer.getLocalCandidates()}
    return ports


# -- tasks ---------------------------------------------------------------------------------


def _frames(task: asyncio.Task[Any]) -> list[Any]:
    """The frames of a task's coroutine chain, outermost first."""
    frames = []
    awaitable: Any = task.get_coro()
    while awaitable is not None:
        frame = getattr(awaitable, "cr_frame", None) or getattr(awaitable, "gi_frame", None)
        if frame is not None:
            frames.append(frame)
        awaitable = getattr(awaitable, "cr_await", None) or getattr(awaitable, "gi_yieldfrom", None)
    return frames


def packages_of(task: asyncio.Task[Any]) -> set[str]:
    """The top-level packages whose code the task is running, at any depth."""
    return {str(f.f_globals.get("__name__", "")).split(".")[0] for f in _frames(task)}


def describe(task: asyncio.Task[Any]) -> str:
    coro = task.get_coro()
    where = ", ".join(sorted(packages_of(task)))
    return f"{task.get_name()} {getattr(coro, '__qualname__', coro)!r} ({where})"


def watched_tasks(baseline: set[asyncio.Task[Any]]) -> list[asyncio.Task[Any]]:
    """Pending tasks, new since ``baseline``, that run code of rooms/, aiortc or aioice."""
    return [
        task
        for task in asyncio.all_tasks()
        if task not in baseline and not task.done() and packages_of(task) & set(WATCHED)
    ]


def touching(task: asyncio.Task[Any], objects: set[int]) -> bool:
    """Whether any frame of the task's coroutine chain holds one of ``objects`` (by id)."""
    return any(id(value) in objects for f in _frames(task) for value in f.f_locals.values())


def server_side(live: Any) -> set[int]:
    """Ids of the live room's objects, down to the aioice connections of its peers."""
    objects: list[Any] = [live, *(active.recorder for active in live.recorders.values())]
    for participant in live.participants.values():
        peer = participant.peer
        if peer is None:
            continue
        objects += [peer, peer.pc, *peer.published.values()]
        for transceiver in peer.pc.getTransceivers():
            sender, receiver = transceiver.sender, transceiver.receiver
            objects += [transceiver, sender, receiver, sender.track, receiver.track]
            for dtls in (sender.transport, receiver.transport):
                if dtls is not None:
                    ice = dtls.transport
                    connection = ice.iceGatherer._connection
                    objects += [dtls, ice, ice.iceGatherer, connection, *connection._protocols]
    return {id(o) for o in objects if o is not None}


def server_tasks(baseline: set[asyncio.Task[Any]], server_objects: set[int]) -> list[str]:
    """Pending tasks running code of rooms/, or aiortc/aioice code for the server's peers
    (the test's own aiortc clients have tasks of their own)."""
    return [
        describe(t)
        for t in watched_tasks(baseline)
        if "rooms" in packages_of(t) or touching(t, server_objects)
    ]


def decoder_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.endswith("-decoder")}


async def none_left(find: Callable[[], list[str]], what: str, within: float = 5.0) -> None:
    """Wait (bounded) until ``find`` finds nothing; fail listing what it still finds."""
    with contextlib.suppress(AssertionError):
        await eventually(lambda: not find(), what=what, within=within)
    left = find()
    assert not left, f"{what}: {left}"


# -- the server of one test ----------------------------------------------------------------


@dataclass
class Own:
    """A server of the test's own (uvicorn with the app's lifespan) and a meeting on it."""

    app: Any
    running: Serving
    meeting: Meeting
    data_dir: Path
    baseline: set[asyncio.Task[Any]]  # the loop's tasks before the server started
    udp_before: int
    threads_before: set[threading.Thread]

    @property
    def live(self) -> Any:
        return self.app.state.rooms.get(self.meeting.room_id)


@pytest.fixture
async def own(
    factory: Factory, world: Made, database: Database, tmp_path: Path
) -> AsyncIterator[Own]:
    data_dir = tmp_path / "data"
    application = create_app(make_settings(database.url, data_dir))
    baseline = set(asyncio.all_tasks())
    udp_before = len(our_sockets("udp"))
    threads_before = decoder_threads()
    async with serving(application, lifespan="on") as running:
        meeting = Meeting(world, 0, running.server, factory, [])
        try:
            r = await meeting.api(
                "POST", f"/api/cases/{world.case.id}/rooms", json={"kind": "mediation"}
            )
            assert r.status_code == 201, r.text
            meeting.room_id = r.json()["id"]
            yield Own(application, running, meeting, data_dir, baseline, udp_before, threads_before)
        finally:
            for client in meeting.clients:
                await client.close()


# -- the tests -----------------------------------------------------------------------------


async def server_let_go(own: Own, server_objects: set[int], ports: set[int]) -> None:
    """After shutdown: no task of the server's rooms and peers, none of their UDP ports."""
    await none_left(
        lambda: server_tasks(own.baseline, server_objects),
        "server tasks still pending after shutdown",
    )
    await none_left(
        lambda: sorted(port for port in our_sockets("udp").values() if port in ports),
        "UDP sockets of the server's peers still open",
    )


async def test_shutdown_mid_meeting_leaves_nothing_behind(
    own: Own, factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    meeting, room_id = own.meeting, own.meeting.room_id
    mediator = await meeting.join("mediator")
    parties = [await meeting.join("applicant"), await meeting.join("respondent")]
    for party in parties:
        await mediator.send(type="admit", participant_id=party.participant_id)
    people = [mediator, *parties]
    for receiver in people:
        for sender in people:
            if receiver is not sender:
                await flowing(receiver, sender.participant_id, "video", more_than=5)
    for party in parties:
        await _consented(mediator, party)
    r = await meeting.api("POST", f"/api/rooms/{room_id}/recording", json={"action": "start"})
    assert r.status_code == 200 and r.json() == {"on": True}, r.text
    recording_started = time.monotonic()
    workdir = own.app.state.rooms.services.workdir
    await eventually(
        lambda: len(list(workdir.glob("*"))) >= len(people),
        what="a segment being written for each participant",
    )
    await muxed(monkeypatch, [active.recorder for active in own.live.recorders.values()], 40)

    # The meeting as it stands; each probe is first shown to see what it looks for.
    live = own.live
    peers = [p.peer for p in live.participants.values()]
    assert len(peers) == len(people) and all(peers)
    pcs = [peer.pc for peer in peers]
    assert [pc.connectionState for pc in pcs] == ["connected"] * len(pcs)
    assert len(live.recorders) == len(people)
    server_objects = server_side(live)
    ports = host_ports(pcs)
    assert ports and ports <= set(our_sockets("udp").values()), "the peers' UDP sockets"
    assert any(touching(t, server_objects) for t in watched_tasks(own.baseline))
    assert files_open_under(own.data_dir), "the open segment files"
    http_port = int(own.running.server.base_url.rsplit(":", 1)[1])
    assert http_port in our_sockets("tcp").values()
    async with factory.uow() as session:
        rows = await rooms_service.recordings_of_room(session, room_id=room_id)
    stored_before = {rec.participant: len(segments) for rec, segments, _ in rows}
    assert set(stored_before) == {c.participant_id for c in people}

    # Shut down as on SIGTERM: the rooms end first (everyone is told), then uvicorn closes
    # the connections and runs the lifespan's exit.
    stopping = time.monotonic()
    await own.running.stop(within=30)
    recorded = stopping - recording_started

    assert own.app.state.rooms.rooms == {}
    assert live.closed and not live.participants and not live.recorders
    assert all(peer.closed for peer in peers)
    assert [pc.connectionState for pc in pcs] == ["closed"] * len(pcs)
    await server_let_go(own, server_objects, ports)
    await none_left(
        lambda: sorted(port for port in our_sockets("tcp").values() if port == http_port),
        "the server's TCP sockets still open",
    )
    await none_left(lambda: files_open_under(own.data_dir), "files still open in the data dir")
    assert not any(workdir.glob("*")), "a recording left a temporary file"

    # Every recording was stopped, and the segment open at shutdown was stored, whole.
    store = ContentStore(own.data_dir / "store")
    async with factory.uow() as session:
        rows = await rooms_service.recordings_of_room(session, room_id=room_id)
    assert len(rows) == len(people)
    for rec, segments, gaps in rows:
        assert rec.stopped_at is not None and gaps == [], rec
        assert len(segments) > stored_before[rec.participant], f"{rec.participant}: no last"
        last = segments[-1]
        body = store.path_for(last.sha256).read_bytes()
        assert hashlib.sha256(body).hexdigest() == last.sha256 and len(body) == last.size
        assert sum(s.duration for s in segments) >= recorded - 1.5, (segments, recorded)

    # Every client's socket was closed by the server, after `closed {reason: server_shutdown}`.
    for client in people:
        await eventually(
            lambda client=client: client.ws.close_code is not None,
            what=f"{client.participant_id}'s socket closed",
        )
        told = [m["reason"] for m in client.of_type("closed")]
        assert (client.ws.close_code, told) == (1000, ["server_shutdown"])

    # With the test's own clients closed too, nothing of rooms/, aiortc or aioice is left.
    for client in people:
        await client.close()
    await none_left(
        lambda: [describe(t) for t in watched_tasks(own.baseline)], "tasks still pending"
    )
    await none_left(
        lambda: [t.name for t in decoder_threads() - own.threads_before], "decoder threads alive"
    )
    assert len(our_sockets("udp")) <= own.udp_before


async def test_shutdown_tells_everyone_why(own: Own) -> None:
    """signaling.py: `closed {reason}` with server_shutdown, then a normal close (1000);
    room.js then offers to join again rather than retrying in a loop."""
    mediator = await own.meeting.join("mediator")
    await eventually(lambda: bool(mediator.of_type("offer")), what="the mediator's offer")
    await own.running.stop(within=30)
    await eventually(lambda: mediator.ws.close_code is not None, what="the socket closed")
    assert [m["reason"] for m in mediator.of_type("closed")] == ["server_shutdown"]
    assert mediator.ws.close_code == 1000


async def test_shutdown_while_people_connect_leaves_nothing_behind(own: Own) -> None:
    """Peers closed while their ICE checks may still run: aioice would start consent checks
    on a closed connection, which then run forever (rooms.peers._forgo_consent_checks)."""
    mediator = await own.meeting.join("mediator")
    parties = [await own.meeting.join("applicant"), await own.meeting.join("respondent")]
    for party in parties:
        await mediator.send(type="admit", participant_id=party.participant_id)
    people = [mediator, *parties]
    await eventually(
        lambda: all(client.of_type("offer") for client in people), what="everyone's offer"
    )
    live = own.live
    pcs = [p.peer.pc for p in live.participants.values() if p.peer is not None]
    assert len(pcs) == len(people)
    server_objects = server_side(live)
    ports = host_ports(pcs)
    assert ports

    await own.running.stop(within=30)

    assert [pc.connectionState for pc in pcs] == ["closed"] * len(pcs)
    await server_let_go(own, server_objects, ports)
