"""No credential in the logs: a real ``mediation serve`` process and its real output.

A join link is a bearer credential (whoever has it joins as that party), and so are session
tokens and a room page's standby token. The server writes one line per request, with the
path alone and a join link's token cut out; uvicorn's own access line, which would carry the
full URL, is off, and its WebSocket handshake lines lose their query.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from service import logs
from service.demo import DEMO_PASSWORD
from tests.cli_runner import MEDIATION, cli_env, run_cli
from tests.conftest import LOOPBACK_ONLY, Databases

JOIN_LINK = re.compile(r"https?://[^\s/]+/join/([A-Za-z0-9_\-]+)")
# The room page carries its prepared offer as JSON: in a script's data block or inline.
PAGE_JSON = re.compile(
    r'<script type="application/json"[^>]*>(.*?)</script>|const prepared = (.*?);\n', re.S
)
STARTUP_SECONDS = 30.0
STOP_SECONDS = 20.0


# -- the scrubbing, line by line ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "kept", "secret"),
    [
        ("GET /join/Zq3_-x9 303", "GET /join/… 303", "Zq3_-x9"),
        ("see http://h:8000/join/Zq3_-x9?lang=en", "/join/…?lang=en", "Zq3_-x9"),
        (
            '127.0.0.1:5 - "WebSocket /api/rooms/7/signal?prejoin=1&standby=Zq3x9" [accepted]',
            '"WebSocket /api/rooms/7/signal" [accepted]',
            "Zq3x9",
        ),
        ("GET /x?token=Zq3x9&lang=en", "token=…&lang=en", "Zq3x9"),
        ("GET /x?lang=en&access_token=Zq3x9", "lang=en&access_token=…", "Zq3x9"),
        ("< Cookie: mediation_session=Zq3x9; lang=en", "Cookie: …", "Zq3x9"),
        ("> Authorization: Bearer Zq3x9", "Authorization: …", "Zq3x9"),
        ("session_token=Zq3x9 refused", "session_token=… refused", "Zq3x9"),
    ],
)
def test_credentials_are_cut_out_of_a_line(line: str, kept: str, secret: str) -> None:
    scrubbed = logs.redact(line)
    assert secret not in scrubbed
    assert kept in scrubbed


def test_a_line_without_credentials_is_left_alone() -> None:
    line = "GET /api/cases/3/status 409 (mediating) ms=12.5 a=b"
    assert logs.redact(line) == line


@pytest.fixture
def log_output() -> Iterator[list[str]]:
    """The production set-up (logs.configure), its handler writing into a list of lines."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    touched = [logging.getLogger(n) for n in ("alembic", "uvicorn", "uvicorn.error")]
    access = logging.getLogger("uvicorn.access")
    saved_others = [(lg, lg.level, lg.handlers[:], lg.propagate) for lg in [*touched, access]]
    logs.configure("INFO", json_lines=True)
    lines: list[str] = []

    class Collect(logging.StreamHandler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = root.handlers[0]
    collect = Collect()
    collect.filters, collect.formatter = handler.filters, handler.formatter
    root.handlers[:] = [collect]
    try:
        yield lines
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        for lg, lvl, handlers, propagate in saved_others:
            lg.setLevel(lvl)
            lg.handlers[:] = handlers
            lg.propagate = propagate


def test_extra_fields_and_tracebacks_are_scrubbed_too(log_output: list[str]) -> None:
    log = logging.getLogger("mediation.test")
    log.info("fetched", extra={"url": "http://h/join/Zq3x9", "params": {"token": "Zq3x9"}})
    try:
        raise ValueError("opening http://h/rooms/1?standby=Zq3x9 failed")
    except ValueError:
        log.exception("it failed")
    assert len(log_output) == 2
    assert all("Zq3x9" not in line for line in log_output), log_output


def test_uvicorns_access_log_goes_nowhere(log_output: list[str]) -> None:
    """uvicorn's access line (the full URL) never reaches the log: the app writes its own."""
    access = logging.getLogger("uvicorn.access")
    assert not access.propagate
    access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", "/join/Zq3x9", "1.1", 303)
    assert log_output == []


def prepared_token(page: str) -> str:
    """The standby token of the offer a room page carries (an object with sdp and token)."""

    def find(value: Any) -> str | None:
        if isinstance(value, dict):
            if isinstance(value.get("token"), str) and "sdp" in value:
                return value["token"]
            value = list(value.values())
        if isinstance(value, list):
            return next((t for v in value if (t := find(v)) is not None), None)
        return None

    for match in PAGE_JSON.finditer(page):
        with contextlib.suppress(json.JSONDecodeError):
            if (token := find(json.loads(match.group(1) or match.group(2)))) is not None:
                return token
    pytest.fail("the room page carries no prepared offer")


# -- a real server -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    base_url: str
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def output(self) -> str:
        return self.stdout.read_text(errors="replace") + self.stderr.read_text(errors="replace")

    def assert_alive(self) -> None:
        code = self.process.poll()
        if code is not None:
            pytest.fail(f"mediation serve exited with {code}:\n{self.output()[-6000:]}")

    async def wait_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        async with httpx.AsyncClient(base_url=self.base_url, trust_env=False) as http:
            while time.monotonic() < deadline:
                self.assert_alive()
                try:
                    if (await http.get("/healthz", timeout=2.0)).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)  # polling a condition, bounded by the deadline
        pytest.fail(f"mediation serve did not become healthy:\n{self.output()[-6000:]}")

    def stop(self) -> int:
        """SIGTERM, as an operator's service manager stops it; killed if it hangs."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                return self.process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_SECONDS)
                pytest.fail(f"mediation serve ignored SIGTERM:\n{self.output()[-6000:]}")
        return int(self.process.returncode)


@pytest.fixture
async def served(databases: Databases, tmp_path: Path) -> Any:
    db = await databases.new()
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = cli_env(db.url, tmp_path / "data")
    env.update(
        MEDIATION_PUBLIC_URL=base_url,
        MEDIATION_LOG_JSON="true",  # the production format
        MEDIATION_HOST_ADDRESSES=",".join(LOOPBACK_ONLY),
        PYTHONUNBUFFERED="1",
    )
    stdout, stderr = tmp_path / "stdout.log", tmp_path / "stderr.log"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(  # noqa: ASYNC220 (starting it does not wait)
            [str(MEDIATION), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
    server = Served(base_url, process, stdout, stderr)
    try:
        await server.wait_healthy()
        yield server, db.url, tmp_path / "data"
    finally:
        await asyncio.to_thread(server.stop)


async def test_no_credential_reaches_the_servers_output(served: Any) -> None:
    """Join links opened, refused (unknown, revoked), a room page's standby socket and a
    refused socket: afterwards no token is anywhere in the server's stdout or stderr, and
    each request has one log line."""
    server, db_url, data_dir = served
    demo = await run_cli(db_url, data_dir, "demo")
    assert demo.returncode == 0, demo.stderr
    links = JOIN_LINK.findall(demo.stdout)
    assert len(links) == 2, demo.stdout
    secrets_seen: dict[str, str] = {f"demo link {i}": t for i, t in enumerate(links)}
    unknown = secrets.token_urlsafe(32)
    secrets_seen["unknown link"] = unknown

    def browser() -> httpx.AsyncClient:  # a cookie jar of its own, as each person's browser
        return httpx.AsyncClient(
            base_url=server.base_url, trust_env=False, follow_redirects=False, timeout=30
        )

    async with browser() as party, browser() as desk:
        # A party opens their link twice (a second device, a reload), then a stranger guesses.
        for _ in range(2):
            r = await party.get(f"/join/{links[0]}")
            assert r.status_code == 303, r.text
        party_session = r.cookies["mediation_session"]
        secrets_seen["party session"] = party_session
        r = await desk.get(f"/join/{unknown}")
        assert r.status_code == 401
        r = await desk.post("/api/auth/party", json={"token": unknown})
        assert r.status_code == 401

        r = await desk.post(
            "/api/auth/login", json={"username": "mediator", "password": DEMO_PASSWORD}
        )
        assert r.status_code == 200, r.text
        staff = {"Authorization": f"Bearer {r.json()['token']}"}
        secrets_seen["staff session"] = r.json()["token"]
        secrets_seen["staff csrf"] = r.json()["csrf_token"]
        case = (await desk.get("/api/cases", headers=staff)).json()["items"][0]
        respondent = next(p for p in case["parties"] if p["role"] == "respondent")

        # A link the mediator withdrew is refused.
        r = await desk.post(
            f"/api/cases/{case['id']}/invitations",
            json={"party_id": respondent["id"]},
            headers=staff,
        )
        assert r.status_code == 201, r.text
        revoked = r.json()["url"].rsplit("/", 1)[1]
        secrets_seen["revoked link"] = revoked
        r = await desk.post(
            f"/api/cases/{case['id']}/invitations/{r.json()['id']}/revoke", headers=staff
        )
        assert r.status_code == 200, r.text
        r = await desk.get(f"/join/{revoked}")
        assert r.status_code == 401

        # A room that admits by itself: the party's page carries a standby connection's
        # offer and token, and the page's socket claims it with ?prejoin=1&standby=...
        r = await desk.post(
            f"/api/cases/{case['id']}/rooms", json={"auto_admit": True}, headers=staff
        )
        assert r.status_code == 201, r.text
        room_id = r.json()["id"]
        page = await party.get(f"/rooms/{room_id}")
        assert page.status_code == 200, page.text
        standby = prepared_token(page.text)
        secrets_seen["standby token"] = standby

    ws_base = server.base_url.replace("http://", "ws://")
    signalling = f"{ws_base}/api/rooms/{room_id}/signal"
    async with websockets.connect(
        f"{signalling}?prejoin=1&standby={standby}",
        additional_headers={
            "Cookie": f"mediation_session={party_session}",
            "Origin": server.base_url,
        },
    ) as ws:
        welcome = json.loads(await asyncio.wait_for(ws.recv(), 20))
        assert welcome["type"] == "welcome", welcome
        assert welcome.get("prepared") is True, welcome  # it claimed the page's connection
    # A socket with a token in its query and no session: refused.
    stray = secrets.token_urlsafe(24)
    secrets_seen["stray query token"] = stray
    async with websockets.connect(f"{signalling}?prejoin=1&token={stray}&standby={stray}") as ws:
        refusal = json.loads(await asyncio.wait_for(ws.recv(), 20))
        assert refusal["type"] == "error", refusal

    # A stop asked for and done cleanly: status 0 (service/cli.py, tests/test_serve.py).
    assert await asyncio.to_thread(server.stop) == 0
    output = server.output()
    assert "Application shutdown complete" in output, output[-6000:]
    for what, secret in secrets_seen.items():
        assert secret not in output, f"the {what} is in the server's output"
    assert DEMO_PASSWORD not in output

    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert records, f"the server wrote no JSON log lines:\n{output[-3000:]}"
    assert not [r for r in records if r["logger"] == "uvicorn.access"]
    # One line per request: the app's, naming the path with the join token cut out.
    joins = [r["message"] for r in records if "/join/" in r["message"]]
    assert sorted(joins) == sorted(
        ["GET /join/… 303", "GET /join/… 303", "GET /join/… 401", "GET /join/… 401"]
    ), joins
    assert all(r["logger"] == "mediation.http" for r in records if "/join/" in r["message"])
    handshakes = [r["message"] for r in records if '"WebSocket ' in r["message"]]
    assert len(handshakes) == 2, handshakes
    assert all(f'"WebSocket /api/rooms/{room_id}/signal"' in h for h in handshakes), handshakes
