"""Agreements benchmark: what making the agreement's PDF costs, and what it does to the loop.

    .venv/bin/python bench/agreements.py [--renders 20] [--issues 10] [--at-once 8]
                                         [--workers 2] [--media-seconds 6] [--no-media]

A fresh SQLite database in a temporary folder and the app in this process (its lifespan
running, so ``app.state.pdf`` is the real pool of warm workers). Printed:

- the render time of a 2-page agreement (the tests' sample: two parties, an instalment
  plan, a drawn and a typed signature, the seal and the QR code), median of --renders,
  through the PDF workers and with bare WeasyPrint in this process on the same HTML,
  alternately, and their ratio (target: at most 1.3x);
- the time to issue it as the mediator's signature does after the last signature: render,
  seal (PAdES, in a worker), store and record (median of --issues);
- the largest event-loop stall while --at-once PDFs render at once (target: none over
  20 ms), measured by a ticker task that sleeps 1 ms and records how late it wakes: idle,
  and then with a meeting forwarding media (uvicorn serving the app on 127.0.0.1 in this
  loop; three aiortc participants, in a process of their own, sending a 320x240 camera and
  a tone through the room),
  first with media alone and then with the renders on top. For contrast, the stall of one
  render done on the loop itself.

A benchmark, not a test: it prints figures and compares them with the targets; it fails
(exit 1) only when it could not measure.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_RATIO = 1.3
TARGET_STALL_MS = 20.0


class Ticker:
    """How late a task that sleeps 1 ms wakes up: the loop's stalls, as others feel them."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.worst_busy = 0.0  # of the worst stall, the time this thread was on a CPU
        self.lates: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            started, cpu = time.perf_counter(), time.thread_time()
            await asyncio.sleep(0.001)
            late = time.perf_counter() - started - 0.001
            self.lates.append(late)
            if late > self.worst:
                # On a CPU for most of it: the loop was busy (our code). Off it: the thread
                # waited for a core (or the GIL) while other processes ran.
                self.worst, self.worst_busy = late, time.thread_time() - cpu

    def __enter__(self) -> Ticker:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()

    def p99_ms(self) -> float:
        if not self.lates:
            return 0.0
        ordered = sorted(self.lates)
        return ordered[int(len(ordered) * 0.99)] * 1000


