"""The court-queue API (after OASIS ECF's filing review) with court tokens: a court's case
system pulls its filings and materials, accepts under its own number or refuses, pushes the
holding judge's decision; scoped to its court, and a revoked token is refused."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import httpx

from confirmation import tokens
from confirmation.models import CourtToken
from service.db import make_engine, make_sessionmaker, unit_of_work
from service.migrate import upgrade
from tests.cli_runner import run_cli
from tests.confirmation.helpers import queued, staff_headers
from tests.conftest import Factory


async def _token(factory: Factory, court_id: int) -> tuple[int, dict[str, str]]:
    async with factory.uow() as s:
        row, plain = await tokens.issue(s, court_id=court_id, name="审判流程管理系统")
    assert plain.startswith("mct_") and row.token_hash != plain
    return row.id or 0, {"Authorization": f"Bearer {plain}"}


async def test_a_court_system_reviews_and_decides(
    client: httpx.AsyncClient, factory: Factory, tmp_path: Path
) -> None:
    applied = await queued(client, factory)
    court_id = applied.signing.world.court.id or 0
    _, court = await _token(factory, court_id)

    r = await client.get(f"/api/ecf/courts/{court_id}/filings", headers=court)
    assert r.status_code == 200, r.text
    assert [(i["id"], i["status"]) for i in r.json()["items"]] == [(applied.id, "queued")]
    r = await client.get(f"/api/ecf/filings/{applied.id}", headers=court)
    assert r.status_code == 200, r.text
    filing = r.json()
    assert {d["kind"] for d in filing["documents"]} == {"agreement", "record"}
    assert all("*" in (p["id_number"] or "*") for p in filing["parties"]), filing["parties"]
    for doc in filing["documents"]:
        got = await client.get(doc["href"], headers=court)
        assert got.status_code == 200 and got.content.startswith(b"%PDF"), doc

    r = await client.post(
        f"/api/ecf/filings/{applied.id}/review",
        json={"accepted": True, "number": "（2026）晋0403民特77号"},
        headers=court,
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "accepted" and r.json()["number"] == "（2026）晋0403民特77号"

    r = await client.post(
        f"/api/ecf/filings/{applied.id}/decision", json={"outcome": "confirmed"}, headers=court
    )
    assert r.status_code == 409, "no judge holds it yet"
    r = await client.post(f"/api/confirmations/{applied.id}/claim", headers=applied.judge)
    assert r.status_code == 200, r.text
    r = await client.post(
        f"/api/ecf/filings/{applied.id}/decision",
        json={"outcome": "rejected", "grounds": []},
        headers=court,
    )
    assert r.status_code == 422, "a rejection names a ground"
    # No joint session held: a court system cannot confirm either (Interp. 358).
    r = await client.post(
        f"/api/ecf/filings/{applied.id}/decision", json={"outcome": "confirmed"}, headers=court
    )
    assert r.status_code == 409 and "询问笔录" in r.text, r.text
    r = await client.post(
        f"/api/ecf/filings/{applied.id}/decision",
        json={"outcome": "rejected", "grounds": ["content_unclear"], "reason": "期限不明确"},
        headers=court,
    )
    assert r.status_code == 200, r.text
    decided = r.json()
    assert decided["status"] == "rejected"
    ruling = [d for d in decided["documents"] if d["kind"] == "ruling"]
    assert len(ruling) == 1
    pdf = (await client.get(ruling[0]["href"], headers=court)).content
    path = tmp_path / "ruling.pdf"
    path.write_bytes(pdf)
    done = await asyncio.to_thread(
        subprocess.run, ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
    )
    text = "".join(done.stdout.split())
    assert "（2026）晋0403民特77号" in text and "民事裁定书" in text
    assert "通过视频方式" not in text  # no hearing is claimed that did not take place


async def test_a_token_sees_only_its_court_and_dies_when_revoked(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    applied = await queued(client, factory)
    court_id = applied.signing.world.court.id or 0
    other = await factory.court(region_code="晋0404")
    _, foreign = await _token(factory, other.id or 0)
    for method, url, body in (
        ("GET", f"/api/ecf/courts/{court_id}/filings", None),
        ("GET", f"/api/ecf/filings/{applied.id}", None),
        ("POST", f"/api/ecf/filings/{applied.id}/review", {"accepted": True}),
    ):
        r = await client.request(method, url, json=body, headers=foreign)
        assert r.status_code == 404, (url, r.text)

    token_id, court = await _token(factory, court_id)
    assert (await client.get(f"/api/ecf/filings/{applied.id}", headers=court)).status_code == 200
    async with factory.uow() as s:
        await tokens.revoke(s, token_id=token_id)
    r = await client.get(f"/api/ecf/filings/{applied.id}", headers=court)
    assert r.status_code == 401, r.text
    # Neither no token nor a person's session token is a court token.
    assert (await client.get(f"/api/ecf/filings/{applied.id}")).status_code == 401
    r = await client.get(f"/api/ecf/filings/{applied.id}", headers=applied.clerk)
    assert r.status_code == 401
    async with factory.uow() as s:
        row = await s.get(CourtToken, token_id)
        assert row is not None and row.revoked_at is not None


async def test_refusal_needs_reasons_and_nothing_changes(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    applied = await queued(client, factory)
    _, court = await _token(factory, applied.signing.world.court.id or 0)
    r = await client.post(
        f"/api/ecf/filings/{applied.id}/review", json={"accepted": False}, headers=court
    )
    assert r.status_code == 422, r.text
    r = await client.post(
        f"/api/ecf/filings/{applied.id}/review",
        json={"accepted": False, "reasons": "不属于本院管辖"},
        headers=court,
    )
    assert r.status_code == 200 and r.json()["status"] == "not_accepted"
    assert r.json()["refusal_reason"] == "不属于本院管辖"
    judge: Any = await staff_headers(client, factory, applied.signing.world.judge)
    r = await client.get(f"/api/confirmations/{applied.id}", headers=judge)
    assert r.json()["status"] == "not_accepted"


async def test_mediation_court_token_prints_once_and_revokes(
    databases: Any, tmp_path: Path
) -> None:
    db = await databases.new()
    await asyncio.to_thread(upgrade, db.url)
    data = tmp_path / "data"
    r = await run_cli(
        db.url, data, "org", "add", "--kind", "court", "--name", "潞州区人民法院",
        "--region", "晋0403",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    court_id = json.loads(r.stdout)["id"]
    r = await run_cli(db.url, data, "court", "token", "--court", str(court_id), "--name", "ECF")
    assert r.returncode == 0, r.stderr
    plain = r.stdout.strip()
    assert plain.startswith("mct_") and "\n" not in plain and plain not in r.stderr
    r = await run_cli(db.url, data, "court", "token", "--court", "999999")
    assert r.returncode == 2 and "No such court" in r.stderr
    engine = make_engine(db.url)
    try:
        async with unit_of_work(make_sessionmaker(engine)) as s:
            row = await tokens.court_of(s, plain)
            assert row is not None and row.court_id == court_id and row.token_hash != plain
            token_id = row.id
        r = await run_cli(db.url, data, "court", "token-revoke", str(token_id))
        assert r.returncode == 0, r.stderr
        async with unit_of_work(make_sessionmaker(engine)) as s:
            assert await tokens.court_of(s, plain) is None
    finally:
        await engine.dispose()
