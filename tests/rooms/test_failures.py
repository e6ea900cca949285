"""Failures that must be loud: forwarding that finds aiortc's internals moved, and a task
the room started beside its messages. Each is logged with the room's and participant's ids
and surfaces where someone can act on it."""

from __future__ import annotations

from typing import Any

import pytest

from rooms import peers
from rooms import service as rooms_service
from rooms.passthrough import SeamChangedError
from tests.rooms.conftest import Meeting, eventually
from tests.rooms.test_media import flowing


def errors(caplog: pytest.LogCaptureFixture, starting: str) -> list[Any]:
    return [
        r for r in caplog.records if r.levelname == "ERROR" and r.getMessage().startswith(starting)
    ]


async def test_forwarding_that_finds_the_seam_moved_fails_the_peer_loudly(
    meeting: Meeting, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Without the pass-through, aiortc hands the fan-out decoded frames: what an aiortc
    that moved its internals would do. Forwarding stops with SeamChangedError, logged with
    the ids, and the peer fails (the browser is told to reconnect), instead of the error
    waiting, unseen, for close()."""
    monkeypatch.setattr(peers, "enable_passthrough", lambda receiver: None)
    mediator = await meeting.join("mediator")
    await eventually(lambda: mediator.ws.close_code is not None, what="the peer failing")
    assert mediator.ws.close_code == 4002
    logged = errors(caplog, "forwarding of ")
    assert logged, caplog.text
    assert {(r.room, r.participant) for r in logged} == {(meeting.room_id, mediator.participant_id)}
    assert all(isinstance(r.exc_info[1], SeamChangedError) for r in logged)
    async with meeting.factory.uow() as s:
        events = await rooms_service.room_events(s, room_id=meeting.room_id)
    kinds = [(e.kind, e.participant) for e in events]
    assert ("forwarding_failed", mediator.participant_id) in kinds


async def test_a_failing_room_task_is_logged_with_its_ids(
    meeting: Meeting, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The renegotiation the room starts when someone's camera arrives fails for the
    mediator's peer: the log says which room and whose peer, and the meeting goes on."""
    mediator = await meeting.join("mediator")
    applicant = await meeting.join("applicant")
    await eventually(lambda: mediator.offers == 1, what="the mediator's first offer")
    create_offer = peers.Peer.create_offer

    async def failing_for_the_mediator(self: peers.Peer) -> dict[str, Any]:
        if self.participant_id == mediator.participant_id:
            raise RuntimeError("no offer today")
        return await create_offer(self)

    monkeypatch.setattr(peers.Peer, "create_offer", failing_for_the_mediator)
    await mediator.send(type="admit", participant_id=applicant.participant_id)
    await eventually(lambda: bool(errors(caplog, "room task ")), what="the failure logged")
    logged = errors(caplog, "room task ")
    assert {(r.room, r.participant) for r in logged} == {(meeting.room_id, mediator.participant_id)}
    assert {str(r.exc_info[1]) for r in logged} == {"no offer today"}
    monkeypatch.setattr(peers.Peer, "create_offer", create_offer)
    await flowing(applicant, mediator.participant_id, "video")
