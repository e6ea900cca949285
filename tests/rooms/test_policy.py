"""The forwarding policy: who receives whom, decided on the server."""

from rooms.policy import Standing, may_be_recorded, may_receive

A, B, M = (Standing(id=x, admitted=True) for x in ("party-1", "party-2", "user-1"))
NONE: frozenset[str] = frozenset()


def test_admitted_people_receive_each_other_but_not_themselves() -> None:
    assert may_receive(A, B, "video", NONE) and may_receive(B, A, "audio", NONE)
    assert not may_receive(A, A, "video", NONE)


def test_the_lobby_neither_sends_nor_receives() -> None:
    waiting = Standing(id="party-3", admitted=False)
    for kind in ("audio", "video"):
        assert not may_receive(waiting, M, kind, NONE)
        assert not may_receive(M, waiting, kind, NONE)


def test_a_caucus_is_a_wall_both_ways() -> None:
    caucus = frozenset({M.id, A.id})
    for kind in ("audio", "video"):
        assert may_receive(A, M, kind, caucus) and may_receive(M, A, kind, caucus)
        assert not may_receive(B, M, kind, caucus) and not may_receive(B, A, kind, caucus)
        assert not may_receive(A, B, kind, caucus) and not may_receive(M, B, kind, caucus)


def test_people_outside_a_caucus_still_hear_each_other() -> None:
    agent = Standing(id="party-4", admitted=True)
    caucus = frozenset({M.id, A.id})
    assert may_receive(B, agent, "audio", caucus)


def test_muted_and_audio_only() -> None:
    muted = Standing(id=A.id, admitted=True, audio_muted=True)
    assert not may_receive(B, muted, "audio", NONE) and may_receive(B, muted, "video", NONE)
    weak = Standing(id=B.id, admitted=True, receive_video=False)
    assert not may_receive(weak, A, "video", NONE) and may_receive(weak, A, "audio", NONE)


def test_a_caucus_stays_out_of_the_recording() -> None:
    caucus = frozenset({M.id, A.id})
    assert not may_be_recorded(A, caucus) and may_be_recorded(B, caucus)
    assert not may_be_recorded(Standing(id="x", admitted=False), NONE)
