"""A phone moving from Wi-Fi to 4G: the socket drops, the same person is back at once."""

from __future__ import annotations

import time

from tests.rooms.client import Client
from tests.rooms.conftest import Meeting, eventually
from tests.rooms.test_media import flowing


async def test_a_dropped_participant_is_back_receiving_within_five_seconds(
    meeting: Meeting,
) -> None:
    mediator = await meeting.join("mediator")
    applicant = await meeting.join("applicant")
    await mediator.send(type="admit", participant_id=applicant.participant_id)
    await flowing(applicant, mediator.participant_id, "video")

    token = applicant.token
    started = time.monotonic()
    await applicant.drop()
    again = Client(meeting.signal_url, token)
    meeting.clients.append(again)
    await again.connect()
    await flowing(again, mediator.participant_id, "video", more_than=5, within=5)
    took = time.monotonic() - started
    assert took < 5, took
    assert again.participant_id == applicant.participant_id
    assert not again.of_type("lobby"), "sent back to the lobby"
    await flowing(mediator, again.participant_id, "video", more_than=5, within=5)


async def test_a_stale_socket_is_replaced_not_doubled(meeting: Meeting) -> None:
    mediator = await meeting.join("mediator")
    first = await meeting.join("applicant")
    await mediator.send(type="admit", participant_id=first.participant_id)
    await flowing(mediator, first.participant_id, "video")
    second = Client(meeting.signal_url, first.token)
    meeting.clients.append(second)
    await second.connect()
    await flowing(second, mediator.participant_id, "video", within=5)
    await eventually(lambda: first.ws.close_code is not None, what="the old socket closed")
    assert first.ws.close_code == 4000
    roster = mediator.of_type("participants")[-1]["participants"]
    assert [p["id"] for p in roster].count(first.participant_id) == 1


async def test_leaving_on_purpose_frees_the_place_at_once(meeting: Meeting) -> None:
    mediator = await meeting.join("mediator")
    applicant = await meeting.join("applicant")
    await mediator.send(type="admit", participant_id=applicant.participant_id)
    await flowing(mediator, applicant.participant_id, "video")
    await applicant.ws.close(1000)
    await eventually(
        lambda: (
            applicant.participant_id
            not in {p["id"] for p in mediator.of_type("participants")[-1]["participants"]}
        ),
        what="the roster without the applicant",
        within=3,
    )
