"""One unit of work per message: a signalling message, or a request that drives the live room,
writes everything or nothing. Each test makes a write of one fail (the database refusing it,
as a full disk or a lost connection would) and finds no trace of the rest, in the rows and in
the live room: what the room holds in memory follows the record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import col, select

from rooms import negotiation
from rooms import service as rooms_service
from rooms.models import Consent, Recording
from rooms.participant import Stage
from service.models import AuditEvent
from tests.rooms.client import Client
from tests.rooms.conftest import Meeting, eventually
from tests.rooms.test_media import flowing
from tests.rooms.test_recording import _consented
from tests.rooms.test_standby import auto_admit_room, events


def failing_on_call(n: int, real: Callable[..., Any]) -> Callable[..., Any]:
    """``real``, except that its ``n``th call raises as the database would."""
    calls = 0

    async def write(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == n:
            raise OSError("the database went away mid-message")
        return await real(*args, **kwargs)

    return write


async def ledger(meeting: Meeting) -> tuple[list[tuple[int | None, str, bool]], list[str]]:
    """The room's consent ledger and the case's consent entries in the audit chain."""
    async with meeting.factory.uow() as s:
        consents = (await s.exec(select(Consent).where(Consent.room_id == meeting.room_id))).all()
        audit = (
            await s.exec(
                select(AuditEvent.action)
                .where(AuditEvent.case_id == meeting.world.case.id)
                .where(col(AuditEvent.action).startswith("consent."))
            )
        ).all()
    return [(c.party_id, c.kind, c.given) for c in consents], list(audit)


async def test_a_consent_whose_second_write_fails_leaves_no_trace_of_the_first(
    meeting: Meeting, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``consent`` writes two ledger entries (online mediation, recording), each with its
    audit event. The second refused: neither entry, nor the first's audit event, exists;
    the sender is told; the host's list does not show a consent that was not recorded."""
    mediator = await meeting.join("mediator")
    applicant = await meeting.join("applicant", consent=False)
    await eventually(lambda: bool(applicant.of_type("lobby")), what="the lobby")
    monkeypatch.setattr(
        rooms_service, "record_consent", failing_on_call(2, rooms_service.record_consent)
    )
    await applicant.send(type="consent", online=True, recording=True)
    await eventually(lambda: bool(applicant.of_type("error")), what="the sender told")
    assert await ledger(meeting) == ([], [])
    # The host's list, sent after the failed message (a roster of a consent would have come
    # first), shows no consent.
    await mediator.send(type="mute", audio=True)
    await eventually(
        lambda: any(
            p["id"] == mediator.participant_id and not p["audio"]
            for p in mediator.of_type("participants")[-1]["participants"]
        ),
        what="the host's list after the failed message",
    )
    roster = mediator.of_type("participants")[-1]["participants"]
    [waiting] = [p for p in roster if p["id"] == applicant.participant_id]
    assert waiting["consents"] == {"online": False, "recording": False}

    # The same message again, with the database back: both entries, together.
    monkeypatch.undo()
    await applicant.send(type="consent", online=True, recording=True)
    await _consented(mediator, applicant)
    party = meeting.world.applicant.id
    entries, audit = await ledger(meeting)
    assert sorted(entries) == [(party, "online_mediation", True), (party, "recording", True)]
    assert sorted(audit) == ["consent.online_mediation", "consent.recording"]


