"""Who hosts a room is one rule per room kind (rooms/hosts.py), given at composition time:
a kind without a rule has no host, and a rule passed in lets its own staff host, with no
edit to rooms/. The page, the REST routes and the socket all ask the same rule."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import websockets

from rooms import service as rooms_service
from rooms.hosts import HostRule
from rooms.models import Room, RoomKind
from service import audit
from service.models import Case, Role, User
from tests.conftest import Factory, Made, Server
from tests.test_authz import bearer, staff_session


async def confirmation_room(factory: Factory, world: Made) -> int:
    async with factory.uow() as s:
        room = await rooms_service.create_room(
            s,
            case=world.case,
            kind=RoomKind.confirmation,
            auto_admit=False,
            created_by=world.mediator.id or 0,
            actor=audit.SYSTEM,
        )
    return room.id or 0


async def first_message(server: Server, room_id: int, token: str) -> tuple[str, Any]:
    """The socket's first message and how it ended (None: still open, welcomed)."""
    url = f"{server.ws_base}/api/rooms/{room_id}/signal"
    async with websockets.connect(url, additional_headers=bearer(token)) as ws:
        first = json.loads(await ws.recv())
        if first["type"] == "welcome":
            return "welcome", first
        await ws.wait_closed()
        return first["type"], ws.close_code


async def statuses(
    client: httpx.AsyncClient, room_id: int, tokens: dict[str, str]
) -> dict[str, tuple[int, int]]:
    """Each caller's status for the room (ViewableRoom) and its recordings (HostedRoom)."""
    found = {}
    for who, token in tokens.items():
        viewed = await client.get(f"/api/rooms/{room_id}", headers=bearer(token))
        hosted = await client.get(f"/api/rooms/{room_id}/recordings", headers=bearer(token))
        found[who] = (viewed.status_code, hosted.status_code)
    return found


async def test_a_kind_without_a_host_rule_has_no_host(
    client: httpx.AsyncClient, factory: Factory, world: Made, server: Server
) -> None:
    room_id = await confirmation_room(factory, world)
    party = await factory.party_headers(
        client, await factory.invite(world.mediator, world.case, world.applicant)
    )
    client.cookies.clear()
    tokens = {
        "mediator": await staff_session(factory, world.mediator),
        "judge": await staff_session(factory, world.judge),
        "party": party["Authorization"].removeprefix("Bearer "),
    }
    assert await statuses(client, room_id, tokens) == {
        "mediator": (403, 403),  # mediators host mediation rooms only
        # The composition root passes confirmation's rule: judges host confirmation rooms,
        # but only the one holding the case's application; this one holds none.
        "judge": (404, 404),
        "party": (200, 403),  # a party of the case may enter; nobody else may host
    }
    assert await first_message(server, room_id, tokens["mediator"]) == ("error", 4403)
    page = await client.get(f"/rooms/{room_id}", headers=bearer(tokens["mediator"]))
    assert page.status_code == 403 and "text/html" in page.headers["content-type"]


async def test_a_rule_passed_in_lets_its_own_staff_host(
    client: httpx.AsyncClient,
    factory: Factory,
    world: Made,
    server: Server,
    app: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As the confirmation domain will: its judge hosts, the court's other judge finds no
    such room, a clerk's role hosts nothing, and mediation rooms keep their own rule."""
    room_id = await confirmation_room(factory, world)
    other_judge = await factory.user(Role.judge, world.court)

    async def claimed_by(session: Any, user: User, room: Room, case: Case) -> bool:
        return user.id == world.judge.id  # (the application's claimant, in that domain)

    services = app.state.rooms.services
    rules = {
        **services.host_rules,
        RoomKind.confirmation: HostRule(frozenset({Role.judge}), claimed_by),
    }
    monkeypatch.setattr(services, "host_rules", rules)
    tokens = {
        "judge": await staff_session(factory, world.judge),
        "other_judge": await staff_session(factory, other_judge),
        "clerk": await staff_session(factory, world.clerk),
        "mediator": await staff_session(factory, world.mediator),
    }
    assert await statuses(client, room_id, tokens) == {
        "judge": (200, 200),
        "other_judge": (404, 404),
        "clerk": (403, 403),
        "mediator": (403, 403),
    }
    kind, welcome = await first_message(server, room_id, tokens["judge"])
    assert kind == "welcome" and (welcome["role"], welcome["room"]["kind"]) == (
        "judge",
        "confirmation",
    )
    assert await first_message(server, room_id, tokens["other_judge"]) == ("error", 4404)
    await client.post(f"/api/rooms/{room_id}/close", headers=bearer(tokens["judge"]))

    mediation = await client.post(
        f"/api/cases/{world.case.id}/rooms", json={}, headers=bearer(tokens["mediator"])
    )
    assert mediation.status_code == 201, mediation.text
    assert (await statuses(client, mediation.json()["id"], tokens))["mediator"] == (200, 200)
