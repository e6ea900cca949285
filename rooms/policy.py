"""Who receives whom: decided by the server, never trusted to a browser."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Standing:
    """What the forwarding decision needs to know about one participant."""

    id: str
    admitted: bool
    audio_muted: bool = False  # by themselves or by the host
    video_muted: bool = False
    receive_video: bool = True  # False: a weak connection chose audio only


def may_receive(
    subscriber: Standing, publisher: Standing, kind: str, caucus: frozenset[str]
) -> bool:
    """Whether ``subscriber`` may get ``publisher``'s ``kind`` of media right now.

    Nobody in the lobby sends or receives anything. During a caucus (back-to-back
    mediation) media flows only within the caucus and only outside it: the side that is not
    in the caucus neither hears the caucus nor is heard by it.
    """
    if subscriber.id == publisher.id or not (subscriber.admitted and publisher.admitted):
        return False
    if caucus and ((subscriber.id in caucus) != (publisher.id in caucus)):
        return False
    if kind == "audio":
        return not publisher.audio_muted
    return not publisher.video_muted and subscriber.receive_video


def may_be_recorded(participant: Standing, caucus: frozenset[str]) -> bool:
    """What is said in a caucus is confidential (OMR 18) and stays out of the recording."""
    return participant.admitted and participant.id not in caucus
