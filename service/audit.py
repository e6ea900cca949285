"""The append-only, hash-chained audit log.

Each event's hash covers the previous event's hash and its own canonical fields, so editing,
inserting or deleting a row in the middle breaks every later link. ``prev_hash`` is UNIQUE,
so concurrent writers cannot fork the chain: on PostgreSQL writers queue on an advisory lock,
on SQLite on the write lock that ``BEGIN IMMEDIATE`` takes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.clock import now
from service.models import AuditEvent

GENESIS = "0" * 64
_PG_AUDIT_LOCK = 0x6D6564_617564  # arbitrary, constant: "med" "aud"


@dataclass(frozen=True)
class Actor:
    """Who did something: a staff user, a party, the command line or the system itself."""

    kind: str
    id: int | None = None
    label: str = ""


SYSTEM = Actor("system", None, "system")
CLI = Actor("cli", None, "command line")


def canonical_json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _timestamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(
    *,
    seq: int,
    prev_hash: str,
    at: datetime,
    actor_kind: str,
    actor_id: int | None,
    actor_label: str,
    action: str,
    case_id: int | None,
    data: str,
) -> str:
    payload = canonical_json(
        {
            "seq": seq,
            "prev": prev_hash,
            "at": _timestamp(at),
            "actor_kind": actor_kind,
            "actor_id": actor_id,
            "actor_label": actor_label,
            "action": action,
            "case_id": case_id,
            "data": data,
        }
    )
    return hashlib.sha256(payload.encode()).hexdigest()


async def hold_lock(session: AsyncSession) -> None:
    """The chain's writer lock, held to the end of the transaction (on SQLite the write lock
    already is). A writer that locks other shared rows too (the court queue's counts) takes
    this first, so that every writer waits in the same order and none deadlocks."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        lock = text("SELECT pg_advisory_xact_lock(:k)").bindparams(k=_PG_AUDIT_LOCK)
        await session.exec(lock)  # type: ignore[call-overload]


async def record(
    session: AsyncSession,
    *,
    actor: Actor,
    action: str,
    case_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction (it commits or rolls back with it).

    ``data`` must already be free of full ID numbers: callers pass masked values.
    """
    await hold_lock(session)
    head = (
        await session.exec(select(AuditEvent).order_by(col(AuditEvent.seq).desc()).limit(1))
    ).first()
    seq = head.seq + 1 if head else 1
    prev = head.hash if head else GENESIS
    at = now()
    body = canonical_json(data or {})
    event = AuditEvent(
        seq=seq,
        at=at,
        actor_kind=actor.kind,
        actor_id=actor.id,
        actor_label=actor.label[:200],
        action=action,
        case_id=case_id,
        data=body,
        prev_hash=prev,
        hash=event_hash(
            seq=seq,
            prev_hash=prev,
            at=at,
            actor_kind=actor.kind,
            actor_id=actor.id,
            actor_label=actor.label[:200],
            action=action,
            case_id=case_id,
            data=body,
        ),
    )
    session.add(event)
    await session.flush()
    return event


@dataclass(frozen=True)
class Break:
    seq: int
    reason: str


async def _events(session: AsyncSession, batch: int = 1000) -> AsyncIterator[AuditEvent]:
    after = 0
    while True:
        rows = (
            await session.exec(
                select(AuditEvent)
                .where(col(AuditEvent.seq) > after)
                .order_by(col(AuditEvent.seq))
                .limit(batch)
            )
        ).all()
        if not rows:
            return
        for row in rows:
            yield row
        after = rows[-1].seq


async def verify(session: AsyncSession) -> tuple[int, Break | None]:
    """Walk the chain from the start; return how many events hold and the first broken link."""
    prev = GENESIS
    expected_seq = 1
    count = 0
    async for event in _events(session):
        if event.seq != expected_seq:
            return count, Break(expected_seq, f"event {expected_seq} is missing")
        if event.prev_hash != prev:
            return count, Break(event.seq, "does not link to the event before it")
        recomputed = event_hash(
            seq=event.seq,
            prev_hash=event.prev_hash,
            at=event.at,
            actor_kind=event.actor_kind,
            actor_id=event.actor_id,
            actor_label=event.actor_label,
            action=event.action,
            case_id=event.case_id,
            data=event.data,
        )
        if recomputed != event.hash:
            return count, Break(event.seq, "its contents were changed after it was written")
        prev = event.hash
        expected_seq += 1
        count += 1
    return count, None
