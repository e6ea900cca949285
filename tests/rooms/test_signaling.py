"""Abuse of the signalling socket: each bad message gets an error, and nobody else notices."""

from __future__ import annotations

import json

import pytest

from rooms.signaling import MAX_MESSAGE_BYTES, BadMessage, parse
from tests.rooms.conftest import Meeting, eventually
from tests.rooms.test_media import flowing


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "needs a string 'type'"),
        ('{"type": "teleport"}', "Malformed 'teleport'"),
        ('{"type": "admit"}', "participant_id"),
        ('{"type": "caucus", "with": "party-1"}', "with"),
        ('{"type": "chat", "text": ""}', "text"),
        ('{"type": "mute", "audio": true, "extra": 1}', "extra"),
        ('{"type": "admit", "participant_id": "../../etc"}', "participant_id"),
        ("x" * (MAX_MESSAGE_BYTES + 1), "too large"),
        # No coercion: a consent is a JSON true, an index a JSON integer.
        ('{"type": "consent", "online": "yes", "recording": "on"}', "online"),
        ('{"type": "consent", "online": 1, "recording": true}', "online"),
        ('{"type": "identity", "participant_id": "party-1", "verified": 1}', "verified"),
        ('{"type": "candidate", "candidate": "c", "sdpMLineIndex": 2.0}', "sdpMLineIndex"),
        ('{"type": "receive", "video": "false"}', "video"),
    ],
)
def test_parse_refuses_with_a_reason(raw: str, says: str) -> None:
    with pytest.raises(BadMessage) as refused:
        parse(raw)
    assert says in refused.value.detail


async def test_bad_and_forbidden_messages_leave_the_room_intact(meeting: Meeting) -> None:
    """A party sending oversized, malformed, binary or host-only messages gets errors; the
    mediator and the other party keep their media, and nothing changes in the room."""
    mediator = await meeting.join("mediator")
    a = await meeting.join("applicant")
    b = await meeting.join("respondent")
    for p in (a, b):
        await mediator.send(type="admit", participant_id=p.participant_id)
    await flowing(b, mediator.participant_id, "video")

    abuse = [
        "x" * (MAX_MESSAGE_BYTES + 10),
        "{broken",
        json.dumps({"type": "caucus", "with": [a.participant_id]}),
        json.dumps({"type": "admit", "participant_id": b.participant_id}),
        json.dumps({"type": "remove", "participant_id": b.participant_id}),
        json.dumps({"type": "mute", "audio": True, "participant_id": b.participant_id}),
        json.dumps({"type": "identity", "participant_id": a.participant_id, "verified": True}),
        json.dumps({"type": "warning"}),
        json.dumps({"type": "answer", "sdp": "v=0 not an answer at all"}),
    ]
    for raw in abuse:
        await a.ws.send(raw)
    await a.ws.send(b"\x00binary")
    await eventually(lambda: len(a.of_type("error")) >= len(abuse) + 1, what="an error each")
    assert all(m["detail"] for m in a.of_type("error"))
    assert not b.of_type("caucus") and not b.of_type("closed") and not b.of_type("error")
    roster = mediator.of_type("participants")[-1]["participants"]
    assert {p["id"] for p in roster} >= {a.participant_id, b.participant_id}
    assert not any(p["in_caucus"] for p in roster)
    assert all(p["audio"] for p in roster)
    await flowing(b, a.participant_id, "video", more_than=5)
    await flowing(mediator, b.participant_id, "audio", more_than=5)
    await flowing(a, mediator.participant_id, "video", more_than=5)  # the sender stays too
