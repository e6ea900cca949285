"""Rooms over a real server: uvicorn on 127.0.0.1 serving the test app, and aiortc clients
that speak the room's signalling as the browser page does."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from rooms import recording
from tests.conftest import PASSWORD, Factory, Made, Server
from tests.rooms.client import Client


@dataclass
class Meeting:
    """A case with a room, and a way to bring each of its people in as an aiortc client."""

    world: Made
    room_id: int
    server: Server
    factory: Factory
    clients: list[Client]
    _mediator_token: str | None = None

    @property
    def signal_url(self) -> str:
        return f"{self.server.ws_base}/api/rooms/{self.room_id}/signal"

    async def token_for(self, who: str) -> str:
        async with httpx.AsyncClient(base_url=self.server.base_url) as http:
            if who == "mediator":
                r = await http.post(
                    "/api/auth/login",
                    json={"username": self.world.mediator.username, "password": PASSWORD},
                )
                return str(r.json()["token"])
            party = self.world.applicant if who == "applicant" else self.world.respondent
            join = await self.factory.invite(self.world.mediator, self.world.case, party)
            r = await http.post("/api/auth/party", json={"token": join})
            return str(r.json()["token"])

    async def join(self, who: str, **kw: Any) -> Client:
        client = Client(self.signal_url, await self.token_for(who), **kw)
        self.clients.append(client)
        await client.connect()
        await eventually(lambda: client.participant_id is not None, what=f"{who} welcomed")
        return client

    async def api(self, method: str, path: str, **kw: Any) -> httpx.Response:
        if self._mediator_token is None:  # sign in once: Argon2 is slow by design
            self._mediator_token = await self.token_for("mediator")
        token = self._mediator_token
        async with httpx.AsyncClient(base_url=self.server.base_url) as http:
            return await http.request(
                method, path, headers={"Authorization": f"Bearer {token}"}, **kw
            )


async def eventually(
    check: Callable[[], bool | Awaitable[bool]], *, what: str, within: float = 10.0
) -> float:
    """Wait (bounded) until ``check`` holds; returns the seconds it took."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return loop.time() - start
        if loop.time() - start > within:
            raise AssertionError(f"timed out after {within}s waiting for: {what}")
        await asyncio.sleep(0.05)


async def server_took(
    app: Any, room_id: int, participant_id: str | None, *, packets: int = 45, kind: str = "video"
) -> None:
    """The window of a "nothing arrives" check: until the server has taken ``packets`` more
    of ``participant_id``'s ``kind`` and handed each to every subscriber of it (whose gate
    passes it on or not). A slow server makes the check wait for this, instead of passing
    because nothing had happened yet."""

    def taken() -> int:
        live = app.state.rooms.get(room_id)
        p = live.participants.get(participant_id) if live else None
        fanout = p.peer.published.get(kind) if p is not None and p.peer is not None else None
        return fanout.packets if fanout is not None else 0

    start = taken()
    await eventually(
        lambda: taken() >= start + packets,
        what=f"the server taking {packets} more packets of {participant_id}'s {kind}",
    )


async def muxed(monkeypatch: pytest.MonkeyPatch, recorders: list[Any], packets: int) -> None:
    """Until each recorder's writer has muxed ``packets`` more packets into its segment."""
    counts: dict[int, int] = {}
    mux = recording._mux

    def counting(container: Any, packet: Any) -> None:
        mux(container, packet)
        counts[threading.get_ident()] = counts.get(threading.get_ident(), 0) + 1

    monkeypatch.setattr(recording, "_mux", counting)
    await eventually(
        lambda: len([n for n in counts.values() if n >= packets]) == len(recorders),
        what=f"{packets} packets muxed by each writer",
    )


@pytest.fixture
async def meeting(factory: Factory, world: Made, server: Server) -> AsyncIterator[Meeting]:
    made = Meeting(world, 0, server, factory, [])
    r = await made.api("POST", f"/api/cases/{world.case.id}/rooms", json={"kind": "mediation"})
    assert r.status_code == 201, r.text
    made.room_id = r.json()["id"]
    yield made
    for client in made.clients:
        await client.close()
    await made.api("POST", f"/api/rooms/{made.room_id}/close")
