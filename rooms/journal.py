"""One unit of work per message: the durable effects of one thing the live room does.

A signalling message, like a request, has one transaction owner. The live room changes in
memory as a message is handled (peers, gates, the caucus), and some of that must be written
down: room events, the consent ledger, recordings. Those writes are not made as they come
up; they are collected in a ``Journal`` and written together, in one transaction, when the
message's handler has finished, or not at all if it raised. So a failure part-way leaves
nothing half-written, and no write transaction is open while the handler awaits media work:
SQLite has one writer, and a recorder that stops waits for its last segment's own write.

Who commits: a message, a timer or a failed connection commits its journal in a unit of work
of its own (``commit``); a REST call that drives a live room hands its journal to the
request's session (``apply_to``), which commits it with the rest of the request, so the
request stays the one owner. Either way ``on_commit`` and ``on_abort`` callbacks learn the
outcome, for in-memory state that must follow the record (a consent shows once recorded).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import unit_of_work

log = logging.getLogger("mediation.rooms.journal")

# One durable effect: given the session of the journal's transaction, add and flush.
Write = Callable[[AsyncSession], Awaitable[Any]]


class Outcome(StrEnum):
    open = "open"  # still collecting writes
    committed = "committed"
    aborted = "aborted"  # nothing of it was written


class JournalClosed(RuntimeError):
    """A write was added to a journal that has already been written or dropped."""


class Journal:
    def __init__(self) -> None:
        self._writes: list[Write] = []
        self._committed: list[Callable[[], None]] = []
        self._aborted: list[Callable[[], None]] = []
        self.outcome = Outcome.open

    def __len__(self) -> int:
        return len(self._writes)

    def write(self, write: Write) -> None:
        if self.outcome != Outcome.open:
            raise JournalClosed(f"the journal is already {self.outcome}")
        self._writes.append(write)

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the writes are committed (at once if there are none)."""
        self._committed.append(callback)

    def on_abort(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` if the writes are rolled back or never made."""
        self._aborted.append(callback)

    async def commit(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        """Write everything in one unit of work of its own; raises (after on_abort) if any
        write or the commit fails."""
        if self._nothing_to_write():
            return
        try:
            async with unit_of_work(sessionmaker) as session:
                await self._apply(session)
        except BaseException:
            self._settle(Outcome.aborted)
            raise
        self._settle(Outcome.committed)

    async def apply_to(self, session: AsyncSession) -> None:
        """Write everything into ``session``'s transaction, which its owner (a request)
        commits or rolls back later; the callbacks follow that outcome."""
        if self._nothing_to_write():
            return
        try:
            await self._apply(session)
        except BaseException:
            self._settle(Outcome.aborted)
            raise
        sync = session.sync_session
        event.listen(sync, "after_commit", lambda _s: self._settle(Outcome.committed))
        event.listen(sync, "after_rollback", lambda _s: self._settle(Outcome.aborted))
        event.listen(sync, "after_soft_rollback", lambda _s, _t: self._settle(Outcome.aborted))

    def abort(self) -> None:
        """The handler raised: nothing is written."""
        if self.outcome == Outcome.open:
            self._settle(Outcome.aborted)

    def _nothing_to_write(self) -> bool:
        """Refuse a journal already written or dropped; settle one with no writes at once."""
        if self.outcome != Outcome.open:
            raise JournalClosed(f"the journal is already {self.outcome}")
        if not self._writes:
            self._settle(Outcome.committed)
            return True
        return False

    async def _apply(self, session: AsyncSession) -> None:
        for write in self._writes:
            await write(session)
        await session.flush()

    def _settle(self, outcome: Outcome) -> None:
        if self.outcome != Outcome.open:
            return  # (a request's session reports its rollback more than once)
        self.outcome = outcome
        callbacks = self._committed if outcome == Outcome.committed else self._aborted
        self._writes, self._committed, self._aborted = [], [], []
        for callback in callbacks:
            try:
                callback()
            except Exception:  # one callback's failure must not skip the others
                log.exception("a journal callback failed after the journal was %s", outcome)


async def release(session: AsyncSession) -> None:
    """End a request's reads before it awaits a live room (the dependencies only read:
    nothing is committed, nothing is lost). On SQLite the request's transaction would hold
    the one writer's lock throughout, and the room's own writes (a recorder's last segment)
    would wait on it. The session stays usable: the room's journal is applied to it next,
    in a new transaction that the request commits as usual; the rows it loaded keep their
    values."""
    await session.close()