async def test_a_recording_request_whose_second_row_fails_leaves_no_row(
    meeting: Meeting, monkeypatch: pytest.MonkeyPatch
) -> None:
    """POST /recording drives the live room, whose writes (a row per participant, the
    event) are the request's one transaction: the second row refused, the first is not
    there either, and the host hears that the recordings stopped."""
    mediator = await meeting.join("mediator")
    applicant = await meeting.join("applicant")
    await mediator.send(type="admit", participant_id=applicant.participant_id)
    await flowing(mediator, applicant.participant_id, "video")
    await flowing(applicant, mediator.participant_id, "video")
    await _consented(mediator, applicant)
    monkeypatch.setattr(
        rooms_service, "start_recording", failing_on_call(2, rooms_service.start_recording)
    )
    r = await meeting.api(
        "POST", f"/api/rooms/{meeting.room_id}/recording", json={"action": "start"}
    )
    assert r.status_code == 500
    async with meeting.factory.uow() as s:
        rows = (await s.exec(select(Recording).where(Recording.room_id == meeting.room_id))).all()
        kinds = [e.kind for e in await rooms_service.room_events(s, room_id=meeting.room_id)]
    assert rows == [] and "recording_on" not in kinds
    await eventually(
        lambda: (
            len([m for m in mediator.of_type("notice") if m["code"] == "recording_failed"]) == 2
        ),
        what="the host told that neither recording is kept",
    )


# -- the live room follows the record: what a failed message changed in memory goes back ----


async def joined(meeting: Meeting, client: Client) -> None:
    """Until ``client``'s join is on record (the welcome comes before the commit)."""

    async def recorded() -> bool:
        return ("join", client.participant_id) in await events(meeting)

    await eventually(recorded, what=f"{client.participant_id}'s join recorded")


