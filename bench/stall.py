"""Stalled room-page loads: many joins, tabs opening while others close, each navigation traced.

    .venv/bin/python bench/stall.py [--tabs 60] [--parallel 2] [--meeting 2] [--timeout 20]
                                    [--seed N] [--keep DIR]

bench/rooms.py with ``--settle 0`` saw 1 to 3 joins in 20 whose ``page.goto`` met no
DOMContentLoaded within 20 s. This script makes that happen often enough to look at, and
records enough to say who held the page: a real ``mediation serve`` (fresh SQLite database,
its log at INFO in JSON lines: one line per request with its duration, and any exception;
traced by bench/stall_trace.py: the room's lock, the event loop's lateness), a meeting of
``--meeting`` Chromiums, and ``--parallel`` workers that each open a fresh context in one
more Chromium, open a party's join link, tick the consent, tap Join, stay a moment, and
leave (a goodbye) or just close the tab, then start again at once. So tabs open
while others close, and the room's own operations (joins, leaves, their events written to
the database) run while room pages are being served.

Each tab's page is watched over CDP (Network.* and Page.* events, in the browser's own clock
turned into wall-clock time): when the room page's request went out, when its response's
headers and its last byte arrived, which subresources were still outstanding, and when
DOMContentLoaded fired. For every navigation that missed DOMContentLoaded within
``--timeout``, it prints that timeline beside the server's lines of the same moments.

A diagnostic, not a test or a benchmark: it exits 1 only when it could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Browser, Page, async_playwright
from playwright.async_api import Error as PlaywrightError


def _load_rooms_bench() -> Any:
    """bench/rooms.py's world, server and browser helpers (loaded under another name: as
    ``rooms`` it would hide the package)."""
    spec = importlib.util.spec_from_file_location(
        "rooms_bench", Path(__file__).with_name("rooms.py")
    )
    if spec is None or spec.loader is None:
        raise ImportError("bench/rooms.py not found beside bench/stall.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["rooms_bench"] = module
    spec.loader.exec_module(module)
    return module


rb = _load_rooms_bench()
TRACE = Path(__file__).with_name("stall_trace.py")
# How long each tab stays, and whether it says goodbye (--seed): nothing secret.
RNG = random.Random()  # noqa: S311


# -- the server, logging every request ------------------------------------------------------


def start_server(root: Path, database_url: str, port: int) -> Any:
    """As bench/rooms.py's, but traced (bench/stall_trace.py), with the log at INFO in JSON
    lines (time, duration, request id)."""
    base_url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIATION_")}
    env.update(
        MEDIATION_DATABASE_URL=database_url,
        MEDIATION_DATA_DIR=str(root / "data"),
        MEDIATION_PUBLIC_URL=base_url,
        MEDIATION_LOG_JSON="true",
        MEDIATION_LOG_LEVEL="INFO",
        MEDIATION_HOST_ADDRESSES="127.0.0.1",
        PYTHONUNBUFFERED="1",
    )
    log_path = root / "server.log"
    with log_path.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, str(TRACE), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=root,
            stdin=subprocess.DEVNULL,
            stdout=err,
            stderr=err,
        )
    return rb.Server(base_url, process, log_path)


@dataclass
class LogLine:
    at: float  # wall clock, end of the request for a request line
    text: str
    ms: float | None = None  # the request's duration
    path: str = ""
    logger: str = ""
    level: str = ""
    request_id: str = "-"

    @property
    def started(self) -> float:
        return self.at - (self.ms or 0.0) / 1000.0


def read_server_log(path: Path) -> list[LogLine]:
    out: list[LogLine] = []
    for raw in path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(raw)
            # logging's asctime: local time, "YYYY-MM-DD HH:MM:SS,mmm"
            at = datetime.strptime(entry["time"], "%Y-%m-%d %H:%M:%S,%f").timestamp()
        except (ValueError, KeyError, TypeError):
            if out:  # a traceback's continuation
                out[-1].text += "\n" + raw
            continue
        message = str(entry.get("message", ""))
        if entry.get("exc_info"):
            message += "\n" + str(entry["exc_info"])
        ms = entry.get("ms")
        words = message.split()
        url = words[1] if ms is not None and len(words) > 1 else ""
        level, logger = str(entry.get("level", "")), str(entry.get("logger", ""))
        rid = str(entry.get("request_id", "-"))
        text = f"{level} {logger}{f' [{rid}]' if rid != '-' else ''}: {message}"
        took = float(ms) if ms is not None else None
        out.append(LogLine(at, text, took, url, logger, level, rid))
    return out


# -- one tab, watched over CDP --------------------------------------------------------------


@dataclass
class Request:
    url: str
    sent: float
    kind: str = ""
    headers: float | None = None  # response headers received
    finished: float | None = None  # last byte (loadingFinished)
    failed: str | None = None
    status: int | None = None
    size: int | None = None


@dataclass
class Tab:
    number: int
    worker: int
    opened: float = 0.0
    requests: dict[str, Request] = field(default_factory=dict)
    dom_content_loaded: float | None = None
    outcome: str = ""
    room_page: Request | None = None
    _offset: float | None = None  # wall clock minus the browser's monotonic clock

    def wall(self, timestamp: float) -> float:
        return timestamp + (self._offset or 0.0)

    def watch(self, cdp: Any) -> None:
        def sent(e: dict[str, Any]) -> None:
            if self._offset is None:
                self._offset = e["wallTime"] - e["timestamp"]
            rid = e["requestId"]
            old = self.requests.get(rid)
            if old is not None and e.get("redirectResponse"):  # the join link's 303
                old.headers = old.finished = self.wall(e["timestamp"])
                old.status = e["redirectResponse"].get("status")
                self.requests[rid + "/redirected"] = old
            req = Request(_path(e["request"]["url"]), self.wall(e["timestamp"]), e.get("type", ""))
            self.requests[rid] = req
            if req.url.startswith("/rooms/") and req.kind == "Document":
                self.room_page = req

        def received(e: dict[str, Any]) -> None:
            req = self.requests.get(e["requestId"])
            if req is not None:
                req.headers = self.wall(e["timestamp"])
                req.status = e["response"].get("status")

        def finished(e: dict[str, Any]) -> None:
            req = self.requests.get(e["requestId"])
            if req is not None:
                req.finished = self.wall(e["timestamp"])
                req.size = int(e.get("encodedDataLength", 0))

        def failed(e: dict[str, Any]) -> None:
            req = self.requests.get(e["requestId"])
            if req is not None:
                req.finished = self.wall(e["timestamp"])
                req.failed = e.get("errorText", "failed")

        def dcl(e: dict[str, Any]) -> None:
            if self.dom_content_loaded is None:
                self.dom_content_loaded = self.wall(e["timestamp"])

        cdp.on("Network.requestWillBeSent", sent)
        cdp.on("Network.responseReceived", received)
        cdp.on("Network.loadingFinished", finished)
        cdp.on("Network.loadingFailed", failed)
        cdp.on("Page.domContentEventFired", dcl)


def _path(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob"):
        return f"{parts.scheme}:…"
    path = "/join/…" if parts.path.startswith("/join/") else parts.path  # a credential
    return path + ("?…" if parts.query else "")


async def one_tab(
    browsers: Any, browser: Browser, tab: Tab, token: str, room_id: int, seconds: float
) -> None:
    context = await browsers.context(browser)
    try:
        page: Page = await context.new_page()
        cdp = await context.new_cdp_session(page)
        tab.watch(cdp)
        await cdp.send("Network.enable")
        await cdp.send("Page.enable")
        tab.opened = time.time()
        try:
            await page.goto(f"/join/{token}", wait_until="domcontentloaded", timeout=seconds * 1000)
        except PlaywrightError as exc:
            tab.outcome = "no DOMContentLoaded" if "Timeout" in str(exc) else f"error: {exc}"
            tab.outcome = tab.outcome.splitlines()[0]
            return
        if not page.url.endswith(f"/rooms/{room_id}"):
            tab.outcome = f"led to {_path(page.url)}"
            return
        tab.outcome = "loaded"
        # Join as a person does (the room's join, consent and event writes), stay a moment,
        # then leave with a goodbye or just close the tab: both, at random.
        with contextlib.suppress(PlaywrightError):
            box = page.get_by_test_id("consent-online")
            if not await box.is_checked(timeout=5000):
                await box.check(timeout=5000)
            await page.get_by_test_id("join").focus(timeout=5000)
            await page.keyboard.press("Enter")
            await asyncio.sleep(RNG.uniform(0.0, 1.5))
            if RNG.random() < 0.5:
                await page.get_by_test_id("leave").click(timeout=3000)
                await page.get_by_test_id("leave-confirm").click(timeout=3000)
    finally:
        await browsers.close_context(context)  # no settling: the next tab opens at once


def code_root() -> Path:
    """Where the server's code comes from (the PYTHONPATH it inherits may point elsewhere,
    for an A/B run against another commit's tree)."""
    import service

    return Path(service.__file__).resolve().parent.parent


