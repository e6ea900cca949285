"""Who may enter a room, and as whom: the one lookup that every room route, the room page and
the signalling socket use. A party of the case enters as a party; staff enter only as the
host, by their room kind's rule (rooms/hosts.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel.ext.asyncio.session import AsyncSession

from rooms.hosts import HostRule
from rooms.models import Room
from rooms.participant import Identity
from rooms.sfu import registry_of
from service.auth import CurrentPrincipal, PartyPrincipal, PathId, Principal, reads_case
from service.db import SessionDep
from service.errors import Forbidden, NotFound
from service.models import Case
from service.schemas import MAX_ID


@dataclass
class RoomAccess:
    room: Room
    case: Case
    identity: Identity


async def identity_for(
    session: AsyncSession,
    principal: Principal,
    room: Room,
    case: Case,
    rules: Mapping[str, HostRule],
) -> Identity:
    """Who this caller is in this room, or why not (DESIGN.md's table)."""
    if isinstance(principal, PartyPrincipal):
        if principal.case.id != room.case_id:
            raise NotFound("No such room.")
        party = principal.party
        return _identity(principal, f"party-{party.id}", party.name, party.role, party_id=party.id)
    user = principal.user
    rule = rules.get(room.kind)
    if rule is None or user.role not in rule.roles:
        raise Forbidden("Your role may not do this.")  # (admins see no case content)
    if not await rule.hosts(session, user, room, case):
        raise NotFound("No such room.")
    return _identity(principal, f"user-{user.id}", user.name, user.role, user_id=user.id)


def _identity(
    principal: Principal,
    participant_id: str,
    name: str,
    role: str,
    *,
    party_id: int | None = None,
    user_id: int | None = None,
) -> Identity:
    """A party enters as a party; staff only as the host."""
    return Identity(
        participant_id=participant_id,
        name=name,
        role=role,
        is_host=user_id is not None,
        party_id=party_id,
        user_id=user_id,
        actor=principal.actor,
    )


async def room_access(
    session: AsyncSession, principal: Principal, room_id: int, rules: Mapping[str, HostRule]
) -> RoomAccess:
    """The room, its case and who the caller is in it."""
    room = await session.get(Room, room_id) if 1 <= room_id <= MAX_ID else None
    if room is None:
        raise NotFound("No such room.")
    case = await session.get(Case, room.case_id)
    if case is None:  # (the foreign key forbids it)
        raise NotFound("No such room.")
    return RoomAccess(room, case, await identity_for(session, principal, room, case, rules))


async def _room_access(
    room_id: PathId, principal: CurrentPrincipal, session: SessionDep, request: Request
) -> RoomAccess:
    rules = registry_of(request.app).services.host_rules
    return await room_access(session, principal, room_id, rules)


async def _host_access(access: Annotated[RoomAccess, Depends(_room_access)]) -> RoomAccess:
    if not access.identity.is_host:
        raise Forbidden("Only the host of this meeting may do this.")
    return access


@dataclass
class RoomRecord:
    """A room read as a record (its state, its recordings), not entered."""

    room: Room
    case: Case


async def _read(
    room_id: int, principal: Principal, session: AsyncSession, request: Request, *, host: bool
) -> RoomRecord:
    """Who may enter the room (``host``: who hosts it) may read it; so may staff whom a
    domain lets read the case's record (service/domain.py CaseReader: a judge whose court
    accepted the case's application), who never enter. Others are refused as the room's
    own rule refuses them."""
    rules = registry_of(request.app).services.host_rules
    try:
        access = await room_access(session, principal, room_id, rules)
    except (Forbidden, NotFound):
        if isinstance(principal, PartyPrincipal):
            raise
        room = await session.get(Room, room_id)
        case = await session.get(Case, room.case_id) if room is not None else None
        if room is None or case is None:
            raise
        if not await reads_case(request, session, principal.user, case):
            raise
        return RoomRecord(room, case)
    if host and not access.identity.is_host:
        raise Forbidden("Only the host of this meeting may do this.")
    return RoomRecord(access.room, access.case)


async def _readable_room(
    room_id: PathId, principal: CurrentPrincipal, session: SessionDep, request: Request
) -> RoomRecord:
    return await _read(room_id, principal, session, request, host=False)


async def _room_recordings(
    room_id: PathId, principal: CurrentPrincipal, session: SessionDep, request: Request
) -> RoomRecord:
    return await _read(room_id, principal, session, request, host=True)


# A room the caller may enter (a party of its case, or its host), and one the caller hosts.
ViewableRoom = Annotated[RoomAccess, Depends(_room_access)]
HostedRoom = Annotated[RoomAccess, Depends(_host_access)]
# A room read as a record: by whoever may enter it, or by a reader of its case.
ReadableRoom = Annotated[RoomRecord, Depends(_readable_room)]
# Its recordings: by its host, or by a reader of its case.
RoomRecordings = Annotated[RoomRecord, Depends(_room_recordings)]
