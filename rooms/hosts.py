"""Who hosts a room: one rule per room kind, passed to the live rooms at composition time.

A mediation room is hosted by the mediators of the case's committee (``MEDIATION_HOST``). A
confirmation room will be hosted by the judge who claimed the application: the confirmation
domain passes its own rule in ``RoomServices.host_rules`` without editing this package. A
kind with no rule has no host, and staff are refused its rooms (rooms/access.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from rooms.models import Room, RoomKind
from service.models import Case, Role, User


@dataclass(frozen=True)
class HostRule:
    """Who hosts the rooms of one kind. Staff whose role is not in ``roles`` are refused
    (403: their role hosts no such room); staff of such a role for whom ``hosts`` is False
    are told there is no such room (404), as for a case that is not theirs."""

    roles: frozenset[str]
    hosts: Callable[[AsyncSession, User, Room, Case], Awaitable[bool]]
    # What the room page names above the case for everyone in it (a confirmation room: the
    # court's name), or None.
    heading: Callable[[AsyncSession, Room, Case], Awaitable[str | None]] | None = None


async def _mediator_of_the_committee(
    session: AsyncSession, user: User, room: Room, case: Case
) -> bool:
    return case.org_id == user.org_id


MEDIATION_HOST = HostRule(frozenset({Role.mediator}), _mediator_of_the_committee)


def default_host_rules() -> Mapping[str, HostRule]:
    return {RoomKind.mediation: MEDIATION_HOST}
