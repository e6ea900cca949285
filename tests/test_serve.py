"""Stopping a real ``mediation serve``: Ctrl-C (SIGINT) or a service manager (SIGTERM).

The server ends after closing its rooms (everyone in a meeting is told ``server_shutdown``),
prints no traceback and exits 0; its output is its log lines and nothing else.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.demo import DEMO_PASSWORD
from tests.cli_runner import MEDIATION, cli_env, run_cli
from tests.conftest import LOOPBACK_ONLY, Databases
from tests.rooms.client import Client
from tests.rooms.conftest import eventually
from tests.rooms.test_media import flowing

JOIN_LINK = re.compile(r"https?://[^\s/]+/join/([A-Za-z0-9_\-]+)")
STARTUP_SECONDS = 30.0
STOP_SECONDS = 30.0
# A terminal hands its foreground process SIGINT at its default, and Python then turns it
# into KeyboardInterrupt. A test run from a background job inherits SIGINT ignored, which
# would hide exactly the traceback this file is about: the server starts as from a terminal.
AS_FROM_A_TERMINAL = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Serve:
    base_url: str
    db_url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def output(self) -> str:
        return self.stdout.read_text(errors="replace") + self.stderr.read_text(errors="replace")

    async def wait_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        async with httpx.AsyncClient(base_url=self.base_url, trust_env=False) as http:
            while time.monotonic() < deadline:
                if (code := self.process.poll()) is not None:
                    pytest.fail(f"mediation serve exited with {code}:\n{self.output()[-6000:]}")
                try:
                    if (await http.get("/healthz", timeout=2.0)).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)  # polling a condition, bounded by the deadline
        pytest.fail(f"mediation serve did not become healthy:\n{self.output()[-6000:]}")

    async def stopped_by(self, sig: signal.Signals) -> int:
        self.process.send_signal(sig)
        try:
            return await asyncio.to_thread(self.process.wait, STOP_SECONDS)
        except subprocess.TimeoutExpired:
            pytest.fail(f"mediation serve did not end on {sig.name}:\n{self.output()[-6000:]}")


@pytest.fixture
async def serve(databases: Databases, tmp_path: Path) -> AsyncIterator[Serve]:
    db = await databases.new()
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = cli_env(db.url, tmp_path / "data")
    env.update(
        MEDIATION_PUBLIC_URL=base_url,
        MEDIATION_LOG_JSON="true",  # the production format: every line must parse
        MEDIATION_HOST_ADDRESSES=",".join(LOOPBACK_ONLY),
        PYTHONUNBUFFERED="1",
    )
    stdout, stderr = tmp_path / "stdout.log", tmp_path / "stderr.log"
    argv = [str(MEDIATION), "serve", "--host", "127.0.0.1", "--port", str(port)]
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(  # noqa: ASYNC220 (starting it does not wait)
            [sys.executable, "-c", AS_FROM_A_TERMINAL, *argv],
            env=env,
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
    served = Serve(base_url, db.url, tmp_path / "data", process, stdout, stderr)
    try:
        await served.wait_healthy()
        yield served
    finally:
        if process.poll() is None:
            process.kill()
            await asyncio.to_thread(process.wait, STOP_SECONDS)


async def meeting_under_way(serve: Serve) -> list[Client]:
    """The demo case's mediator and a party in a room, the party's video reaching the
    mediator: connections the shutdown has to end."""
    demo = await run_cli(serve.db_url, serve.data_dir, "demo")
    assert demo.returncode == 0, demo.stderr
    link = JOIN_LINK.findall(demo.stdout)[0]
    async with httpx.AsyncClient(base_url=serve.base_url, trust_env=False, timeout=30) as http:
        r = await http.post(
            "/api/auth/login", json={"username": "mediator", "password": DEMO_PASSWORD}
        )
        assert r.status_code == 200, r.text
        staff = r.json()["token"]
        headers = {"Authorization": f"Bearer {staff}"}
        case = (await http.get("/api/cases", headers=headers)).json()["items"][0]
        r = await http.post(
            f"/api/cases/{case['id']}/rooms", json={"auto_admit": True}, headers=headers
        )
        assert r.status_code == 201, r.text
        room_id = r.json()["id"]
        r = await http.post("/api/auth/party", json={"token": link})
        assert r.status_code == 200, r.text
        party_session = r.json()["token"]
    url = f"{serve.base_url.replace('http://', 'ws://')}/api/rooms/{room_id}/signal"
    people = [Client(url, staff), Client(url, party_session)]
    for person in people:
        await person.connect()
        await eventually(lambda p=person: p.participant_id is not None, what="welcomed")
    mediator, party = people
    assert party.participant_id is not None
    await flowing(mediator, party.participant_id, "video", within=20)
    return people


def log_records(output: str) -> list[dict[str, Any]]:
    """Every line of the output as a JSON log line; a line that is not one fails."""
    records = []
    for line in output.splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            pytest.fail(f"a line that is not a log line: {line!r}\n{output[-6000:]}")
        assert isinstance(record, dict), line
        assert {"time", "level", "logger", "message"} <= record.keys(), line
        records.append(record)
    return records


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_a_signal_ends_the_server_quietly_after_closing_the_rooms(
    serve: Serve, sig: signal.Signals
) -> None:
    people = await meeting_under_way(serve)
    try:
        code = await serve.stopped_by(sig)
        # The rooms were closed, before uvicorn dropped the connections: each person was
        # told why (the page offers to join again).
        for person in people:
            closed = person.of_type("closed")
            assert closed, (person.role, person.messages[-5:])
            assert closed[-1]["reason"] == "server_shutdown", closed
    finally:
        for person in people:
            await person.close()

    output = serve.output()
    assert code == 0, f"exit status {code}:\n{output[-6000:]}"
    assert "Traceback" not in output, output[-6000:]
    assert "KeyboardInterrupt" not in output, output[-6000:]
    assert serve.stdout.read_text(errors="replace").strip() == "", "stdout is for nothing"
    records = log_records(serve.stderr.read_text(errors="replace"))
    failures = [r for r in records if r["level"] in ("ERROR", "CRITICAL") or "exc_info" in r]
    assert not failures, failures
    messages = [r["message"] for r in records]
    assert "Application shutdown complete." in messages, messages[-20:]
    assert messages[-1].startswith("Finished server process"), messages[-5:]


async def test_ctrl_c_on_an_idle_server_ends_it_quietly(serve: Serve) -> None:
    """No room ever opened: the shutdown has nothing of the rooms' to end, and is as quiet."""
    code = await serve.stopped_by(signal.SIGINT)
    output = serve.output()
    assert code == 0, f"exit status {code}:\n{output[-6000:]}"
    assert "Traceback" not in output, output[-6000:]
    records = log_records(serve.stderr.read_text(errors="replace"))
    assert not [r for r in records if r["level"] in ("ERROR", "CRITICAL")], records
