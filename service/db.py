"""The async database layer: one engine per app, one transaction per unit of work."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import DateTime, event, make_url
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.types import TypeDecorator
from sqlmodel.ext.asyncio.session import AsyncSession


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both databases (SQLite keeps no zone; PostgreSQL does)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use service.clock.now()")
        value = value.astimezone(UTC)
        # SQLite stores text; keep it naive-UTC so ordering by the column stays correct.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def make_engine(url: str, *, echo: bool = False, pool_size: int = 20) -> AsyncEngine:
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})
        _configure_sqlite(engine)
        return engine
    return create_async_engine(
        url, echo=echo, pool_pre_ping=True, pool_size=pool_size, max_overflow=10
    )


READ_ONLY = "mediation_read_only"  # execution option of a unit of work that only reads


def _configure_sqlite(engine: AsyncEngine) -> None:
    """Foreign keys on, WAL, and BEGIN IMMEDIATE.

    SQLite's default deferred transactions let two writers read the same audit chain head and
    then collide; taking the write lock at BEGIN serialises writers. A read-only unit of work
    begins deferred instead: in WAL it takes no lock, so it waits for no writer (and SQLite's
    busy handler, which sleeps in steps of up to 100 ms, is not in its way).
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


def _refuse_writes(session: Any, _context: Any, _instances: Any) -> None:
    raise RuntimeError("a read-only unit of work tried to write")


@asynccontextmanager
async def unit_of_work(
    sessionmaker: async_sessionmaker[AsyncSession], *, read_only: bool = False
) -> AsyncIterator[AsyncSession]:
    """Commit if the block finishes, roll back if it raises: the one transaction owner.

    ``read_only``: the block only reads (say, authenticating a socket): it takes no write lock
    on SQLite and is read-only on PostgreSQL; a write in it raises."""
    async with sessionmaker() as session:
        if read_only:
            event.listen(session.sync_session, "before_flush", _refuse_writes)
            await session.connection(
                execution_options={READ_ONLY: True, "postgresql_readonly": True}
            )
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        await session.commit()


async def _request_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with unit_of_work(request.app.state.sessionmaker) as session:
        yield session


# scope="function": the commit runs when the endpoint returns and before the response is
# sent, so a failed commit becomes an error response rather than a lost write after a 200.
SessionDep = Annotated[AsyncSession, Depends(_request_session, scope="function")]