def refusing(kind: str, real: Callable[..., Any]) -> Callable[..., Any]:
    """``rooms_service.log_event``, except that an event of ``kind`` is refused."""

    async def write(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("kind") == kind:
            raise OSError("the database went away mid-message")
        return await real(*args, **kwargs)

    return write


async def test_a_failed_start_leaves_the_room_not_recording_and_a_new_start_records(
    meeting: Meeting, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The start's rows refused: the live room does not go on saying it records (which
    would answer the next start with on:true and record nothing), nobody is left told that
    it does, and the next start records."""
    mediator = await meeting.join("mediator")
    applicant = await meeting.join("applicant")
    await mediator.send(type="admit", participant_id=applicant.participant_id)
    await flowing(mediator, applicant.participant_id, "video")
    await flowing(applicant, mediator.participant_id, "video")
    await _consented(mediator, applicant)
    live = app.state.rooms.get(meeting.room_id)
    monkeypatch.setattr(
        rooms_service, "start_recording", failing_on_call(2, rooms_service.start_recording)
    )
    path = f"/api/rooms/{meeting.room_id}/recording"
    assert (await meeting.api("POST", path, json={"action": "start"})).status_code == 500
    await eventually(lambda: not live.recorders, what="the recorders without rows ended")
    assert live.recording is False
    # Whatever it was told meanwhile, the last word each one has is "off".
    for client in (mediator, applicant):
        said = client.of_type("recording")
        assert not said or said[-1]["on"] is False, said

    monkeypatch.undo()
    r = await meeting.api("POST", path, json={"action": "start"})
    assert r.status_code == 200 and r.json() == {"on": True}
    assert live.recording is True and len(live.recorders) == 2
    await eventually(
        lambda: [m["on"] for m in applicant.of_type("recording")][-1:] == [True],
        what="the party told that recording is on",
    )


async def test_a_join_whose_record_fails_leaves_nobody_in_the_room(
    meeting: Meeting, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The join's commit refused: the person is not left in the room with a dead socket
    (shown connected, no grace timer, never gone); the socket is closed with 1011, on which
    the page connects afresh, and the next join works."""
    mediator = await meeting.join("mediator")
    await joined(meeting, mediator)
    live = app.state.rooms.get(meeting.room_id)
    monkeypatch.setattr(rooms_service, "log_event", refusing("join", rooms_service.log_event))
    applicant = await meeting.join("applicant")
    await eventually(lambda: applicant.ws.close_code is not None, what="the socket closed")
    assert applicant.ws.close_code == 1011 and applicant.of_type("error")
    assert applicant.participant_id not in live.participants
    assert not [s for s in live.standbys if s.id == applicant.participant_id]
    await eventually(
        lambda: all(
            p["id"] != applicant.participant_id
            for p in mediator.of_type("participants")[-1]["participants"]
        ),
        what="gone from the host's list",
    )

    monkeypatch.undo()
    again = await meeting.join("applicant")
    await mediator.send(type="admit", participant_id=again.participant_id)
    await flowing(again, mediator.participant_id, "video")


async def test_a_standby_whose_join_fails_leaves_no_participant_and_no_peer(
    meeting: Meeting, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    await auto_admit_room(meeting)
    await joined(meeting, await meeting.join("mediator"))
    applicant = await meeting.join("applicant", prejoin=True)
    live = app.state.rooms.get(meeting.room_id)
    [standby] = [s for s in live.standbys if s.id == applicant.participant_id]
    await eventually(lambda: standby.peer is not None, what="the standby's peer")
    peer = standby.peer
    monkeypatch.setattr(rooms_service, "log_event", refusing("join", rooms_service.log_event))
    await applicant.join_meeting()
    await eventually(lambda: applicant.ws.close_code is not None, what="the socket closed")
    assert applicant.ws.close_code == 1011
    assert applicant.participant_id not in live.participants
    assert not [s for s in live.standbys if s.id == applicant.participant_id]
    assert peer.closed


async def test_a_standby_that_fails_to_connect_leaves_no_standby_and_no_peer(
    meeting: Meeting, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Standing by writes nothing, but may fail all the same (its peer's offer): neither the
    standby nor its peer stays behind."""
    await auto_admit_room(meeting)
    await meeting.join("mediator")
    live = app.state.rooms.get(meeting.room_id)
    made: list[Any] = []
    start_media = negotiation.start_media

    async def failing(room: Any, p: Any) -> Any:
        await start_media(room, p)
        made.append(p.peer)
        raise RuntimeError("the offer could not be made")

    monkeypatch.setattr(negotiation, "start_media", failing)
    applicant = await meeting.join("applicant", prejoin=True)
    await eventually(lambda: applicant.ws.close_code is not None, what="the socket closed")
    assert applicant.ws.close_code == 1011
    assert live.standbys == [] and len(made) == 1 and made[0].closed


async def test_a_removal_whose_record_fails_is_not_done(
    meeting: Meeting, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Removing is recorded first and done once recorded: refused, the party stays in the
    meeting and is not barred; the host is told and may try again."""
    await auto_admit_room(meeting)
    mediator = await meeting.join("mediator")
    applicant = await meeting.join("applicant")
    await flowing(mediator, applicant.participant_id, "video")
    live = app.state.rooms.get(meeting.room_id)
    monkeypatch.setattr(rooms_service, "log_event", refusing("remove", rooms_service.log_event))
    await mediator.send(type="remove", participant_id=applicant.participant_id)
    await eventually(lambda: bool(mediator.of_type("error")), what="the host told")
    party = live.participants[applicant.participant_id]
    assert party.stage == Stage.admitted and party.transport is not None
    assert applicant.participant_id not in live.barred and applicant.ws.close_code is None
    await flowing(mediator, applicant.participant_id, "video", more_than=5)

    monkeypatch.undo()
    await mediator.send(type="remove", participant_id=applicant.participant_id)
    await eventually(lambda: applicant.ws.close_code == 4001, what="removed")
    assert applicant.participant_id in live.barred
    assert applicant.participant_id not in live.participants


async def test_an_admission_whose_record_fails_is_not_done(
    meeting: Meeting, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    mediator = await meeting.join("mediator")
    applicant = await meeting.join("applicant")
    await eventually(lambda: bool(applicant.of_type("lobby")), what="the lobby")
    live = app.state.rooms.get(meeting.room_id)
    monkeypatch.setattr(rooms_service, "log_event", refusing("admit", rooms_service.log_event))
    await mediator.send(type="admit", participant_id=applicant.participant_id)
    await eventually(lambda: bool(mediator.of_type("error")), what="the host told")
    waiting = live.participants[applicant.participant_id]
    assert waiting.stage == Stage.lobby and waiting.peer is None
    assert applicant.offers == 0

    monkeypatch.undo()
    await mediator.send(type="admit", participant_id=applicant.participant_id)
    await flowing(applicant, mediator.participant_id, "video")
    assert ("admit", applicant.participant_id) in await events(meeting)
