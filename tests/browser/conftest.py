"""Browser fixtures: the real server in a subprocess, Debian's Chromium through Playwright.

``live_server`` runs ``mediation serve`` (the installed command, not an in-process app) on a
free port of 127.0.0.1 against the session's migrated test database (SQLite or PostgreSQL,
as ``TEST_DATABASE`` says). ``browser`` is one headless Chromium for the session;
``new_context`` makes fresh browser contexts (no cookies) that can reach only 127.0.0.1.
``make_mediator`` makes a committee and a mediator through the CLI, as an operator would.

Every test in this folder carries ``pytestmark = pytest.mark.browser``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Error, async_playwright

from tests.conftest import LOOPBACK_ONLY, Database, unique

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    # Remote sound plays out without a click, as after a person's tap (totalAudioEnergy in
    # getStats() counts only audio that is actually played).
    "--autoplay-policy=no-user-gesture-required",
    # Media only over loopback: the server offers 127.0.0.1 alone (LOOPBACK_ONLY), which
    # Chromium pairs with only when allowed to, and no mDNS names for our own addresses
    # (multicast on the machine's network).
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]
VENV_BIN = Path(sys.executable).parent
MEDIATION = str(VENV_BIN / "mediation")
STARTUP_SECONDS = 20.0
STOP_SECONDS = 10.0
CLI_SECONDS = 60.0
SECRET_KEY = "browser-test-secret-key-not-for-production"
# Every page reports what its Content-Security-Policy blocked (service/security.py): the
# event fires on the document and bubbles to the window, in frames too. (__cspReported settles
# once the test has the report.)
CSP_WATCH_JS = """
window.addEventListener("securitypolicyviolation", (e) => {
  window.__cspReported = window.__cspViolation(
    `${e.effectiveDirective} blocked ${e.blockedURI || "?"} in ${e.documentURI}`
      + ` at ${e.sourceFile || "?"}:${e.lineNumber} ${e.sample || ""}`.trimEnd());
}, true);
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path, limit: int = 6000) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(could not read {path}: {exc})"
    return text[-limit:] if len(text) > limit else text


@dataclass
class LiveServer:
    """A running ``mediation serve``: where it listens and which database it uses."""

    base_url: str
    database_url: str
    database_kind: str
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).netloc

    def stderr(self) -> str:
        return _tail(self.stderr_path)

    def assert_alive(self) -> None:
        """Fail with the server's own output if it has died."""
        code = self.process.poll()
        if code is not None:
            pytest.fail(
                f"mediation serve exited early with code {code}.\n"
                f"--- stderr ---\n{self.stderr()}\n--- stdout ---\n{_tail(self.stdout_path)}",
                pytrace=False,
            )


def server_env(database_url: str, data_dir: Path, public_url: str) -> dict[str, str]:
    """The environment for the server and the CLI: the test database, nothing inherited."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIATION_")}
    env.update(
        MEDIATION_DATABASE_URL=database_url,
        MEDIATION_DATA_DIR=str(data_dir),
        MEDIATION_PUBLIC_URL=public_url,
        MEDIATION_SECRET_KEY=SECRET_KEY,
        MEDIATION_LOG_JSON="false",
        MEDIATION_HOST_ADDRESSES=",".join(LOOPBACK_ONLY),
        PYTHONUNBUFFERED="1",
    )
    return env


async def _wait_healthy(server: LiveServer) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    last = "no answer yet"
    async with httpx.AsyncClient(base_url=server.base_url, timeout=2.0, trust_env=False) as c:
        while time.monotonic() < deadline:
            server.assert_alive()
            try:
                r = await c.get("/healthz")
            except httpx.TransportError as exc:
                last = repr(exc)
            else:
                if r.status_code == 200:
                    return
                last = f"{r.status_code} {r.text[:500]}"
            await asyncio.sleep(0.2)
    pytest.fail(
        f"mediation serve did not answer GET /healthz with 200 within {STARTUP_SECONDS:.0f} s"
        f" (last: {last}).\n--- stderr ---\n{server.stderr()}",
        pytrace=False,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_SECONDS)


@pytest.fixture(scope="session")
async def live_server(
    database: Database, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveServer]:
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    root = tmp_path_factory.mktemp("live_server")
    data_dir = root / "data"
    data_dir.mkdir()
    env = server_env(database.url, data_dir, base_url)
    stdout_path, stderr_path = root / "stdout.log", root / "stderr.log"

    def start() -> subprocess.Popen[bytes]:
        with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
            return subprocess.Popen(
                [MEDIATION, "serve", "--host", "127.0.0.1", "--port", str(port)],
                env=env,
                cwd=root,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )

    process = await asyncio.to_thread(start)
    server = LiveServer(
        base_url=base_url,
        database_url=database.url,
        database_kind=database.kind,
        data_dir=data_dir,
        env=env,
        process=process,
        stdout_path=stdout_path,
        stderr_path=stderr_path,
    )
    try:
        await _wait_healthy(server)
        yield server
        # Died during the session? Say so, with its output, rather than pass quietly.
        server.assert_alive()
    finally:
        await asyncio.to_thread(_stop, process)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            await chromium.close()


@dataclass
class Contexts:
    """Makes fresh browser contexts that talk only to the live server's host."""

    browser: Browser
    server: LiveServer
    made: list[BrowserContext] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)

    async def __call__(self, **options: Any) -> BrowserContext:
        options.setdefault("base_url", self.server.base_url)
        options.setdefault("locale", "zh-CN")
        options.setdefault("timezone_id", "Asia/Shanghai")
        context = await self.browser.new_context(**options)
        self.made.append(context)
        context.set_default_timeout(15_000)

        def elsewhere(url: str) -> bool:
            parts = urlsplit(url)
            if parts.scheme in ("data", "blob", "about"):
                return False
            return parts.hostname != "127.0.0.1"

        async def refuse(route: Any) -> None:
            self.blocked.append(route.request.url)
            await route.abort()

        await context.route(elsewhere, refuse)
        context.on("weberror", lambda e: self.page_errors.append(str(e.error)))
        await context.expose_binding(
            "__cspViolation", lambda _source, text: self.csp_violations.append(str(text))
        )
        await context.add_init_script(CSP_WATCH_JS)
        return context

    async def close(self) -> None:
        for context in self.made:
            with contextlib.suppress(Error):
                await context.close()


