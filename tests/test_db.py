"""The unit of work: one transaction per request or message, and read-only units that wait for
no writer."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import select

from service.db import unit_of_work
from service.models import Organisation
from tests.conftest import Factory, Made, unique


async def test_a_read_only_unit_reads_while_a_writer_holds_its_transaction_open(
    factory: Factory, world: Made
) -> None:
    sessions = factory.app.state.sessionmaker
    writing = asyncio.Event()
    done_reading = asyncio.Event()

    async def writer() -> None:
        async with unit_of_work(sessions) as s:
            org = await s.get(Organisation, world.committee.id)
            assert org is not None
            org.name = unique("改名")
            await s.flush()  # the write lock is taken (SQLite) and held until the commit
            writing.set()
            await done_reading.wait()

    task = asyncio.create_task(writer())
    await asyncio.wait_for(writing.wait(), 10)
    try:
        # A reader that began IMMEDIATE would wait for the writer, which waits for it.
        async with asyncio.timeout(5):
            async with unit_of_work(sessions, read_only=True) as s:
                org = await s.get(Organisation, world.committee.id)
        assert org is not None and org.name == world.committee.name
    finally:
        done_reading.set()
        await task


async def test_a_write_in_a_read_only_unit_is_refused_and_nothing_is_written(
    factory: Factory,
) -> None:
    name = unique("不该有")
    with pytest.raises(RuntimeError, match="read-only"):
        async with unit_of_work(factory.app.state.sessionmaker, read_only=True) as s:
            s.add(Organisation(name=name, kind="committee", level="township"))
            await s.flush()
    async with factory.uow() as s:
        found = (await s.exec(select(Organisation).where(Organisation.name == name))).all()
    assert found == []