class GcPauses:
    """The longest garbage collection since the last reset: a stall the ticker sees that is
    the collector's, not the renders'."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.longest = max(self.longest, time.perf_counter() - self._started)

    def take(self) -> float:
        longest, self.longest = self.longest, 0.0
        return longest


GC_PAUSES = GcPauses()


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


async def stall_while(work: Callable[[], Awaitable[Any]]) -> tuple[float, float, float, float]:
    """(worst stall, the loop's CPU time in it, p99 stall, wall time) while ``work`` runs."""
    with Ticker() as ticker:
        await asyncio.sleep(0.05)  # the ticker is running
        started = time.perf_counter()
        await work()
        wall = time.perf_counter() - started
        # Let the ticker wake once more: a stall at the very end (work that blocked the loop
        # until it returned) is only seen when the ticker next runs.
        await asyncio.sleep(0.01)
    return ticker.worst, ticker.worst_busy, ticker.p99_ms() / 1000, wall


async def stall_for(seconds: float) -> tuple[float, float]:
    with Ticker() as ticker:
        await asyncio.sleep(seconds)
    return ticker.worst, ticker.p99_ms() / 1000


async def main(args: argparse.Namespace) -> int:
    from weasyprint import HTML

    from agreements.render import agreement_html
    from service.app import create_app
    from service.documents import seal
    from service.documents import service as documents_service
    from service.documents.models import DocumentKind
    from service.migrate import upgrade
    from service.settings import PdfSettings
    from tests.conftest import Factory, make_settings
    from tests.documents.samples import sample_doc

    tmp = Path(tempfile.mkdtemp(prefix="bench-agreements-"))
    url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    await asyncio.to_thread(upgrade, url)
    settings = make_settings(url, tmp, pdf=PdfSettings(workers=args.workers, prestart=True))
    app = create_app(settings)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python"
        f" {platform.python_version()}, WeasyPrint {package_version('weasyprint')}, pyHanko"
        f" {package_version('pyhanko')}; {args.workers} PDF workers"
    )
    async with app.router.lifespan_context(app):
        pool = app.state.pdf
        started = time.perf_counter()
        await pool.wait_ready()
        print(f"workers warm after {time.perf_counter() - started:.2f} s (in the background)")
        factory = Factory(app)
        world = await factory.world()
        # As `mediation serve` does once the app is made: what lives as long as the process
        # is out of the collector's way.
        gc.collect()
        gc.freeze()
        gc.callbacks.append(GC_PAUSES)
        code = documents_service.new_code()
        doc = sample_doc(
            number=world.case.number,
            committee=world.committee.name,
            verify_code=documents_service.format_code(code),
            verify_url=f"{settings.public_url}/verify?code={code}",
        )
        html = agreement_html(doc)
        from io import BytesIO

        from pypdf import PdfReader

        def bare() -> bytes:
            return bytes(HTML(string=html).write_pdf(pdf_variant="pdf/a-3u"))

        first = bare()  # warm this process's fonts too
        pages = len(PdfReader(BytesIO(first)).pages)
        await pool.render(html)

        # 1. Render time, alternating so that drift in the machine's load hits both alike.
        pooled: list[float] = []
        direct: list[float] = []
        for _ in range(args.renders):
            t = time.perf_counter()
            await pool.render(html)
            pooled.append(time.perf_counter() - t)
            t = time.perf_counter()
            bare()
            direct.append(time.perf_counter() - t)
        p, d = statistics.median(pooled), statistics.median(direct)
        ratio = p / d
        print(f"\nrender, {pages}-page agreement, {len(html) // 1024} KiB of HTML:")
        print(f"  PDF workers    median {ms(p)}  (min {ms(min(pooled))}, max {ms(max(pooled))})")
        print(f"  bare WeasyPrint median {ms(d)}  (min {ms(min(direct))}, max {ms(max(direct))})")
        verdict = "ok" if ratio <= TARGET_RATIO else "OVER TARGET"
        print(f"  ratio {ratio:.2f}x (target <= {TARGET_RATIO}x): {verdict}")

        # 2. Issuing: render, seal, store, record (as after the mediator's signature).
        issue_times: list[float] = []
        for _ in range(args.issues):
            code = documents_service.new_code()
            t = time.perf_counter()
            pdf = await pool.render(html)
            async with factory.uow() as s:
                sealed = await seal.seal(
                    s, org_id=world.committee.id or 0, pdf=pdf, settings=settings, workers=pool
                )
                await documents_service.issue(
                    s,
                    pdf=sealed,
                    case_id=world.case.id or 0,
                    kind=DocumentKind.agreement,
                    source_id=1,
                    version=1,
                    code=code,
                    org_id=world.committee.id or 0,
                    store=app.state.store,
                )
            issue_times.append(time.perf_counter() - t)
        print(f"\nissue (render + seal + store + record), median of {args.issues}:")
        print(
            f"  {ms(statistics.median(issue_times))}  (min {ms(min(issue_times))},"
            f" max {ms(max(issue_times))})"
        )

        # 3. The loop while PDFs render.
        async def at_once() -> None:
            await asyncio.gather(*(pool.render(html) for _ in range(args.at_once)))

        idle_worst, idle_p99 = await stall_for(1.0)
        GC_PAUSES.take()
        worst, busy, p99, wall = await stall_while(at_once)
        gc_longest = GC_PAUSES.take()
        print(f"\nevent loop, {args.at_once} PDFs rendering at once ({ms(wall)} for all):")
        print(f"  idle for 1 s:       worst stall {ms(idle_worst)}, p99 {ms(idle_p99)}")
        verdict = "ok" if worst * 1000 <= TARGET_STALL_MS else "OVER TARGET"
        print(
            f"  while rendering:    worst stall {ms(worst)}, p99 {ms(p99)}"
            f" (target <= {TARGET_STALL_MS:.0f} ms): {verdict}"
        )
        print(f"    of it on the CPU: {ms(busy)}; longest GC {ms(gc_longest)}")

        async def on_the_loop() -> None:
            bare()

        worst_direct, _, _, _ = await stall_while(on_the_loop)
        print(f"  for contrast, one render on the loop itself: stall {ms(worst_direct)}")

        if not args.no_media:
            await with_media(app, factory, world, at_once, args)
    return 0


