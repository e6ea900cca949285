"""Who may enter a room, and as whom: the one lookup every room route and the socket use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from sqlmodel.ext.asyncio.session import AsyncSession

from rooms.models import Room
from rooms.participant import Identity
from service.auth import CurrentPrincipal, PartyPrincipal, PathId, Principal
from service.db import SessionDep
from service.errors import Forbidden, NotFound
from service.models import Case, Role
from service.schemas import MAX_ID


@dataclass
class RoomAccess:
    room: Room
    case: Case
    identity: Identity


def identity_for(principal: Principal, room: Room, case: Case) -> Identity:
    """Who this caller is in this room, or why not: the rules of DESIGN.md's table."""
    if isinstance(principal, PartyPrincipal):
        if principal.case.id != room.case_id:
            raise NotFound("No such room.")
        party = principal.party
        return Identity(
            participant_id=f"party-{party.id}",
            name=party.name,
            role=party.role,
            is_host=False,
            party_id=party.id,
            actor=principal.actor,
        )
    user = principal.user
    if user.role != Role.mediator:
        # Judges host confirmation rooms (the confirmation issue); admins see no case content.
        raise Forbidden("Your role may not do this.")
    if case.org_id != user.org_id:
        raise NotFound("No such room.")
    return Identity(
        participant_id=f"user-{user.id}",
        name=user.name,
        role=user.role,
        is_host=True,
        user_id=user.id,
        actor=principal.actor,
    )


async def room_access(session: AsyncSession, principal: Principal, room_id: int) -> RoomAccess:
    """The room, its case and who the caller is in it."""
    room = await session.get(Room, room_id) if 1 <= room_id <= MAX_ID else None
    if room is None:
        raise NotFound("No such room.")
    case = await session.get(Case, room.case_id)
    if case is None:  # (the foreign key forbids it)
        raise NotFound("No such room.")
    return RoomAccess(room, case, identity_for(principal, room, case))


async def _room_access(
    room_id: PathId, principal: CurrentPrincipal, session: SessionDep
) -> RoomAccess:
    return await room_access(session, principal, room_id)


async def _host_access(access: Annotated[RoomAccess, Depends(_room_access)]) -> RoomAccess:
    if not access.identity.is_host:
        raise Forbidden("Only the mediator may do this.")
    return access


ViewableRoom = Annotated[RoomAccess, Depends(_room_access)]
HostedRoom = Annotated[RoomAccess, Depends(_host_access)]
