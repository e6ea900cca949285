"""The hash-chained, append-only audit log: clean chains verify, tampering is caught by
``mediation audit verify``, the database refuses edits, and concurrent writers never fork.

Each test gets its own freshly migrated database: tampering must never touch the shared one.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import audit
from service.db import make_engine, make_sessionmaker, unit_of_work
from service.migrate import upgrade
from service.models import AuditEvent
from tests.cli_runner import run_cli
from tests.conftest import Databases

TAMPERED = '{"x":1}'


@dataclass
class Chain:
    url: str
    kind: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]


@pytest.fixture
async def chain(databases: Databases) -> AsyncIterator[Chain]:
    db = await databases.new()
    await asyncio.to_thread(upgrade, db.url)
    engine = make_engine(db.url)
    try:
        yield Chain(db.url, db.kind, engine, make_sessionmaker(engine))
    finally:
        await engine.dispose()


async def append(chain: Chain, n: int, *, prefix: str = "test.event") -> None:
    """n events, each in its own committed transaction."""
    for i in range(n):
        async with unit_of_work(chain.sessions) as s:
            await audit.record(
                s,
                actor=audit.Actor("user", 7, "测试用户"),
                action=f"{prefix}.{i}",
                data={"i": i, "note": "备注", "nested": {"b": 2, "a": 1}},
            )


async def verify(chain: Chain) -> tuple[int, audit.Break | None]:
    async with unit_of_work(chain.sessions) as s:
        return await audit.verify(s)


async def events(chain: Chain) -> list[AuditEvent]:
    async with unit_of_work(chain.sessions) as s:
        return list((await s.exec(select(AuditEvent).order_by(col(AuditEvent.seq)))).all())


async def disable_triggers(chain: Chain) -> None:
    """What a malicious DBA would do first: take the append-only guard off."""
    async with chain.engine.begin() as conn:
        if chain.kind == "postgresql":
            await conn.execute(
                text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only")
            )
        else:
            await conn.execute(text("DROP TRIGGER audit_event_no_update"))
            await conn.execute(text("DROP TRIGGER audit_event_no_delete"))


async def test_empty_chain_verifies(chain: Chain) -> None:
    assert await verify(chain) == (0, None)


async def test_separate_transactions_form_a_clean_chain(chain: Chain) -> None:
    await append(chain, 5)
    assert await verify(chain) == (5, None)

    rows = await events(chain)
    assert [e.seq for e in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == audit.GENESIS
    for before, after in itertools.pairwise(rows):
        assert after.prev_hash == before.hash
    # data is stored as the canonical JSON that was hashed.
    assert rows[0].data == '{"i":0,"nested":{"a":1,"b":2},"note":"备注"}'


async def test_cli_verifies_a_clean_chain(chain: Chain, tmp_path: Path) -> None:
    await append(chain, 4)
    result = await run_cli(chain.url, tmp_path, "audit", "verify")
    assert result.returncode == 0, result.stderr
    assert "intact" in result.stdout
    assert "4 events" in result.stdout


async def test_cli_catches_an_edited_event(chain: Chain, tmp_path: Path) -> None:
    await append(chain, 4)
    await disable_triggers(chain)
    async with chain.engine.begin() as conn:
        changed = await conn.execute(
            text("UPDATE audit_event SET data = :d WHERE seq = 2"), {"d": TAMPERED}
        )
        assert changed.rowcount == 1

    count, broken = await verify(chain)
    assert count == 1
    assert broken is not None and broken.seq == 2

    result = await run_cli(chain.url, tmp_path, "audit", "verify")
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "event 2" in result.stderr
    assert "BROKEN" in result.stderr
    assert "intact" not in result.stdout


async def test_cli_catches_a_rehashed_edit(chain: Chain, tmp_path: Path) -> None:
    """Recomputing the edited row's own hash does not help: the next link breaks instead."""
    await append(chain, 4)
    await disable_triggers(chain)
    second = (await events(chain))[1]
    forged = audit.event_hash(
        seq=second.seq,
        prev_hash=second.prev_hash,
        at=second.at,
        actor_kind=second.actor_kind,
        actor_id=second.actor_id,
        actor_label=second.actor_label,
        action=second.action,
        case_id=second.case_id,
        data=TAMPERED,
    )
    async with chain.engine.begin() as conn:
        await conn.execute(
            text("UPDATE audit_event SET data = :d, hash = :h WHERE seq = 2"),
            {"d": TAMPERED, "h": forged},
        )

    count, broken = await verify(chain)
    assert (count, broken and broken.seq) == (2, 3)
    result = await run_cli(chain.url, tmp_path, "audit", "verify")
    assert result.returncode == 1
    assert "event 3" in result.stderr


async def test_cli_catches_a_deleted_event(chain: Chain, tmp_path: Path) -> None:
    await append(chain, 4)
    await disable_triggers(chain)
    async with chain.engine.begin() as conn:
        gone = await conn.execute(text("DELETE FROM audit_event WHERE seq=2"))
        assert gone.rowcount == 1

    count, broken = await verify(chain)
    assert count == 1
    assert broken is not None and broken.seq == 2
    assert "missing" in broken.reason

    result = await run_cli(chain.url, tmp_path, "audit", "verify")
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "event 2" in result.stderr


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_event SET data = :d WHERE seq = 2",
        "UPDATE audit_event SET action = 'other' WHERE seq = 1",
        "DELETE FROM audit_event WHERE seq = 2",
        "DELETE FROM audit_event",
    ],
    ids=["update-data", "update-action", "delete-one", "delete-all"],
)
async def test_database_refuses_update_and_delete(chain: Chain, statement: str) -> None:
    await append(chain, 3)
    params = {"d": TAMPERED} if ":d" in statement else {}
    with pytest.raises(DBAPIError, match="append-only"):
        async with chain.engine.begin() as conn:
            await conn.execute(text(statement), params)
    assert await verify(chain) == (3, None)


async def test_postgres_refuses_truncate(chain: Chain) -> None:
    if chain.kind != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL's; SQLite's DELETE without WHERE is covered above")
    await append(chain, 3)
    with pytest.raises(DBAPIError, match="append-only"):
        async with chain.engine.begin() as conn:
            await conn.execute(text("TRUNCATE audit_event"))
    assert await verify(chain) == (3, None)


async def test_concurrent_appends_never_fork(chain: Chain) -> None:
    await append(chain, 2, prefix="before")

    async def one(i: int) -> int:
        async with unit_of_work(chain.sessions) as s:
            event = await audit.record(s, actor=audit.SYSTEM, action="concurrent", data={"task": i})
            return event.seq

    seqs = await asyncio.gather(*(one(i) for i in range(20)))
    assert sorted(seqs) == list(range(3, 23))

    assert await verify(chain) == (22, None)
    rows = await events(chain)
    assert [e.seq for e in rows] == list(range(1, 23))
    assert sorted(int(e.data.split(":")[1].rstrip("}")) for e in rows[2:]) == list(range(20))
    assert len({e.prev_hash for e in rows}) == 22
