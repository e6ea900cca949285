"""The PDF workers: rendering, sealing and checking PDFs in other processes.

WeasyPrint and pyHanko are CPU-bound, and the event loop that would run them also forwards
every room's media: a one-second render on the loop is a one-second freeze in every call.
So each job runs in a worker process (see ``worker``), a fresh interpreter rather than a
fork, since this process holds aiortc's threads and a forked copy of them could hold a lock
forever. The pipe's blocking reads wait in a small thread pool, never on the loop.

A job that outlasts ``PdfSettings.timeout_seconds`` has its worker killed (only that one:
the others keep their jobs) and replaced; the caller gets ``Unavailable`` (503) with a
message a person can act on. Workers warm up before they take a job (fonts loaded), so the
timeout measures the job alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

from service.documents import worker as worker_module
from service.errors import Unavailable
from service.i18n import N_
from service.settings import PdfSettings

log = logging.getLogger("mediation.pdf")
T = TypeVar("T")

BUSY = N_(
    "The document service is busy. Wait a minute and try again; if it keeps happening,"
    " tell your administrator."
)
FAILED = N_(
    "The document could not be made this time. Try again; if it keeps failing, tell your"
    " administrator."
)
_ROOT = Path(__file__).resolve().parent.parent.parent
_START_SECONDS = 120.0  # import, fontconfig's first scan and the warm-up render


class WorkerFailed(Exception):
    """A worker ended (crashed, was killed, or never warmed up) instead of answering."""


class JobFailed(Exception):
    """The job raised in the worker; the worker itself is fine and takes the next job."""


@dataclass(eq=False)
class _Worker:
    process: subprocess.Popen[bytes]
    to_worker: Connection
    from_worker: Connection
    jobs: int = 0

    @property
    def pid(self) -> int:
        return self.process.pid

    def call(self, function: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        """Blocking: one job, sent and answered (run in the workers' thread pool)."""
        try:
            self.to_worker.send((function, args))
            status, value = self.from_worker.recv()
        except (EOFError, OSError) as exc:
            raise WorkerFailed(f"worker {self.pid} ended: {type(exc).__name__}") from None
        if status != "ok":
            raise JobFailed(str(value))
        return value

    def kill(self) -> None:
        """Idempotent; blocking for the moment the process takes to die."""
        for conn in (self.to_worker, self.from_worker):
            with contextlib.suppress(OSError):
                conn.close()
        with contextlib.suppress(OSError):
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)


def _start_worker(allowed: Sequence[str], nice: int) -> _Worker:
    """Blocking: a new worker process, warmed up and ready (or WorkerFailed).

    A fresh interpreter (``python -m service.documents.worker``), not multiprocessing's
    spawn or forkserver: those import the parent's ``__main__`` again in every worker
    (uvicorn's or pytest's, with the whole app behind it) and need every entry script
    guarded. Nothing is forked from this process, so aiortc's threads stay here. Its own
    session, so a Ctrl-C at the terminal reaches the server, which then closes the pool.
    """
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(_ROOT), *sys.path[1:]])}
    try:
        process = subprocess.Popen(  # noqa: S603  (our own interpreter and module)
            [
                sys.executable,
                "-m",
                "service.documents.worker",
                str(to_child_r),
                str(from_child_w),
                str(nice),
                *allowed,
            ],
            pass_fds=(to_child_r, from_child_w),
            stdin=subprocess.DEVNULL,
            cwd=_ROOT,
            env=env,
            start_new_session=True,
        )
    finally:
        os.close(to_child_r)
        os.close(from_child_w)
    worker = _Worker(
        process,
        Connection(to_child_w, readable=False),
        Connection(from_child_r, writable=False),
    )
    try:
        if not worker.from_worker.poll(_START_SECONDS):
            raise WorkerFailed(f"worker {process.pid} did not warm up in {_START_SECONDS} s")
        status, value = worker.from_worker.recv()
    except (EOFError, OSError) as exc:
        worker.kill()
        raise WorkerFailed(f"worker {process.pid} ended while starting: {exc!r}") from None
    except WorkerFailed:
        worker.kill()
        raise
    if status != "ready":
        worker.kill()
        raise WorkerFailed(str(value))
    return worker