# -- the run --------------------------------------------------------------------------------


def describe(tab: Tab, log: list[LogLine]) -> str:
    t0 = tab.opened
    lines = [f"tab {tab.number} (worker {tab.worker}): {tab.outcome}"]

    def at(t: float | None) -> str:
        return "never" if t is None else f"{t - t0:+.3f}"

    for req in sorted(tab.requests.values(), key=lambda r: r.sent):
        if req.url.startswith(("data:", "blob:")):
            continue
        state = f"failed ({req.failed})" if req.failed else f"done {at(req.finished)}"
        lines.append(
            f"  browser {at(req.sent)} {req.kind or '?':<10} {req.url:<34}"
            f" headers {at(req.headers)} {state} status {req.status} bytes {req.size}"
        )
    lines.append(f"  browser DOMContentLoaded {at(tab.dom_content_loaded)}")
    end = t0 + 40.0
    for line in log:
        wanted = (
            line.path.startswith(("/rooms/", "/join/", "/api/rooms/"))
            if line.ms is not None
            else line.logger == "stall.trace" or line.level in ("WARNING", "ERROR", "CRITICAL")
        )
        if t0 - 1.0 <= line.at <= end and wanted:
            took = (
                f" (started {line.started - t0:+.3f}, took {line.ms:.0f} ms)"
                if line.ms is not None
                else ""
            )
            first = line.text.splitlines()[0][:160]
            lines.append(f"  server  {line.at - t0:+.3f} {first}{took}")
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> int:
    root = Path(tempfile.mkdtemp(prefix="stall-bench-"))
    server: Any = None
    tabs: list[Tab] = []
    try:
        database_url = f"sqlite+aiosqlite:///{root / 'mediation.db'}"
        world = await rb.seed(database_url, max(2, args.meeting - 1 + args.parallel))
        tokens = [*world.party_tokens, world.joiner_token]
        meeting_tokens, joiner_tokens = tokens[: args.meeting - 1], tokens[args.meeting - 1 :]
        server = await asyncio.to_thread(start_server, root, database_url, rb.free_port())
        await rb.wait_healthy(server)
        room_id = await rb.create_room(server, world)
        async with async_playwright() as pw:
            browsers = rb.Browsers(pw, server.base_url)
            try:
                meeting = await asyncio.gather(*(browsers.launch() for _ in range(args.meeting)))
                for i, browser in enumerate(meeting):
                    page = await (await browsers.context(browser)).new_page()
                    if i == 0:
                        await rb.join_as_mediator(page, world, room_id)
                    else:
                        await rb.join_as_party(page, meeting_tokens[i - 1], room_id)
                joiner = await browsers.launch()
                counter = iter(range(args.tabs))

                async def worker(w: int) -> None:
                    for n in counter:
                        server.check_alive()
                        tab = Tab(n, w)
                        tabs.append(tab)
                        await one_tab(
                            browsers, joiner, tab, joiner_tokens[w], room_id, args.timeout
                        )
                        print(f"tab {n:3d} worker {w}: {tab.outcome}", flush=True)

                with rb.StallProbe() as probe:
                    await asyncio.gather(*(worker(w) for w in range(args.parallel)))
            finally:
                await browsers.close()
        await asyncio.to_thread(rb.stop_server, server)
        log = read_server_log(server.stderr_path)
        stalled = [t for t in tabs if t.outcome != "loaded"]
        print()
        print(
            f"{len(tabs)} tabs, {args.parallel} at a time, a meeting of {args.meeting}:"
            f" {len(stalled)} without DOMContentLoaded within {args.timeout:g} s"
        )
        print(f"VM during the run: {probe.summary()}")
        print(f"code served: {code_root()}")
        pages = sorted(
            (line for line in log if line.ms is not None and line.path.startswith("/rooms/")),
            key=lambda line: line.ms or 0.0,
        )
        if pages:
            slow = [line.ms for line in pages if (line.ms or 0) > 1000]
            print(
                f"server: {len(pages)} room pages served, median"
                f" {pages[len(pages) // 2].ms:.0f} ms, slowest {pages[-1].ms:.0f} ms,"
                f" {len(slow)} over 1 s: {', '.join(f'{ms:.0f}' for ms in slow)} ms"
            )
        errors = [line for line in log if line.level in ("ERROR", "CRITICAL", "WARNING")]
        if errors:
            print(f"server warnings and errors: {len(errors)}; first lines:")
            for line in errors[:10]:
                print("  " + line.text.splitlines()[0][:200])
        for tab in stalled:
            print()
            print(describe(tab, log))
        if args.keep is not None:
            args.keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(server.stderr_path, args.keep / "server.log")
            with (args.keep / "tabs.json").open("w") as out:
                for tab in tabs:
                    record = {
                        "tab": tab.number,
                        "worker": tab.worker,
                        "opened": tab.opened,
                        "outcome": tab.outcome,
                        "dom_content_loaded": tab.dom_content_loaded,
                        "requests": [vars(r) for r in tab.requests.values()],
                    }
                    out.write(json.dumps(record) + "\n")
            print(f"\nserver log and tab timelines kept in {args.keep}")
        return 0
    except (rb.BenchError, PlaywrightError) as exc:
        print(f"stall run could not run: {exc}", file=sys.stderr)
        if server is not None:
            print(f"--- server log ---\n{server.tail()}", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            await asyncio.to_thread(rb.stop_server, server)
        shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tabs", type=int, default=60, help="join tabs in all (default 60)")
    p.add_argument("--parallel", type=int, default=2, help="tabs open at once (default 2)")
    p.add_argument("--meeting", type=int, default=2, help="Chromiums in the meeting (default 2)")
    p.add_argument(
        "--timeout", type=float, default=20.0, help="seconds for DOMContentLoaded (default 20)"
    )
    p.add_argument("--seed", type=int, help="for the tabs' random stays and leaves")
    p.add_argument("--keep", type=Path, metavar="DIR", help="keep the server log and timelines")
    args = p.parse_args(argv)
    RNG.seed(args.seed)
    if not (1 <= args.tabs <= 500 and 1 <= args.parallel <= 6 and 1 <= args.meeting <= 6):
        p.error("1 <= --tabs <= 500, 1 <= --parallel <= 6, 1 <= --meeting <= 6")
    if not Path(rb.CHROMIUM).exists():
        p.error(f"{rb.CHROMIUM} is missing (apt-get install chromium); no browser is downloaded")
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