@pytest.fixture
async def new_context(browser: Browser, live_server: LiveServer) -> AsyncIterator[Contexts]:
    """``await new_context(**options)`` -> a fresh context; all are closed after the test.

    After the test body, fails if any page threw an uncaught script error, tried to reach
    a host other than 127.0.0.1, or did something its Content-Security-Policy refused.
    """
    contexts = Contexts(browser, live_server)
    try:
        yield contexts
    finally:
        await contexts.close()
    assert not contexts.page_errors, f"uncaught script errors: {contexts.page_errors}"
    assert not contexts.blocked, f"requests outside 127.0.0.1 were attempted: {contexts.blocked}"
    assert not contexts.csp_violations, f"the CSP refused: {contexts.csp_violations}"
    live_server.assert_alive()


async def run_cli(server: LiveServer, *args: str, stdin: str | None = None) -> dict[str, Any]:
    """Run ``mediation ARGS`` against the live server's database; return the JSON it prints."""

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [MEDIATION, *args],
            input=stdin,
            env=server.env,
            capture_output=True,
            text=True,
            timeout=CLI_SECONDS,
            check=False,
        )

    done = await asyncio.to_thread(run)
    if done.returncode != 0:
        pytest.fail(
            f"mediation {' '.join(args)} failed with code {done.returncode}\n"
            f"--- stderr ---\n{done.stderr[-4000:]}\n--- stdout ---\n{done.stdout[-2000:]}",
            pytrace=False,
        )
    try:
        data: dict[str, Any] = json.loads(done.stdout)
    except json.JSONDecodeError as exc:
        pytest.fail(f"mediation {' '.join(args)} printed no JSON ({exc}): {done.stdout!r}")
    return data


@dataclass
class Staff:
    username: str
    password: str
    name: str
    user: dict[str, Any]
    org: dict[str, Any]


MakeStaff = Callable[..., Awaitable[Staff]]


@pytest.fixture(scope="session")
def make_mediator(live_server: LiveServer) -> MakeStaff:
    """``await make_mediator()`` -> a new committee and a mediator in it, made by the CLI.

    ``role="judge"`` or ``"clerk"`` makes a new court instead; ``org=`` (the dict an earlier
    call returned as ``.org``) puts the user in an existing organisation.
    """

    async def make(role: str = "mediator", org: dict[str, Any] | None = None) -> Staff:
        if org is None and role in ("judge", "clerk"):
            org = await run_cli(
                live_server,
                "org", "add",
                "--name", unique("浏览器测试法院"),
                "--kind", "court",
                "--region", "晋0403",
            )  # fmt: skip
        elif org is None:
            org = await run_cli(
                live_server,
                "org", "add",
                "--name", unique("浏览器测试调委会"),
                "--kind", "committee",
                "--level", "township",
            )  # fmt: skip
        username = unique(f"b{role}")
        password = secrets.token_urlsafe(12)
        name = unique("调解员")
        user = await run_cli(
            live_server,
            "user", "add",
            "--username", username,
            "--password-stdin",
            "--role", role,
            "--org", str(org["id"]),
            "--name", name,
            stdin=password + "\n",
        )  # fmt: skip
        assert user["username"] == username and user["role"] == role, user
        return Staff(username=username, password=password, name=name, user=user, org=org)

    return make
