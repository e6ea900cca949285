"""Media through the SFU, with aiortc clients in place of browsers: who receives whom."""

from __future__ import annotations

from typing import Any

from rooms.participant import Stage
from tests.rooms.conftest import Meeting, eventually


async def flowing(client, who: str, kind: str, more_than: int = 0, within: float = 10.0) -> None:
    base = client.received(who, kind)
    await eventually(
        lambda: client.received(who, kind) > base + more_than,
        what=f"{client.participant_id} receiving {who}'s {kind}",
        within=within,
    )


async def test_three_participants_each_receive_the_other_two(meeting: Meeting) -> None:
    """Video and sound of each participant reach the other two, decoded."""
    mediator = await meeting.join("mediator")
    applicant = await meeting.join("applicant")
    respondent = await meeting.join("respondent")
    for p in (applicant, respondent):
        await mediator.send(type="admit", participant_id=p.participant_id)
    people = [mediator, applicant, respondent]
    for receiver in people:
        for sender in people:
            if receiver is not sender:
                await flowing(receiver, sender.participant_id, "video", more_than=10)
                await flowing(receiver, sender.participant_id, "audio", more_than=10)
                assert receiver.energy[sender.participant_id] > 0.001  # a tone, not silence


async def test_lobby_forwards_nothing_before_admission(meeting: Meeting, app: Any) -> None:
    """A party waiting in the lobby gets no peer and no media, and sends none."""
    mediator = await meeting.join("mediator")
    applicant = await meeting.join("applicant")
    await eventually(lambda: bool(applicant.of_type("lobby")), what="lobby message")
    live = app.state.rooms.get(meeting.room_id)
    waiting_one = live.participants[applicant.participant_id]
    assert waiting_one.stage == Stage.lobby and waiting_one.peer is None
    # The window: the respondent, let in, sees a second of the mediator's video meanwhile.
    respondent = await meeting.join("respondent")
    await mediator.send(type="admit", participant_id=respondent.participant_id)
    await flowing(respondent, mediator.participant_id, "video", more_than=30)
    assert applicant.of_type("offer") == []
    assert sum(applicant.frames.values()) == 0
    assert mediator.received(applicant.participant_id, "video") == 0
    roster = mediator.of_type("participants")[-1]["participants"]
    waiting = next(p for p in roster if p["id"] == applicant.participant_id)
    assert waiting["admitted"] is False
    await mediator.send(type="admit", participant_id=applicant.participant_id)
    await flowing(applicant, mediator.participant_id, "video")


def gates(app: Any, meeting: Meeting, subscriber: str | None) -> dict[tuple[str, str], bool]:
    """(publisher, kind) -> whether the server passes it on to ``subscriber`` now."""
    peer = app.state.rooms.get(meeting.room_id).participants[subscriber].peer
    return {key: out.track.open for key, out in peer.outgoing.items()}


async def test_caucus_keeps_the_other_side_out(meeting: Meeting, app: Any) -> None:
    """In a caucus with A, B gets nothing from A or the mediator; afterwards B gets both."""
    mediator = await meeting.join("mediator")
    a = await meeting.join("applicant")
    b = await meeting.join("respondent")
    for p in (a, b):
        await mediator.send(type="admit", participant_id=p.participant_id)
    await flowing(b, a.participant_id, "video")
    await flowing(b, mediator.participant_id, "audio")

    await mediator.send(type="caucus", **{"with": [a.participant_id]})
    await eventually(lambda: bool(b.of_type("caucus")), what="caucus notice to B")
    assert not any(gates(app, meeting, b.participant_id).values()), "the server still sends B"
    # What was already on its way to B lands while the caucus sees and hears itself.
    await flowing(a, mediator.participant_id, "video", more_than=10)
    frozen = {
        (who, kind): b.received(who, kind)
        for who in (a.participant_id, mediator.participant_id)
        for kind in ("video", "audio")
    }
    energy = {k: b.energy[k] for k in (a.participant_id, mediator.participant_id)}
    a_from_b = a.received(b.participant_id, "audio")
    # The window: a second of media flowing inside the caucus, both ways.
    await flowing(a, mediator.participant_id, "video", more_than=30)
    await flowing(mediator, a.participant_id, "audio", more_than=50)
    for who in (a.participant_id, mediator.participant_id):
        for kind in ("video", "audio"):
            assert b.received(who, kind) == frozen[who, kind], f"B received {who}'s {kind}"
        assert b.energy[who] == energy[who], "B heard the caucus"
    assert a.received(b.participant_id, "audio") == a_from_b, "A heard B"

    await mediator.send(type="caucus", **{"with": []})
    await flowing(b, a.participant_id, "video", more_than=5)
    await flowing(b, mediator.participant_id, "audio", more_than=5)
