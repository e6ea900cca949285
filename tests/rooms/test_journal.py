"""One unit of work per message: a signalling message, or a request that drives the live room,
writes everything or nothing. Each test makes the second write of one fail (the database
refusing it, as a full disk or a lost connection would) and finds no trace of the first."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import col, select

from rooms import service as rooms_service
from rooms.models import Consent, Recording
from service.models import AuditEvent
from tests.rooms.conftest import Meeting, eventually
from tests.rooms.test_media import flowing
from tests.rooms.test_recording import _consented


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
