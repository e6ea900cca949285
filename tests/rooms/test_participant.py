"""A participant's stage: one value, moved only by ``move``, which refuses what the room
never does."""

from __future__ import annotations

import asyncio

import pytest

from rooms.participant import (
    MOVES,
    Identity,
    IllegalMove,
    Participant,
    Stage,
    move,
)


def someone(stage: Stage) -> Participant:
    return Participant(Identity("party-1", "甲", "applicant", is_host=False, party_id=1), stage)


@pytest.mark.parametrize(
    ("start", "to"),
    [
        (Stage.prepared, Stage.standby),  # its socket claimed it
        (Stage.lobby, Stage.admitted),  # the host let them in
        (Stage.admitted, Stage.admitted_away),  # Wi-Fi to 4G
        (Stage.admitted_away, Stage.admitted),  # back within the grace time
        (Stage.lobby_away, Stage.admitted_away),  # admitted while away
        (Stage.admitted, Stage.removed),
    ],
)
def test_the_moves_the_room_makes(start: Stage, to: Stage) -> None:
    p = someone(start)
    move(p, to)
    assert p.stage == to


@pytest.mark.parametrize(
    ("start", "to"),
    [
        (Stage.standby, Stage.admitted),  # joining makes a participant of its own
        (Stage.removed, Stage.lobby),  # a removed one comes back as someone new
        (Stage.gone, Stage.admitted),
        (Stage.lobby, Stage.admitted_away),  # nobody is admitted by dropping out
    ],
)
def test_a_move_the_room_never_makes_is_refused(start: Stage, to: Stage) -> None:
    p = someone(start)
    with pytest.raises(IllegalMove):
        move(p, to)
    assert p.stage == start


def test_every_stage_has_its_moves_and_the_ends_have_none() -> None:
    assert set(MOVES) == set(Stage)
    assert MOVES[Stage.removed] == MOVES[Stage.gone] == frozenset()


async def test_coming_back_or_going_gives_up_the_kept_place() -> None:
    loop = asyncio.get_running_loop()
    for back in (Stage.admitted, Stage.gone):
        p = someone(Stage.admitted)
        move(p, Stage.admitted_away)
        p.grace = grace = loop.call_later(60, lambda: None)
        move(p, back)
        assert p.grace is None and grace.cancelled()
    assert someone(Stage.admitted_away).admitted and not someone(Stage.lobby_away).admitted
