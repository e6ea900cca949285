"""Judges of the court an application was made to read the case's audit events, rooms and
recordings once the court has accepted it; before that, and a judge of another court,
never."""

from __future__ import annotations

import httpx

from rooms import service as rooms_service
from rooms.models import RoomKind
from service import audit
from tests.confirmation.helpers import another_judge, queued, staff_headers
from tests.conftest import Factory


async def _recorded_room(factory: Factory, applied: object) -> tuple[int, int]:
    world = applied.signing.world  # type: ignore[attr-defined]
    async with factory.uow() as s:
        room = await rooms_service.create_room(
            s,
            case=world.case,
            kind=RoomKind.mediation,
            auto_admit=False,
            created_by=world.mediator.id or 0,
            actor=audit.SYSTEM,
        )
        recording = await rooms_service.start_recording(
            s, room=room, participant=f"party-{world.applicant.id}", participant_name="甲"
        )
        sha256 = await factory.app.state.store.put_bytes_async(b"webm " * 20)
        await rooms_service.add_segment(
            s,
            recording_id=recording.id or 0,
            seq=1,
            sha256=sha256,
            size=100,
            duration=1.0,
            media_type="video/webm",
        )
    return room.id or 0, recording.id or 0


async def test_judges_read_the_case_once_their_court_accepted_it(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    applied = await queued(client, factory)
    world = applied.signing.world
    room_id, recording_id = await _recorded_room(factory, applied)
    other_court = await factory.court(region_code="晋0405")
    outsider = await staff_headers(client, factory, await another_judge(factory, other_court))
    colleague = await staff_headers(client, factory, await another_judge(factory, world.court))
    paths = [
        f"/api/cases/{world.case.id}/audit",
        f"/api/cases/{world.case.id}/rooms",
        f"/api/rooms/{room_id}",
        f"/api/rooms/{room_id}/recordings",
        f"/api/rooms/{room_id}/recordings/{recording_id}/segments/1",
    ]
    for path in paths:  # queued, not yet accepted
        for who in (applied.judge, colleague, outsider, applied.clerk):
            assert (await client.get(path, headers=who)).status_code in (403, 404), path

    r = await client.post(
        f"/api/confirmations/{applied.id}/accept", json={"accept": True}, headers=applied.clerk
    )
    assert r.status_code == 200, r.text
    for path in paths:
        for who in (applied.judge, colleague):
            r = await client.get(path, headers=who)
            assert r.status_code == 200, (path, r.text)
        r = await client.get(path, headers=outsider)
        assert r.status_code in (403, 404), path
        # Clerks accept and refuse; reading the record is the judges'.
        assert (await client.get(path, headers=applied.clerk)).status_code == 403, path
    audit_events = (
        await client.get(f"/api/cases/{world.case.id}/audit", headers=applied.judge)
    ).json()
    assert "confirmation.accepted" in [e["action"] for e in audit_events]
    r = await client.get(
        f"/api/rooms/{room_id}/recordings/{recording_id}/segments/1", headers=applied.judge
    )
    assert r.content == b"webm " * 20

    # Reading is all: the judge neither enters nor runs the mediation room.
    assert (await client.get(f"/rooms/{room_id}", headers=applied.judge)).status_code == 403
    for path in (f"/api/rooms/{room_id}/close", f"/api/rooms/{room_id}/recording"):
        r = await client.post(path, json={"action": "stop"}, headers=applied.judge)
        assert r.status_code == 403, path
    r = await client.get(f"/api/cases/{world.case.id}/invitations", headers=applied.judge)
    assert r.status_code == 403
    # An outsider's refusal is the same whether or not the case exists.
    real = await client.get(f"/api/cases/{world.case.id}/audit", headers=outsider)
    missing = await client.get("/api/cases/2000000000/audit", headers=outsider)
    assert (real.status_code, real.json()) == (missing.status_code, missing.json())