class PdfWorkers:
    """A pool of warm PDF worker processes, owned by the app (``app.state.pdf``)."""

    def __init__(self, settings: PdfSettings, *, allowed_dirs: Sequence[Path]) -> None:
        self.settings = settings
        self.allowed = [str(Path(d).resolve()) for d in allowed_dirs]
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._busy: set[_Worker] = set()
        self._starting: set[asyncio.Task[None]] = set()
        self._live = 0  # workers idle, busy or starting
        self._threads = ThreadPoolExecutor(
            max_workers=settings.workers + 2, thread_name_prefix="pdf-pipe"
        )
        self._closed = False
        self.replaced = 0  # workers killed and replaced (timeouts, failures, job limits)

    # -- life -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start warming every worker in the background (returns at once)."""
        self._fill()

    async def wait_ready(self) -> None:
        """Until every worker has started (or failed to): for start-up and benchmarks."""
        self._fill()
        while self._starting:
            await asyncio.gather(*list(self._starting), return_exceptions=True)

    async def close(self) -> None:
        """Idempotent: stop starting workers, end idle and busy ones (a busy job's caller
        gets ``Unavailable``)."""
        if self._closed:
            return
        self._closed = True
        # A worker half-way through starting is waited for (it sees the pool closed and
        # ends itself), so that no process outlives the pool.
        if self._starting:
            await asyncio.wait(list(self._starting), timeout=_START_SECONDS)
        workers = list(self._busy)
        while not self._idle.empty():
            workers.append(self._idle.get_nowait())
        loop = asyncio.get_running_loop()
        await asyncio.gather(
            *(loop.run_in_executor(None, w.kill) for w in workers), return_exceptions=True
        )
        self._threads.shutdown(wait=False, cancel_futures=True)

    def _fill(self) -> None:
        while not self._closed and self._live < self.settings.workers:
            self._live += 1
            task = asyncio.get_running_loop().create_task(self._start_one())
            self._starting.add(task)
            task.add_done_callback(self._starting.discard)

    async def _start_one(self) -> None:
        try:
            worker = await asyncio.to_thread(_start_worker, self.allowed, self.settings.worker_nice)
        except Exception:
            self._live -= 1
            log.exception("a PDF worker failed to start")
            return
        if self._closed:
            await asyncio.to_thread(worker.kill)
            self._live -= 1
            return
        self._idle.put_nowait(worker)

    async def _retire(self, worker: _Worker) -> None:
        """Kill a worker and start another in its place."""
        self._live -= 1
        self.replaced += 1
        await asyncio.to_thread(worker.kill)
        self._fill()

    # -- jobs -----------------------------------------------------------------------------

    async def render(self, html: str, *, base_url: str | None = None, **ids: object) -> bytes:
        """``html`` as a PDF/A-3u file. ``ids`` (case_id=..., agreement_id=...) go into the
        log line if it fails."""
        pdf: bytes = await self.run(worker_module.render_pdf, html, base_url, what="render", **ids)
        return pdf

    async def run(
        self, function: Callable[..., T], /, *args: Any, what: str = "job", **ids: object
    ) -> T:
        """``function(*args)`` in a worker, within the timeout. ``function`` must be a
        module-level function the worker can import; args and result must pickle."""
        if self._closed:
            raise Unavailable(BUSY)
        self._fill()
        timeout = self.settings.timeout_seconds
        worker = await self._acquire(timeout)
        if worker is None:
            log.error("no PDF worker free for a %s within %s s", what, timeout, extra=_extra(ids))
            raise Unavailable(BUSY)
        self._busy.add(worker)
        loop = asyncio.get_running_loop()
        call = loop.run_in_executor(self._threads, worker.call, function, args)
        # The job's own time: waiting for a free worker (bounded above) is not held against
        # it, or a queued job would be killed, and a healthy worker with it, for the wait.
        try:
            result = await asyncio.wait_for(asyncio.shield(call), timeout)
        except TimeoutError:
            self._busy.discard(worker)
            log.error(
                "PDF %s took over %s s: worker %s killed and replaced",
                what,
                timeout,
                worker.pid,
                extra=_extra(ids),
            )
            await self._retire(worker)
            with contextlib.suppress(Exception):
                await call  # the killed worker's pipe read ends at once
            raise Unavailable(BUSY) from None
        except WorkerFailed as exc:
            self._busy.discard(worker)
            log.error("PDF %s failed in worker %s: %s", what, worker.pid, exc, extra=_extra(ids))
            await self._retire(worker)
            raise Unavailable(FAILED) from None
        except JobFailed as exc:
            self._busy.discard(worker)
            log.error("PDF %s failed: %s", what, exc, extra=_extra(ids))
            self._idle.put_nowait(worker)
            raise Unavailable(FAILED) from None
        except asyncio.CancelledError:
            # The caller went away mid-job: the worker may still be busy with it, and its
            # answer would be read by the next caller; it cannot be reused.
            self._busy.discard(worker)
            await asyncio.shield(self._retire(worker))
            raise
        self._busy.discard(worker)
        worker.jobs += 1
        if worker.jobs >= self.settings.max_jobs_per_worker or self._closed:
            await self._retire(worker)
        else:
            self._idle.put_nowait(worker)
        return result

    async def _acquire(self, seconds: float) -> _Worker | None:
        """An idle worker, or None after ``seconds``. Not ``wait_for(queue.get())``: on
        Python 3.11 a get that completes as the timeout fires can lose the worker."""
        getter = asyncio.ensure_future(self._idle.get())
        try:
            done, _ = await asyncio.wait({getter}, timeout=seconds)
        except asyncio.CancelledError:
            if not getter.cancel() and not getter.cancelled():
                self._idle.put_nowait(getter.result())  # taken just now: give it back
            raise
        if not done:
            getter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await getter
        if getter.cancelled():
            return None
        return getter.result()

    @property
    def size(self) -> int:
        return self._live


def _extra(ids: Mapping[str, object]) -> dict[str, object]:
    return {k: v for k, v in ids.items() if isinstance(v, int | str)}
