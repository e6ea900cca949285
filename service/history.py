"""A case's history as its page shows it: each audit event in words a person reads.

The audit row keeps what was true when it was written (``actor_label``, hashed into the
chain, so never rewritten); the page shows labels to translate instead of codes. A staff
member or a party is named with their role; the system, the command line and a visitor who
was not signed in are named by what they are.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import cases
from service.i18n import N_
from service.models import AuditEvent, Case, Party, PartyRole, Role, User

Row = TypeVar("Row", User, Party)

# audit.Actor kinds that are not a person with a name of their own.
ACTOR_LABELS = {
    "system": N_("System"),
    "cli": N_("Command line"),
    "anonymous": N_("Visitor"),  # named by their network address
    "court_system": N_("Court's case system"),  # through the court-queue API (a court token)
}


@dataclass(frozen=True)
class HistoryLine:
    at: datetime
    action: str  # a msgid; the action's code itself if no domain labels it
    outcome: str | None  # msgid of the state the event moved something to
    who: str  # a person's name or a network address, shown as it is
    role: str | None  # msgid: the person's role, or what kind of actor it was


async def case_history(
    session: AsyncSession, *, case: Case, action_labels: Mapping[str, str]
) -> list[HistoryLine]:
    """``action_labels``: every domain's (app.state.action_labels). A domain names the state
    one of its events moved something to under ``"<action>/<state>"`` (data["to"])."""
    events = await cases.case_events(session, case=case)
    users = await _by_id(session, User, {e.actor_id for e in events if e.actor_kind == "user"})
    parties = await _by_id(session, Party, {e.actor_id for e in events if e.actor_kind == "party"})
    lines = []
    for event in events:
        data = json.loads(event.data)
        to = data.get("to") if isinstance(data, dict) else None
        who, role = _actor(event, users, parties)
        lines.append(
            HistoryLine(
                at=event.at,
                action=action_labels.get(event.action, event.action),
                outcome=action_labels.get(f"{event.action}/{to}") if to else None,
                who=who,
                role=role,
            )
        )
    return lines


def _actor(
    event: AuditEvent, users: Mapping[int, User], parties: Mapping[int, Party]
) -> tuple[str, str | None]:
    if event.actor_kind == "user" and (user := users.get(event.actor_id or 0)) is not None:
        return user.name, cases.STAFF_ROLE_LABELS[Role(user.role)]
    if event.actor_kind == "party" and (party := parties.get(event.actor_id or 0)) is not None:
        return party.name, cases.PARTY_ROLE_LABELS[PartyRole(party.role)]
    if event.actor_kind == "anonymous":
        return event.actor_label, ACTOR_LABELS["anonymous"]
    if event.actor_kind in ACTOR_LABELS:
        return "", ACTOR_LABELS[event.actor_kind]
    return event.actor_label, None  # as it was written


async def _by_id(session: AsyncSession, model: type[Row], ids: set[int | None]) -> dict[int, Row]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = await session.exec(select(model).where(col(model.id).in_(wanted)))
    return {row.id or 0: row for row in rows.all()}
