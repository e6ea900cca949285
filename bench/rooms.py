"""Rooms benchmark: what the pass-through SFU costs, on this machine, with real browsers.

    .venv/bin/python bench/rooms.py [--participants N] [--seconds S] [--joins 10]

A fresh SQLite database in a temporary folder gets a committee, a mediator and a case with
parties; ``mediation serve`` runs as its own process (so that its CPU time can be read alone
from /proc/<pid>/stat), and Debian's Chromium, driven by Playwright, plays the N people of the
meeting on the real room page: the mediator signs in and joins, each party opens their join
link, ticks the consent and joins. Every browser sends Chromium's fake 640x480 camera and its
fake microphone.

Printed: the server's CPU per forwarded stream (N*(N-1) audio and as many video streams),
the frame rate each participant sends against the frame rate decoded from it by each of the
others (from RTCPeerConnection.getStats()), and the time from opening a join link to the first
remote video frame decoded, over --joins fresh browser contexts (median, min, max).

A benchmark, not a test: it prints figures and compares them with the targets of the rooms
issue; it fails (exit 1) only when it could not measure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from playwright.async_api import Browser, BrowserContext, Page, Playwright, async_playwright
from playwright.async_api import Error as PlaywrightError

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    # Only 127.0.0.1: every other host name fails to resolve. (Not Playwright's request
    # routing, which holds every request of the page for a round trip through this script
    # and would add its own delay to the page loads being timed.)
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    # Media only over loopback too: the server offers 127.0.0.1 alone (see start_server),
    # which Chromium pairs with only when allowed to, and no mDNS names for its addresses.
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]
VENV_BIN = Path(sys.executable).parent
MEDIATION = str(VENV_BIN / "mediation")

# Targets of the rooms issue.
TARGET_CPU_PER_STREAM = 3.0  # % of one core per forwarded stream, at 640x480
TARGET_JOIN_SECONDS = 1.0  # median, on loopback
FPS_TOLERANCE = 0.05  # "received equal to sent": every stream within 5 % of its sender
RELAY_CPU_PER_STREAM = 26.0  # the decode-and-re-encode relay, as measured for the issue

STARTUP_SECONDS = 30.0
STOP_SECONDS = 10.0
MEDIA_SECONDS = 60.0  # for every stream of the meeting to decode its first frames
ACTION_MS = 20_000  # Playwright's timeout for one navigation or click
JOIN_FRAME_MS = 20_000  # a join trial gives up after this long without a remote frame
IDLE_SECONDS = 3.0

# The room script is running and the camera has started (a person sees their preview).
CAMERA_READY_JS = "() => window.room && window.room.local.video !== null"
# One getStats() snapshot of the page's peer connection, with the owner of each inbound
# track (the participant whose tile plays it).
STATS_JS = """
async () => {
  const room = window.room;
  if (!room || !room.pc) return null;
  const owners = {};
  for (const video of document.querySelectorAll('#tiles video[data-testid^="video-"]')) {
    const pid = video.dataset.testid.slice("video-".length);
    if (pid === "self" || !video.srcObject) continue;
    for (const track of video.srcObject.getTracks()) owners[track.id] = pid;
  }
  const report = await room.pc.getStats();
  const out = { me: room.participantId, state: room.state, outbound: [], inbound: [] };
  report.forEach((s) => {
    if (s.type === "outbound-rtp") {
      out.outbound.push({
        key: `${s.kind}-${s.ssrc}`, kind: s.kind, ts: s.timestamp,
        frames: s.framesSent ?? 0, encoded: s.framesEncoded ?? 0,
        packets: s.packetsSent ?? 0, bytes: s.bytesSent ?? 0,
        width: s.frameWidth ?? 0, height: s.frameHeight ?? 0,
        limit: s.qualityLimitationReason ?? "",
      });
    } else if (s.type === "inbound-rtp") {
      out.inbound.push({
        key: `${s.kind}-${s.ssrc}-${s.mid}`, kind: s.kind, ts: s.timestamp,
        frames: s.framesDecoded ?? 0, received: s.framesReceived ?? 0,
        packets: s.packetsReceived ?? 0, bytes: s.bytesReceived ?? 0,
        width: s.frameWidth ?? 0, height: s.frameHeight ?? 0,
        owner: owners[s.trackIdentifier] ?? null,
      });
    }
  });
  return out;
}
"""

# Polls getStats() until a remote video frame has been decoded; returns the wall-clock times
# (Date.now(), ms) at which that and the steps before it were first seen, or {} on timeout.
FIRST_FRAME_JS = """
async (timeoutMs) => {
  const seen = {};
  const mark = (name, now) => { if (now && !(name in seen)) seen[name] = Date.now(); };
  const start = performance.now();
  while (performance.now() - start < timeoutMs) {
    const room = window.room;
    const pc = room && room.pc;
    if (room && room.joinedAt && !("join tapped" in seen)) seen["join tapped"] = room.joinedAt;
    mark("in call", room && room.state === "in-call");
    mark("own camera ready", room && room.local.video !== null);
    mark("connected", pc && pc.connectionState === "connected");
    if (pc) {
      let packets = 0;
      let decoded = 0;
      (await pc.getStats()).forEach((s) => {
        if (s.type === "inbound-rtp" && s.kind === "video") {
          packets += s.packetsReceived ?? 0;
          decoded += s.framesDecoded ?? 0;
        }
      });
      mark("first video packet", packets > 0);
      if (decoded > 0) {
        mark("first frame decoded", true);
        // The frame's own presentation time, which may come in a moment (it is a time stamp:
        // waiting for it here changes nothing measured).
        for (let i = 0; i < 100 && !window.firstShown; i++) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        if (window.firstShown) seen["first frame on screen"] = Math.round(window.firstShown);
        // The page's own steps (room.timeline) and its navigation timing, for the breakdown.
        for (const [name, at] of Object.entries(room.timeline || {})) {
          if (!(name in seen)) seen[name] = at;
        }
        const nav = performance.getEntriesByType("navigation")[0];
        if (nav) {
          const at = (ms) => Math.round(performance.timeOrigin + ms);
          seen["join link answered"] = at(nav.redirectEnd || nav.fetchStart);
          seen["room html received"] = at(nav.responseEnd);
          seen["html parsed"] = at(nav.domInteractive);
        }
        return seen;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return {};
}
"""


# In the joining page, before its own scripts: note when the first frame of any remote video
# was handed to the compositor (requestVideoFrameCallback's presentationTime), which does not
# wait for the page's busy main thread as a poll does.
FIRST_SHOWN_JS = """
new MutationObserver((changes) => {
  for (const change of changes) {
    for (const node of change.addedNodes) {
      const videos = node instanceof Element ? [node, ...node.querySelectorAll("video")] : [];
      for (const v of videos) {
        if (!(v instanceof HTMLVideoElement) || ["preview", "video-self"].includes(v.id)) continue;
        v.requestVideoFrameCallback((now, meta) => {
          window.firstShown ??= performance.timeOrigin + meta.presentationTime;
        });
      }
    }
  }
}).observe(document, { childList: true, subtree: true });
"""


class BenchError(RuntimeError):
    """The benchmark could not measure; the message says what went wrong."""


# -- the world: database, server ------------------------------------------------------------


@dataclass
class World:
    case_id: int
    username: str
    password: str
    party_tokens: list[str]  # the N-1 parties in the meeting
    joiner_token: str  # one more party, for the join trials


def _unshadow_rooms_package() -> None:
    """Run as ``python bench/rooms.py``, this folder leads sys.path and this file's name would
    hide the ``rooms`` package that the migrations import."""
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or os.getcwd()).resolve() != here]
    if "rooms" in sys.modules and not hasattr(sys.modules["rooms"], "__path__"):
        del sys.modules["rooms"]


async def seed(database_url: str, participants: int) -> World:
    """Migrate a fresh database and make the committee, mediator, case and join links."""
    _unshadow_rooms_package()
    from service import accounts, audit, cases, invitations
    from service.db import make_engine, make_sessionmaker, unit_of_work
    from service.migrate import upgrade
    from service.models import CommitteeLevel, DisputeType, OrgKind, PartyKind, PartyRole, Role

    await asyncio.to_thread(upgrade, database_url)
    engine = make_engine(database_url)
    uow = make_sessionmaker(engine)
    username, password = "bench-mediator", secrets.token_urlsafe(12)
    # N-1 parties in the meeting and one more who joins for the timing; a case needs at
    # least an applicant and a respondent.
    roles = [PartyRole.applicant, PartyRole.respondent]
    roles += [PartyRole.third_party] * max(0, participants - len(roles))
    try:
        async with unit_of_work(uow) as s:
            org = await accounts.create_organisation(
                s,
                actor=audit.CLI,
                kind=OrgKind.committee,
                name="基准测试调解委员会",
                short_name="基准",
                level=CommitteeLevel.township,
            )
            mediator = await accounts.create_user(
                s,
                actor=audit.CLI,
                username=username,
                password=password,
                role=Role.mediator,
                org_id=org.id or 0,
                name="基准调解员",
            )
            case, parties = await cases.create_case(
                s,
                mediator=mediator,
                dispute_type=DisputeType.neighbour,
                title="基准测试案件",
                summary="",
                parties=[
                    cases.NewParty(role=role, kind=PartyKind.person, name=f"当事人{i + 1}")
                    for i, role in enumerate(roles)
                ],
            )
            tokens = []
            for party in parties:
                _, token = await invitations.create_invitation(
                    s, case=case, party=party, mediator=mediator, valid_for=timedelta(days=1)
                )
                tokens.append(token)
    finally:
        await engine.dispose()
    return World(
        case_id=case.id or 0,
        username=username,
        password=password,
        party_tokens=tokens[: participants - 1],
        joiner_token=tokens[-1],
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    base_url: str
    process: subprocess.Popen[bytes]
    stderr_path: Path

    def tail(self, limit: int = 4000) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-limit:]
        except OSError as exc:
            return f"(no stderr: {exc})"

    def check_alive(self) -> None:
        code = self.process.poll()
        if code is not None:
            raise BenchError(f"mediation serve exited with code {code}:\n{self.tail()}")


def start_server(root: Path, database_url: str, port: int) -> Server:
    base_url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIATION_")}
    env.update(
        MEDIATION_DATABASE_URL=database_url,
        MEDIATION_DATA_DIR=str(root / "data"),
        MEDIATION_PUBLIC_URL=base_url,
        MEDIATION_LOG_JSON="false",
        MEDIATION_LOG_LEVEL="WARNING",
        MEDIATION_HOST_ADDRESSES="127.0.0.1",
        PYTHONUNBUFFERED="1",
    )
    stderr_path = root / "server.log"
    with stderr_path.open("wb") as err:
        process = subprocess.Popen(
            [MEDIATION, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=root,
            stdin=subprocess.DEVNULL,
            stdout=err,
            stderr=err,
        )
    return Server(base_url, process, stderr_path)


def stop_server(server: Server) -> None:
    if server.process.poll() is not None:
        return
    server.process.terminate()
    try:
        server.process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=STOP_SECONDS)


async def wait_healthy(server: Server) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    last = "no answer"
    async with httpx.AsyncClient(base_url=server.base_url, timeout=2.0, trust_env=False) as c:
        while time.monotonic() < deadline:
            server.check_alive()
            try:
                r = await c.get("/healthz")
                if r.status_code == 200:
                    return
                last = f"{r.status_code} {r.text[:200]}"
            except httpx.TransportError as exc:
                last = repr(exc)
            await asyncio.sleep(0.2)
    raise BenchError(f"mediation serve did not become healthy ({last}):\n{server.tail()}")


async def create_room(server: Server, world: World) -> int:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10.0, trust_env=False) as c:
        r = await c.post(
            "/api/auth/login", json={"username": world.username, "password": world.password}
        )
        if r.status_code != 200:
            raise BenchError(f"sign-in failed: {r.status_code} {r.text[:300]}")
        headers = {"Authorization": f"Bearer {r.json()['token']}"}
        r = await c.post(
            f"/api/cases/{world.case_id}/rooms", json={"auto_admit": True}, headers=headers
        )
        if r.status_code != 201:
            raise BenchError(f"room creation failed: {r.status_code} {r.text[:300]}")
        return int(r.json()["id"])


# -- CPU ------------------------------------------------------------------------------------

MEETING_NICE = 10  # during the join trials, the meeting's own browsers yield the cores


def renice_browsers(root: int, exclude: int, niceness: int) -> int:
    """Lower the priority of every Chromium process under ``root`` (not the server's
    subtree). Returns how many were reniced.

    The people already in the meeting would be on their own phones and computers; here their
    browsers share two cores with the server and the newcomer and keep both cores busy
    encoding and decoding video. Reniced, they still run (and still send and receive), but the
    newcomer's browser and the server come first, as they would on separate machines.
    Linux keeps a niceness per thread, so each thread is reniced, not only the main one."""
    count = 0
    for pid in descendants_cpu_seconds(root, exclude):
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/comm").read_text().strip().startswith("chrom"):
                for task in Path(f"/proc/{pid}/task").iterdir():
                    with contextlib.suppress(OSError):
                        os.setpriority(os.PRIO_PROCESS, int(task.name), niceness)
                count += 1
    return count


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()  # fields from the 3rd (state) on
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, summed over CPUs."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


def descendants_cpu_seconds(root: int, exclude: int) -> dict[int, float]:
    """CPU seconds of ``root`` and every process under it (this script, Playwright's driver,
    the browsers), leaving out the ``exclude`` subtree (the server)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            text = (entry / "stat").read_text()
            ppid = int(text[text.rindex(")") + 2 :].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    out: dict[int, float] = {}
    todo = [root]
    while todo:
        pid = todo.pop()
        if pid == exclude:
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            out[pid] = process_cpu_seconds(pid)
        todo.extend(children.get(pid, []))
    return out


@dataclass
class CpuWindow:
    seconds: float
    server_percent: float  # of one core
    browsers_percent: float  # of one core: this run's Chromiums, Playwright and this script
    machine_percent: float  # of one core, summed over all cores: everything on the machine

    @property
    def other_percent(self) -> float:
        """Everything else on the machine: other people's work, the kernel."""
        return max(0.0, self.machine_percent - self.server_percent - self.browsers_percent)


class StallProbe:
    """A thread that sleeps 10 ms at a time and notes how late it wakes, at the highest
    priority it may take: a late wake-up that no priority avoids is the machine (here, the VM)
    stalling everything at once, server and browsers alike."""

    PERIOD = 0.01

    def __init__(self) -> None:
        self.lags: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stall-probe", daemon=True)

    def _run(self) -> None:
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), -15)
        while not self._stop.is_set():
            before = time.monotonic()
            time.sleep(self.PERIOD)
            self.lags.append(time.monotonic() - before - self.PERIOD)

    def __enter__(self) -> StallProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> str:
        if not self.lags:
            return "no samples"
        lags = sorted(self.lags)
        worst = lags[-1] * 1000
        p99 = lags[int(len(lags) * 0.99)] * 1000
        seconds = sum(lag for lag in lags if lag > 0.04)
        return (
            f"a 10 ms sleeper at nice -15 woke late by > 40 ms {sum(lag > 0.04 for lag in lags)}"
            f" times ({seconds:.1f} s in all), p99 {p99:.0f} ms, worst {worst:.0f} ms"
        )


async def measure_cpu(pid: int, during: Callable[[], Awaitable[Any]]) -> tuple[CpuWindow, Any]:
    me = os.getpid()
    m0, b0 = machine_busy_seconds(), descendants_cpu_seconds(me, pid)
    c0, t0 = process_cpu_seconds(pid), time.monotonic()
    result = await during()
    c1, t1 = process_cpu_seconds(pid), time.monotonic()
    m1, b1 = machine_busy_seconds(), descendants_cpu_seconds(me, pid)
    wall = t1 - t0
    browsers = sum(cpu - b0.get(p, 0.0) for p, cpu in b1.items())
    cores = os.cpu_count() or 1
    machine = 100.0 * cores * (m1[0] - m0[0]) / max(m1[1] - m0[1], 1e-9)
    return CpuWindow(wall, 100.0 * (c1 - c0) / wall, 100.0 * browsers / wall, machine), result


# -- browsers -------------------------------------------------------------------------------


@dataclass
class Person:
    label: str  # mediator, party 1, ...
    browser: Browser
    context: BrowserContext
    page: Page
    participant_id: str = ""


@dataclass
class Browsers:
    """Every browser and context made, so that all are closed at the end."""

    playwright: Playwright
    base_url: str
    browsers: list[Browser] = field(default_factory=list)
    contexts: list[BrowserContext] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

    async def launch(self) -> Browser:
        browser = await self.playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        self.browsers.append(browser)
        return browser

    async def context(self, browser: Browser) -> BrowserContext:
        context = await browser.new_context(
            base_url=self.base_url, locale="zh-CN", timezone_id="Asia/Shanghai"
        )
        self.contexts.append(context)
        context.set_default_timeout(ACTION_MS)

        def elsewhere(request: Any) -> None:
            parts = urlsplit(request.url)
            if parts.scheme not in ("data", "blob", "about") and parts.hostname != "127.0.0.1":
                self.blocked.append(request.url)

        context.on("requestfailed", elsewhere)
        context.on("weberror", lambda e: self.page_errors.append(str(e.error)))
        return context

    async def close_context(self, context: BrowserContext) -> None:
        with contextlib.suppress(PlaywrightError):
            await context.close()
        if context in self.contexts:
            self.contexts.remove(context)

    async def close(self) -> None:
        for context in list(self.contexts):
            await self.close_context(context)
        for browser in self.browsers:
            with contextlib.suppress(PlaywrightError):
                await browser.close()
        self.browsers.clear()


async def open_room(page: Page, room_id: int, *, party: bool) -> None:
    """On the room page: wait for the script and the camera, consent (a party), join."""
    if not page.url.endswith(f"/rooms/{room_id}"):
        await page.goto(f"/rooms/{room_id}")
    await page.wait_for_function(CAMERA_READY_JS)
    if party:
        await page.get_by_test_id("consent-online").check()
    await page.get_by_test_id("join").click()


async def join_as_mediator(page: Page, world: World, room_id: int) -> None:
    await page.goto("/")
    form = page.locator("#login-form")
    await form.locator("input[name=username]").fill(world.username)
    await form.locator("input[name=password]").fill(world.password)
    await form.locator("button[type=submit]").click()
    await page.wait_for_url("**/cases")
    await open_room(page, room_id, party=False)


async def join_as_party(page: Page, token: str, room_id: int) -> None:
    await page.goto(f"/join/{token}")  # the meeting is open: the link leads into the room
    await open_room(page, room_id, party=True)


async def stats(page: Page) -> dict[str, Any]:
    snapshot: dict[str, Any] | None = await page.evaluate(STATS_JS)
    if snapshot is None:
        raise BenchError("a page has no peer connection (window.room.pc is null)")
    return snapshot


async def wait_for_media(people: list[Person], server: Server) -> None:
    """Until every page decodes video from each of the others (bounded)."""
    others = len(people) - 1
    deadline = time.monotonic() + MEDIA_SECONDS
    missing: list[str] = []
    while time.monotonic() < deadline:
        server.check_alive()
        missing = []
        for person in people:
            try:
                snap = await stats(person.page)
            except BenchError:
                missing.append(f"{person.label}: no peer connection yet")
                continue
            person.participant_id = snap["me"]
            flowing = {
                s["owner"]
                for s in snap["inbound"]
                if s["kind"] == "video" and s["frames"] > 0 and s["owner"]
            }
            if snap["state"] != "in-call" or len(flowing) < others:
                missing.append(f"{person.label}: state {snap['state']}, video from {len(flowing)}")
        if not missing:
            return
        await asyncio.sleep(0.5)
    raise BenchError(f"media did not flow within {MEDIA_SECONDS:.0f} s: {'; '.join(missing)}")


# -- figures --------------------------------------------------------------------------------


def rate(before: dict[str, Any], after: dict[str, Any], counter: str) -> float:
    dt = (after["ts"] - before["ts"]) / 1000.0
    return (after[counter] - before[counter]) / dt if dt > 0 else 0.0


@dataclass
class Sent:
    label: str
    participant_id: str
    fps: float
    audio_pps: float
    kbps: float
    width: int
    height: int
    limit: str


@dataclass
class Received:
    receiver: str
    sender: str  # participant id
    fps: float
    width: int
    height: int


def media_figures(
    people: list[Person], before: list[dict[str, Any]], after: list[dict[str, Any]]
) -> tuple[list[Sent], list[Received], list[float]]:
    sent: list[Sent] = []
    received: list[Received] = []
    audio_in: list[float] = []
    for person, b, a in zip(people, before, after, strict=True):
        prior = {s["key"]: s for s in b["outbound"]}
        video = [(prior[s["key"]], s) for s in a["outbound"] if s["key"] in prior]
        videos = [p for p in video if p[1]["kind"] == "video"]
        if not videos:
            raise BenchError(f"{person.label} sends no video (no outbound-rtp video stats)")
        vid = max(videos, key=lambda p: p[1]["frames"])
        aud = [p for p in video if p[1]["kind"] == "audio"]
        sent.append(
            Sent(
                label=person.label,
                participant_id=a["me"],
                fps=rate(*vid, "frames"),
                audio_pps=rate(*aud[0], "packets") if aud else 0.0,
                kbps=rate(*vid, "bytes") * 8 / 1000,
                width=vid[1]["width"],
                height=vid[1]["height"],
                limit=vid[1]["limit"] or "-",
            )
        )
        prior = {s["key"]: s for s in b["inbound"]}
        for s in a["inbound"]:
            p = prior.get(s["key"])
            if p is None or not s["owner"] or s["owner"] == a["me"]:
                continue
            if s["kind"] == "video":
                received.append(
                    Received(a["me"], s["owner"], rate(p, s, "frames"), s["width"], s["height"])
                )
            else:
                audio_in.append(rate(p, s, "packets"))
    return sent, received, audio_in


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


JOIN_STEPS = (
    "join link answered",
    "room html received",
    "html parsed",
    "script",
    "room page loaded",
    "socket open",
    "welcome",
    "offer",
    "answer sent",
    "join tapped",
    "join sent",
    "ice connected",
    "dtls connected",
    "in call",
    "connected",
    "own camera ready",
    "first video packet",
    "first frame decoded",
    "first frame on screen",
    "load event",
)


async def join_trial(
    browsers: Browsers,
    browser: Browser,
    token: str,
    room_id: int,
    *,
    consented: bool,
    settle: float,
    dump: Path | None = None,
) -> dict[str, float] | None:
    """Seconds from opening the join link to each step, up to the first remote video frame
    decoded; None if no frame came."""
    context = await browsers.context(browser)
    try:
        await context.add_init_script(FIRST_SHOWN_JS)
        page = await context.new_page()
        # The person's browser is open on an empty tab when they tap the link: the new tab's
        # processes have started (and touched their memory, slow on this VM) before the clock.
        await asyncio.sleep(settle)
        stamps: dict[str, float] = {}
        start = time.time()
        # Sets the session and, the meeting being open, leads straight into the room.
        # DOMContentLoaded: parsed and its (deferred) module scripts run; images, the favicon
        # and the like do not hold up anyone's Join button.
        await page.goto(f"/join/{token}", wait_until="domcontentloaded")
        if not page.url.endswith(f"/rooms/{room_id}"):
            raise BenchError(f"the join link led to {page.url}, not into the open room")
        stamps["room page loaded"] = time.time()
        # The person taps Join as soon as the page shows it; their own camera starts alongside
        # (the page sends it when it is ready) and is not needed to see the others. The tap is
        # a real (trusted) Enter on the focused button: Playwright's click() first waits for
        # animation frames of a busy renderer to see the layout hold still, and every call to
        # the browser is a round trip through a busy machine.
        if not consented:  # the page ticks the box (and focuses Join) for one who agreed before
            await page.get_by_test_id("consent-online").check()
            await page.get_by_test_id("join").focus()
        await page.keyboard.press("Enter")  # the page notes when Join ran (room.joinedAt)
        seen = await page.evaluate(FIRST_FRAME_JS, JOIN_FRAME_MS)
        if not seen:
            return None
        stamps.update({name: ms / 1000.0 for name, ms in seen.items()})
        # The load event (images, the favicon) holds up nobody's Join, but must not hang.
        await page.wait_for_load_state("load")
        load_end = await page.evaluate(
            "() => performance.timeOrigin"
            " + performance.getEntriesByType('navigation')[0].loadEventEnd"
        )
        stamps["load event"] = load_end / 1000.0
        # Leave on purpose (a 1000 close), so that the next trial is a fresh join.
        with contextlib.suppress(PlaywrightError):
            await page.get_by_test_id("leave").click(timeout=5000)
            await page.get_by_test_id("leave-confirm").click(timeout=5000)
            await page.wait_for_function("() => window.room.state === 'left'", timeout=5000)
        if dump is not None:  # wall-clock times, to set beside the server's own log
            with dump.open("a") as out:
                out.write(json.dumps({"opened": start, **stamps}) + "\n")
        return {name: at - start for name, at in stamps.items()}
    finally:
        await browsers.close_context(context)


# -- the run --------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> int:
    n = args.participants
    streams = n * (n - 1) * 2
    root = Path(tempfile.mkdtemp(prefix="rooms-bench-"))
    server: Server | None = None
    try:
        database_url = f"sqlite+aiosqlite:///{root / 'mediation.db'}"
        world = await seed(database_url, n)
        server = await asyncio.to_thread(start_server, root, database_url, free_port())
        await wait_healthy(server)
        room_id = await create_room(server, world)
        pid = server.process.pid

        idle, _ = await measure_cpu(pid, lambda: asyncio.sleep(IDLE_SECONDS))

        async with async_playwright() as pw:
            browsers = Browsers(pw, server.base_url)
            try:
                launched = await asyncio.gather(*(browsers.launch() for _ in range(n)))
                version = launched[0].version
                people = []
                for i, browser in enumerate(launched):
                    context = await browsers.context(browser)
                    page = await context.new_page()
                    label = "mediator" if i == 0 else f"party {i}"
                    people.append(Person(label, browser, context, page))
                # The mediator opens the room, then the parties come in (one at a time, as
                # people do; each arrival renegotiates everyone's connection).
                await join_as_mediator(people[0].page, world, room_id)
                for person, token in zip(people[1:], world.party_tokens, strict=True):
                    await join_as_party(person.page, token, room_id)
                await wait_for_media(people, server)
                await asyncio.sleep(args.warmup)
                server.check_alive()

                async def window() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
                    before = await asyncio.gather(*(stats(p.page) for p in people))
                    await asyncio.sleep(args.seconds)
                    after = await asyncio.gather(*(stats(p.page) for p in people))
                    return list(before), list(after)

                cpu, (before, after) = await measure_cpu(pid, window)
                server.check_alive()
                sent, received, audio_in = media_figures(people, before, after)

                joins: list[dict[str, float]] = []
                failed = 0

                reniced = 0
                if not args.share_cores:
                    reniced = renice_browsers(os.getpid(), pid, MEETING_NICE)

                async def join_trials() -> None:
                    nonlocal failed
                    joiner = await browsers.launch()
                    for _ in range(args.joins):
                        server.check_alive()
                        try:
                            steps = await join_trial(
                                browsers,
                                joiner,
                                world.joiner_token,
                                room_id,
                                consented=bool(joins),
                                settle=args.settle,
                                dump=args.dump_joins,
                            )
                        except PlaywrightError as exc:  # a step timed out: a failed join
                            print(f"join trial failed: {exc}".splitlines()[0], file=sys.stderr)
                            steps = None
                        if steps is None:
                            failed += 1
                        else:
                            joins.append(steps)
                        # The room settles after the leave, the closed tab's processes exit.
                        await asyncio.sleep(args.settle)

                join_cpu: CpuWindow | None = None
                stalls: StallProbe | None = None
                if args.joins > 0:
                    with StallProbe() as stalls:
                        join_cpu, _ = await measure_cpu(pid, join_trials)
            finally:
                await browsers.close()

        report(
            args=args,
            version=version,
            cpu=cpu,
            idle=idle,
            streams=streams,
            sent=sent,
            received=received,
            audio_in=audio_in,
            joins=joins,
            failed_joins=failed,
            join_cpu=join_cpu,
            stalls=stalls,
            reniced=reniced,
            page_errors=browsers.page_errors,
            blocked=browsers.blocked,
        )
        return 0
    except (BenchError, PlaywrightError) as exc:
        print(f"rooms benchmark could not measure: {exc}", file=sys.stderr)
        if server is not None and server.process.poll() is None:
            print(f"--- server log ---\n{server.tail()}", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            await asyncio.to_thread(stop_server, server)
        shutil.rmtree(root, ignore_errors=True)


def report(
    *,
    args: argparse.Namespace,
    version: str,
    cpu: CpuWindow,
    idle: CpuWindow,
    streams: int,
    sent: list[Sent],
    received: list[Received],
    audio_in: list[float],
    joins: list[dict[str, float]],
    failed_joins: int,
    join_cpu: CpuWindow | None,
    stalls: StallProbe | None,
    reniced: int,
    page_errors: list[str],
    blocked: list[str],
) -> None:
    n = args.participants
    label_of = {s.participant_id: s.label for s in sent}
    fps_of = {s.participant_id: s.fps for s in sent}
    when = datetime.now(UTC).astimezone().strftime("%Y-%m-%d %H:%M %Z")
    print(
        f"rooms benchmark  {when}  {platform.node()}  {os.cpu_count()} CPUs  "
        f"Chromium {version}  aiortc {package_version('aiortc')}"
    )
    print(
        f"N={n} (mediator + {n - 1} part{'y' if n == 2 else 'ies'}), {streams} streams forwarded"
        f" (N*(N-1) audio + video), window {cpu.seconds:.1f} s after {args.warmup:.0f} s warm-up"
    )
    print()
    print(f"{'participant':<12} {'sends fps':>9} {'kbit/s':>7} {'size':>8} {'limit':>9}  received")
    for s in sent:
        theirs = [r for r in received if r.receiver == s.participant_id]
        shown = ", ".join(
            f"{label_of.get(r.sender, r.sender)} {r.fps:.1f} fps {r.width}x{r.height}"
            for r in sorted(theirs, key=lambda r: label_of.get(r.sender, r.sender))
        )
        print(
            f"{s.label:<12} {s.fps:>9.1f} {s.kbps:>7.0f} {f'{s.width}x{s.height}':>8}"
            f" {s.limit:>9}  {shown}"
        )
    print()
    per_stream = cpu.server_percent / streams if streams else 0.0
    fps_sent = statistics.fmean(s.fps for s in sent)
    fps_received = statistics.fmean(r.fps for r in received) if received else 0.0
    ratios = [r.fps / fps_of[r.sender] for r in received if fps_of.get(r.sender)]
    worst = min(ratios) if ratios else 0.0
    sizes = sorted({f"{s.width}x{s.height}" for s in sent})
    print(
        f"server CPU (mediation serve alone, /proc/<pid>/stat): {cpu.server_percent:.1f} % of one"
        f" core; {per_stream:.2f} % per forwarded stream (idle, nobody in the room:"
        f" {idle.server_percent:.1f} %)"
    )
    cores = os.cpu_count() or 1
    print(
        f"machine ({cores} cores = {100 * cores} %): {cpu.machine_percent:.0f} % busy in the"
        f" window: server {cpu.server_percent:.0f} %, the {n} Chromiums (encoding, decoding,"
        f" drawing) with Playwright and this script {cpu.browsers_percent:.0f} %, anything else"
        f" {cpu.other_percent:.0f} %"
        f" ({idle.machine_percent:.0f} % busy before the browsers started). The browsers compete"
        " with the server for the cores; only the server's own CPU counts per stream."
    )
    print(
        f"video fps: sent {fps_sent:.1f} (mean of {len(sent)} participants), received"
        f" {fps_received:.1f} (mean of {len(received)} inbound streams, framesDecoded);"
        f" worst stream {100 * worst:.0f} % of its sender; sent sizes {', '.join(sizes)}"
    )
    if audio_in:
        audio_sent = statistics.fmean(s.audio_pps for s in sent)
        print(
            f"audio packets/s: sent {audio_sent:.1f}, received {statistics.fmean(audio_in):.1f}"
            f" (mean of {len(audio_in)} inbound streams)"
        )
    totals = [j["first frame decoded"] for j in joins]
    if joins:
        print(
            f"join (open the link -> first remote video frame decoded; a fresh context each time,"
            f" {n} already in the room): median {statistics.median(totals):.2f} s,"
            f" min {min(totals):.2f} s, max {max(totals):.2f} s over {len(totals)} joins"
            + (
                f"; {failed_joins} saw no frame in {JOIN_FRAME_MS / 1000:.0f} s"
                if failed_joins
                else ""
            )
        )
        medians = {
            name: (statistics.median(values), len(values))
            for name in JOIN_STEPS
            if (values := [j[name] for j in joins if name in j])
        }
        steps = [
            f"{name} {median:.2f}"
            + (f" (seen in {seen} of {len(joins)})" if seen < len(joins) else "")
            for name, (median, seen) in sorted(medians.items(), key=lambda item: item[1][0])
        ]
        print(f"  medians, s after opening the link: {', '.join(steps)}")
        print(
            f"  the meeting's {n} Chromiums ran at nice {MEETING_NICE} during the joins"
            f" ({reniced} processes), as if on their own devices"
            if reniced
            else "  the meeting's Chromiums shared the cores with the newcomer at equal priority"
            " (--share-cores)"
        )
        print(
            f"  each join's fresh tab was open {args.settle:g} s before the link was opened, and"
            f" the room settled {args.settle:g} s after each leave (--settle)"
        )
        if join_cpu is not None:
            print(
                f"  machine during the joins: {join_cpu.machine_percent:.0f} % busy: server"
                f" {join_cpu.server_percent:.0f} %, the {n + 1} Chromiums with Playwright and this"
                f" script {join_cpu.browsers_percent:.0f} %, anything else"
                f" {join_cpu.other_percent:.0f} %"
            )
        if stalls is not None:
            print(f"  stalls during the joins: {stalls.summary()}")
        after_click = [j["first frame decoded"] - j["join tapped"] for j in joins]
        print(
            f"  Join tapped -> first frame decoded (the join message, a keyframe): median"
            f" {statistics.median(after_click):.2f} s, min {min(after_click):.2f} s,"
            f" max {max(after_click):.2f} s"
        )
    elif args.joins:
        print(f"join: no trial saw a remote frame within {JOIN_FRAME_MS / 1000:.0f} s")
    if page_errors:
        print(f"page script errors: {page_errors[:5]}")
    if blocked:
        print(f"requests outside 127.0.0.1 refused: {blocked[:5]}")
    print()
    at_640 = all((s.width, s.height) == (640, 480) for s in sent)
    parts = [
        f"CPU/stream <= {TARGET_CPU_PER_STREAM:.0f} %{'' if at_640 else ' (not at 640x480!)'}:"
        f" {verdict(per_stream <= TARGET_CPU_PER_STREAM and at_640)}"
        f" ({per_stream:.2f} %; the decode-and-re-encode relay: ~{RELAY_CPU_PER_STREAM:.0f} %)",
        f"fps received = sent (each stream within {100 * FPS_TOLERANCE:.0f} %):"
        f" {verdict(bool(ratios) and worst >= 1 - FPS_TOLERANCE)}",
    ]
    if args.joins:
        median = statistics.median(totals) if totals else float("inf")
        ok = bool(joins) and not failed_joins and median < TARGET_JOIN_SECONDS
        parts.append(f"join median < {TARGET_JOIN_SECONDS:.0f} s: {verdict(ok)}")
    print("targets: " + " | ".join(parts))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--participants", "-n", type=int, default=3, help="people in the meeting")
    p.add_argument("--seconds", type=float, default=15.0, help="the measured window")
    p.add_argument("--warmup", type=float, default=5.0, help="seconds before the window")
    p.add_argument("--joins", type=int, default=10, help="join trials for the median")
    p.add_argument(
        "--share-cores",
        action="store_true",
        help="leave the meeting's browsers at normal priority during the join trials",
    )
    p.add_argument(
        "--settle",
        type=float,
        default=2.0,
        help="seconds a join's fresh tab stays open before the link is opened, and after each"
        " leave (default 2)",
    )
    p.add_argument(
        "--dump-joins",
        type=Path,
        metavar="FILE",
        help="append each join's steps (wall-clock times) to FILE as JSON lines",
    )
    args = p.parse_args(argv)
    if not 2 <= args.participants <= 12:
        p.error("--participants is between 2 and 12")
    if args.seconds <= 0 or args.warmup < 0 or not 0 <= args.joins <= 100 or args.settle < 0:
        p.error("--seconds > 0, --warmup >= 0, 0 <= --joins <= 100, --settle >= 0")
    if not Path(CHROMIUM).exists():
        p.error(f"{CHROMIUM} is missing (apt-get install chromium); no browser is downloaded")
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