async def with_media(
    app: Any,
    factory: Any,
    world: Any,
    at_once: Callable[[], Awaitable[None]],
    args: argparse.Namespace,
) -> None:
    """The same renders while a meeting of three forwards media through this loop. The
    participants (aiortc, as in tests/rooms) run in a process of their own, as browsers
    would be elsewhere: their decoding and their garbage are not this process's."""
    import httpx

    from tests.conftest import PASSWORD, serving

    async with serving(app) as running:
        base = running.server.base_url
        async with httpx.AsyncClient(base_url=base) as http:
            r = await http.post(
                "/api/auth/login",
                json={"username": world.mediator.username, "password": PASSWORD},
            )
            mediator_token = r.json()["token"]
            headers = {"Authorization": f"Bearer {mediator_token}"}
            r = await http.post(
                f"/api/cases/{world.case.id}/rooms", json={"kind": "mediation"}, headers=headers
            )
            room_id = r.json()["id"]
            tokens = [mediator_token]
            for party in (world.applicant, world.respondent):
                join = await factory.invite(world.mediator, world.case, party)
                r = await http.post("/api/auth/party", json={"token": join})
                tokens.append(r.json()["token"])
        signal = f"{running.server.ws_base}/api/rooms/{room_id}/signal"
        players = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--play",
            signal,
            *tokens,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert players.stdout is not None and players.stdin is not None
        try:
            line = await asyncio.wait_for(players.stdout.readline(), 90)
            if not line.startswith(b"flowing"):
                raise SystemExit(f"could not measure: the participants said {line!r}")

            async def frames() -> int:
                players.stdin.write(b"count\n")  # type: ignore[union-attr]
                await players.stdin.drain()  # type: ignore[union-attr]
                return int(await players.stdout.readline())  # type: ignore[union-attr]

            before, t = await frames(), time.perf_counter()
            GC_PAUSES.take()
            media_worst, media_p99 = await stall_for(args.media_seconds)
            media_gc = GC_PAUSES.take()
            media_rate = (await frames() - before) / (time.perf_counter() - t)
            before, t = await frames(), time.perf_counter()
            worst, busy, p99, wall = await stall_while(at_once)
            gc_longest = GC_PAUSES.take()
            during_rate = (await frames() - before) / (time.perf_counter() - t)
            print(
                "\nwith a meeting of 3 forwarding media through this loop (uvicorn in this"
                " process, the aiortc participants in another):"
            )
            print(
                f"  media alone, {args.media_seconds:.0f} s:  worst stall {ms(media_worst)},"
                f" p99 {ms(media_p99)}; {media_rate:.0f} frames/s decoded by the participants;"
                f" longest GC {ms(media_gc)}"
            )
            verdict = "ok" if worst * 1000 <= TARGET_STALL_MS else "OVER TARGET"
            print(
                f"  media + {args.at_once} PDFs ({ms(wall)}): worst stall {ms(worst)}, p99"
                f" {ms(p99)}; {during_rate:.0f} frames/s (target <= {TARGET_STALL_MS:.0f} ms):"
                f" {verdict}"
            )
            print(f"    of it on the CPU: {ms(busy)}; longest GC {ms(gc_longest)}")
        finally:
            players.stdin.close()
            try:
                await asyncio.wait_for(players.wait(), 20)
            except TimeoutError:
                players.kill()
                await players.wait()


async def play(signal: str, tokens: list[str]) -> int:
    """The participants' process: join (the first is the mediator, who admits the others),
    say "flowing" once every one decodes video from every other, then answer "count" with
    the frames decoded so far, until stdin closes."""
    from tests.rooms.client import Client

    clients = [Client(signal, token) for token in tokens]
    try:
        for client in clients:
            await client.connect()
            await until(lambda c=client: c.participant_id is not None, 20)
        for client in clients[1:]:
            await until(lambda c=client: bool(c.of_type("lobby")) or c.offers > 0, 20)
            await clients[0].send(type="admit", participant_id=client.participant_id)
        ids = [c.participant_id for c in clients]

        def flowing() -> bool:
            return all(
                c.received(other, "video") > 10
                for c in clients
                for other in ids
                if other != c.participant_id
            )

        await until(flowing, 60)
        print("flowing", flush=True)
        reader = asyncio.StreamReader()
        loop = asyncio.get_running_loop()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := await reader.readline():
            if line.strip() == b"count":
                print(sum(sum(c.frames.values()) for c in clients), flush=True)
    finally:
        for client in clients:
            await client.close()
    return 0


async def until(check: Callable[[], bool], within: float) -> None:
    deadline = time.perf_counter() + within
    while not check():
        if time.perf_counter() > deadline:
            raise SystemExit(f"could not measure: waited {within} s for the meeting to start")
        await asyncio.sleep(0.05)


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--renders", type=int, default=20)
    parser.add_argument("--issues", type=int, default=10)
    parser.add_argument("--at-once", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--media-seconds", type=float, default=6.0)
    parser.add_argument("--no-media", action="store_true")
    return parser.parse_args()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--play"]:
        sys.exit(asyncio.run(play(sys.argv[2], sys.argv[3:])))
    sys.exit(asyncio.run(main(parse())))
