"""Removal holds: a party the host removed comes back only through the lobby, in a room that
admits automatically too, until the host lets them in again."""

from __future__ import annotations

from typing import Any

from rooms.participant import Stage
from tests.rooms.client import Client
from tests.rooms.conftest import Meeting, eventually, server_took
from tests.rooms.test_media import flowing
from tests.rooms.test_standby import auto_admit_room, open_page


def roster_entry(host: Client, participant_id: str | None) -> dict[str, Any] | None:
    rosters = host.of_type("participants")
    people = rosters[-1]["participants"] if rosters else []
    return next((p for p in people if p["id"] == participant_id), None)


async def rejoin(meeting: Meeting, token: str) -> Client:
    client = Client(meeting.signal_url, token)
    meeting.clients.append(client)
    await client.connect()
    await eventually(lambda: client.participant_id is not None, what="welcomed again")
    return client


async def test_a_removed_party_waits_in_the_lobby_until_admitted_again(
    meeting: Meeting, app: Any
) -> None:
    await auto_admit_room(meeting)
    mediator = await meeting.join("mediator")
    applicant = await meeting.join("applicant")
    await flowing(mediator, applicant.participant_id, "video")

    await mediator.send(type="remove", participant_id=applicant.participant_id)
    await eventually(lambda: applicant.ws.close_code is not None, what="the party removed")
    assert applicant.ws.close_code == 4001
    assert [m["reason"] for m in applicant.of_type("closed")] == ["removed"]

    # Straight back, with the same session: the page carries no offer, the socket gets the
    # lobby (no peer), and nothing reaches them while the server takes the mediator's media.
    assert await open_page(meeting, applicant.token) is None
    again = await rejoin(meeting, applicant.token)
    await eventually(lambda: bool(again.of_type("lobby")), what="the lobby")
    await eventually(
        lambda: (roster_entry(mediator, again.participant_id) or {}).get("admitted") is False,
        what="the host sees them waiting",
    )
    waiting = app.state.rooms.get(meeting.room_id).participants[again.participant_id]
    assert waiting.stage == Stage.lobby and waiting.peer is None
    await server_took(app, meeting.room_id, mediator.participant_id)
    assert again.of_type("offer") == [] and again.offers == 0
    assert sum(again.frames.values()) == 0

    # The host's admission lifts the removal: in at once, and after leaving, straight back in.
    await mediator.send(type="admit", participant_id=again.participant_id)
    await flowing(again, mediator.participant_id, "video")
    await flowing(mediator, again.participant_id, "audio")
    await again.ws.close(1000)
    await eventually(
        lambda: roster_entry(mediator, again.participant_id) is None, what="gone from the list"
    )
    third = await rejoin(meeting, applicant.token)
    await flowing(third, mediator.participant_id, "video")
    assert third.of_type("lobby") == []


async def test_a_removal_holds_in_a_live_room_made_again(meeting: Meeting, app: Any) -> None:
    """The removal is on record, not only in this live room's memory: after a restart (a new
    live room for the room still open), the removed party still waits in the lobby of a room
    that admits automatically; and the host's admission holds likewise."""
    await auto_admit_room(meeting)
    mediator = await meeting.join("mediator")
    applicant = await meeting.join("applicant")
    await flowing(mediator, applicant.participant_id, "video")
    await mediator.send(type="remove", participant_id=applicant.participant_id)
    await eventually(lambda: applicant.ws.close_code == 4001, what="the party removed")

    async def restarted() -> None:
        """As a restart leaves it: the room open on record, no live room in this process."""
        registry = app.state.rooms
        old = registry.rooms.pop(meeting.room_id)
        await old.close("server_shutdown")

    await restarted()
    again = await rejoin(meeting, applicant.token)
    await eventually(lambda: bool(again.of_type("lobby")), what="the lobby, after a restart")
    assert again.of_type("offer") == []

    host = await meeting.join("mediator")
    await host.send(type="admit", participant_id=again.participant_id)
    await flowing(again, host.participant_id, "video")

    await restarted()
    third = await rejoin(meeting, applicant.token)
    await eventually(lambda: bool(third.of_type("offer")), what="straight in, after a restart")
    assert third.of_type("lobby") == []
