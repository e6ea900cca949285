"""The judge's session record (询问笔录): a checklist per party and the judge's notes, which
each party confirms as read (bound to the notes' SHA-256), and what a confirmation of the
agreement needs of them.

Kept apart from confirmation/decisions.py (a confirmation is decided there once
``refuse_unless_complete`` passes) and from confirmation/session.py (which opens the room),
so that neither imports the other. Services add and flush; the request commits.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from confirmation.models import Application, RecordConfirmation, SessionRecord
from service import audit, cases
from service.clock import now
from service.errors import Invalid, InvalidTransition
from service.i18n import N_
from service.models import Case, Party

# What the judge checks of each party, in the order the checklist shows them (Interp. 358:
# identity, capacity, a free will, understanding of the terms; the sham mediation warning).
ITEMS: dict[str, str] = {
    "identity": N_("Identity re-checked against the ID document on camera"),
    "capacity": N_("Has the capacity to act"),
    "voluntary": N_("Agreed of their own free will"),
    "understands_terms": N_("Understands each term of the agreement"),
    "sham_warning": N_("Warned about sham mediation"),
}


def notes_hash(notes: str) -> str:
    return hashlib.sha256(notes.encode("utf-8")).hexdigest()


async def current(session: AsyncSession, application_id: int) -> SessionRecord | None:
    """The application's latest session record (one per room the judge opened)."""
    return (
        await session.exec(
            select(SessionRecord)
            .where(SessionRecord.application_id == application_id)
            .order_by(col(SessionRecord.id).desc())
        )
    ).first()


async def start(
    session: AsyncSession, *, application: Application, room_id: int, judge_id: int
) -> SessionRecord:
    """The record of a session in this room: the one already kept for it, or a new one."""
    found = await current(session, application.id or 0)
    if found is not None and found.room_id == room_id:
        return found
    record = SessionRecord(
        application_id=application.id or 0,
        room_id=room_id,
        judge_id=judge_id,
        notes_sha256=notes_hash(""),
    )
    session.add(record)
    await session.flush()
    return record


async def _parties(session: AsyncSession, case: Case) -> list[Party]:
    return (await cases.parties_of(session, [case.id or 0]))[case.id or 0]


def _checked(raw: str) -> dict[str, dict[str, bool]]:
    loaded = json.loads(raw or "{}")
    return loaded if isinstance(loaded, dict) else {}


async def save(
    session: AsyncSession,
    *,
    application: Application,
    case: Case,
    checklist: Mapping[str, Mapping[str, bool]],
    notes: str,
    actor: audit.Actor,
) -> SessionRecord:
    """The judge writes the checklist and notes. Changed notes have a new hash, so the
    parties' earlier confirmations no longer count: they confirm what they read."""
    record = await current(session, application.id or 0)
    if record is None:
        raise InvalidTransition("Open the session first: there is no session record yet.")
    party_ids = {str(p.id) for p in await _parties(session, case)}
    for key in checklist:
        if key not in party_ids:
            raise Invalid("Not a party of this case.", field=f"checklist.{key}")
    record.checklist = json.dumps(
        {key: dict(items) for key, items in sorted(checklist.items())}, sort_keys=True
    )
    record.notes = notes
    record.notes_sha256 = notes_hash(notes)
    record.updated_at = now()
    session.add(record)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="confirmation.record_saved",
        case_id=application.case_id,
        data={"application": application.id, "notes_sha256": record.notes_sha256},
    )
    return record


async def confirm(
    session: AsyncSession,
    *,
    application: Application,
    party: Party,
    notes_sha256: str,
    actor: audit.Actor,
) -> SessionRecord:
    """The party confirms the record as read; 409 if the notes changed since."""
    record = await current(session, application.id or 0)
    if record is None:
        raise InvalidTransition("There is no session record to confirm yet.")
    if notes_sha256 != record.notes_sha256:
        raise InvalidTransition(
            "The judge has changed the record since you read it: read it again, then confirm."
        )
    try:
        async with session.begin_nested():
            session.add(
                RecordConfirmation(
                    session_id=record.id or 0, party_id=party.id or 0, notes_sha256=notes_sha256
                )
            )
            await session.flush()
    except IntegrityError:
        return record  # confirmed already, this very text: nothing changes
    await audit.record(
        session,
        actor=actor,
        action="confirmation.record_confirmed",
        case_id=application.case_id,
        data={"application": application.id, "party": party.id, "notes_sha256": notes_sha256},
    )
    return record


async def confirmations(session: AsyncSession, record: SessionRecord) -> list[RecordConfirmation]:
    return list(
        (
            await session.exec(
                select(RecordConfirmation)
                .where(RecordConfirmation.session_id == record.id)
                .order_by(col(RecordConfirmation.id))
            )
        ).all()
    )


async def refuse_unless_complete(
    session: AsyncSession, *, application: Application, case: Case
) -> None:
    """Before the agreement is confirmed: a session record, every party's checklist all
    ticked, and every party's confirmation of the notes as they now stand. 409 naming the
    first thing missing."""
    record = await current(session, application.id or 0)
    if record is None:
        raise InvalidTransition(
            "Hold the joint session with the parties before confirming: there is no session record."
        )
    checked = _checked(record.checklist)
    confirmed = {
        c.party_id
        for c in await confirmations(session, record)
        if c.notes_sha256 == record.notes_sha256
    }
    parties = await _parties(session, case)
    for party in parties:
        items = checked.get(str(party.id), {})
        for item, label in ITEMS.items():
            if items.get(item) is not True:
                raise InvalidTransition(
                    "The session checklist is not complete: {party}, '{item_label}'.",
                    party=party.name,
                    item_label=label,
                )
    for party in parties:
        if party.id not in confirmed:
            raise InvalidTransition(
                "{party} has not confirmed the session record as it now stands.",
                party=party.name,
            )
