"""``mediation serve``, traced, for bench/stall.py: ``python bench/stall_trace.py serve ...``.

Two additions, made in the server's own process before it starts:

- each room operation that waited for the room's lock or held it for more than 50 ms logs
  how long, and which function began it (inside a request, the line carries the request's
  id, so a room page's wait shows beside its request line);
- the event loop logs each time it ran more than 100 ms late, with the CPU time its thread
  and the whole process used meanwhile: late and not running means the process was off the
  CPU (the machine), late and running means it was busy (ours).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import FrameType
from typing import Any

log = logging.getLogger("stall.trace")
LOCK_MS = 50.0
LATE_MS = 100.0


def install() -> None:
    from rooms.journal import Journal
    from rooms.live import LiveRoom
    from service import app as app_module

    plain_operation = LiveRoom.operation

    @contextlib.asynccontextmanager
    async def operation(self: LiveRoom, target: Any = None) -> AsyncIterator[Journal]:
        frame: FrameType | None = sys._getframe(1)
        while frame is not None and frame.f_code.co_filename.endswith("contextlib.py"):
            frame = frame.f_back
        name = frame.f_code.co_name if frame is not None else "?"
        began, entered = time.perf_counter(), None
        try:
            async with plain_operation(self, target) as journal:
                entered = time.perf_counter()
                yield journal
        finally:
            ended = time.perf_counter()
            waited = ((entered or ended) - began) * 1000
            held = (ended - entered) * 1000 if entered is not None else 0.0
            if waited > LOCK_MS or held > LOCK_MS:
                log.info(
                    "room operation %s waited %.0f ms for the lock, held it %.0f ms",
                    name,
                    waited,
                    held,
                )

    async def lateness() -> None:
        while True:
            before, thread, process = time.perf_counter(), time.thread_time(), time.process_time()
            await asyncio.sleep(0.01)
            late = (time.perf_counter() - before - 0.01) * 1000
            if late > LATE_MS:
                log.info(
                    "event loop %.0f ms late; meanwhile its thread ran %.0f ms, process %.0f ms",
                    late,
                    (time.thread_time() - thread) * 1000,
                    (time.process_time() - process) * 1000,
                )

    plain_startup = app_module.Server.startup
    running: set[asyncio.Task[None]] = set()

    async def startup(self: Any, sockets: Any = None) -> None:
        await plain_startup(self, sockets)
        running.add(asyncio.get_running_loop().create_task(lateness()))

    LiveRoom.operation = operation  # type: ignore[method-assign]
    app_module.Server.startup = startup  # type: ignore[method-assign]


def main() -> int:
    # Run as a script, this folder leads sys.path, and bench/rooms.py would hide the package.
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    install()
    from service.cli import main as cli

    return cli(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
