"""Tasks a live room starts beside its operations (a renegotiation, a timer's expiry, a
recorder that failed): none may fail unseen, and none may outlive the room."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable
from typing import Any

log = logging.getLogger("mediation.rooms")


class RoomTasks:
    def __init__(self, room_id: int) -> None:
        self.room_id = room_id
        self._tasks: set[asyncio.Future[Any]] = set()

    def spawn(self, coro: Awaitable[Any], *, participant: str | None = None) -> None:
        """Run ``coro``; a failure is logged with the room's and the participant's ids (the
        task has no one else to tell). Cancelling is not a failure."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(functools.partial(self._done, participant))

    def _done(self, participant: str | None, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled() or (exc := task.exception()) is None:
            return
        coro = task.get_coro() if isinstance(task, asyncio.Task) else None
        log.error(
            "room task %s failed (room %d, participant %s)",
            getattr(coro, "__qualname__", task),
            self.room_id,
            participant or "-",
            exc_info=exc,
            extra={"room": self.room_id, "participant": participant},
        )

    def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()
