"""What rooms hear of other domains (through service/hub.py) and tell them (signing evidence).

rooms/ never imports agreements/: a new agreement version reaches the people in the case's
meeting as the hub's ``agreement_version`` message, and the consent ledger reaches a
signature through the ``signing_evidence`` hook of the domain seam.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from rooms.models import Consent, ConsentKind
from rooms.participant import IN_MEETING
from rooms.sfu import RoomRegistry
from service import hub
from service.hub import Message
from service.models import Case, Party

AGREEMENT_TOPIC = hub.AGREEMENT_TOPIC


def agreement_news(registry: RoomRegistry) -> Any:
    """The hub's subscriber: each live room of the case tells its host and the people let
    in (not the lobby) that a version was saved; their pages fetch it."""

    async def deliver(message: Message) -> None:
        case_id, agreement_id, version = (
            message["case_id"],
            message["agreement_id"],
            message["version"],
        )
        for live in list(registry.rooms.values()):
            if live.case_id != case_id or live.closed:
                continue
            for p in list(live.participants.values()):
                if p.identity.is_host or p.stage in IN_MEETING:
                    await live.send(p, "agreement", agreement_id=agreement_id, version=version)

    return deliver


async def signing_evidence(session: AsyncSession, case: Case, party: Party) -> dict[str, Any]:
    """The consent ledger's entries for this party (and the room-wide sham warning): each
    formality's latest entry, with when, in which room and, for the identity check, which
    mediator compared the ID document on camera."""
    rows = (
        await session.exec(
            select(Consent)
            .where(Consent.case_id == case.id)
            .where((col(Consent.party_id) == party.id) | (col(Consent.party_id).is_(None)))
            .order_by(col(Consent.id))
        )
    ).all()
    latest: dict[str, Consent] = {}
    for row in rows:
        latest[row.kind] = row  # a later entry (a consent withdrawn, given again) wins
    return {kind.value: _entry(latest.get(kind.value)) for kind in ConsentKind}


def _entry(row: Consent | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "given": row.given,
        "at": row.at.isoformat(),
        "room_id": row.room_id,
        "by_user_id": row.by_user_id,
    }
