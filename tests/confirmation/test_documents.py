"""The confirmation's documents read back with poppler: the ruling (民事裁定书) with the
court, number, parties (ID numbers masked), request, terms, finding, ruling, judge, date,
the court's seal, the verification footer and the 15-day objection notice; the mediation
record from what happened; both issued and verifiable, fonts embedded."""

from __future__ import annotations

import asyncio
import os
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy
from PIL import Image

from rooms.models import Consent, ConsentKind, Recording, RecordingSegment, Room, RoomKind
from service.clock import now
from tests.confirmation.helpers import claimed
from tests.conftest import Factory

KEEP = os.environ.get("KEEP_PDF_DIR")  # to look at the pages: KEEP_PDF_DIR=/tmp/x


async def _run(*args: str) -> str:
    done = await asyncio.to_thread(subprocess.run, list(args), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


async def _fetch(
    client: httpx.AsyncClient, sha256: str, headers: dict[str, str], path: Path, kind: str
) -> str:
    r = await client.get(f"/api/documents/{sha256}", headers=headers)
    assert r.status_code == 200, r.text
    await asyncio.to_thread(path.write_bytes, r.content)
    if KEEP:
        await asyncio.to_thread(Path(KEEP).mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread((Path(KEEP) / path.name).write_bytes, r.content)
    verified = await client.post(
        "/api/documents/verify", content=r.content, headers={"Content-Type": "application/pdf"}
    )
    body = verified.json()
    assert body["genuine"] is True and body["seal"]["ours"] is True, body
    assert body["issued"]["kind"] == kind
    fonts = await _run("pdffonts", str(path))
    cjk = [line for line in fonts.splitlines() if "CJK" in line]
    assert cjk and all(" yes " in line for line in cjk), fonts  # embedded
    return "".join((await _run("pdftotext", str(path), "-")).split())


async def _a_meeting_happened(factory: Factory, case_id: int, party_id: int, user_id: int) -> None:
    """A closed mediation meeting of 45 minutes with its ledger and one recorded segment,
    as rooms/ would have left them."""
    start = now() - timedelta(days=2)
    async with factory.uow() as s:
        room = Room(
            case_id=case_id, kind=RoomKind.mediation, status="closed", created_by=user_id,
            opened_at=start, closed_at=start + timedelta(minutes=45), created_at=start,
        )  # fmt: skip
        s.add(room)
        await s.flush()
        for kind in (ConsentKind.online_mediation, ConsentKind.identity_verified):
            s.add(
                Consent(
                    case_id=case_id,
                    room_id=room.id or 0,
                    party_id=party_id,
                    kind=kind,
                    given=True,
                    by_user_id=user_id,
                    at=start + timedelta(minutes=2),
                )
            )
        recording = Recording(
            room_id=room.id or 0, participant="p1", participant_name="录像参加人",
            started_at=start + timedelta(minutes=3), stopped_at=start + timedelta(minutes=44),
        )  # fmt: skip
        s.add(recording)
        await s.flush()
        s.add(
            RecordingSegment(
                recording_id=recording.id or 0,
                seq=0,
                sha256="ab" * 32,
                size=10,
                duration=600.0,
                media_type="video/webm",
            )
        )


async def test_the_ruling_and_the_record_read_back(
    client: httpx.AsyncClient, factory: Factory, tmp_path: Path
) -> None:
    async def before_consent(signing: Any) -> None:
        w = signing.world
        await _a_meeting_happened(factory, w.case.id, w.applicant.id, w.mediator.id)

    applied = await claimed(client, factory, before_consent=before_consent)
    world = applied.signing.world
    record = await _fetch(
        client,
        applied.application["record_sha256"],
        applied.signing.mediator,
        tmp_path / "record.pdf",
        "record",
    )
    for expected in (
        "调解过程记录",
        world.case.number,
        world.applicant.name,
        world.respondent.name,
        "视频调解会议",
        "45分钟",
        "身份核验（调解员当场核对身份证件）",
        "同意在线调解",
        "录像参加人",
        "第1段",
        "ab" * 8,  # the segment's SHA-256 (wrapped in its cell)
        "录音录像",
        "调解协议各版本",
        "第1版",
        "核验码",
    ):
        assert expected in record, expected
    assert world.applicant.id_number is None or world.applicant.id_number not in record

    r = await client.post(
        f"/api/confirmations/{applied.id}/decision",
        json={"outcome": "rejected", "grounds": ["content_unclear"], "reason": "履行期限不明确。"},
        headers=applied.judge,
    )
    assert r.status_code == 200, r.text
    decided: dict[str, Any] = r.json()
    ruling = await _fetch(
        client, decided["ruling_sha256"], applied.signing.applicant, tmp_path / "ruling.pdf",
        "ruling",
    )  # fmt: skip
    court = world.court.name
    for expected in (
        court,
        "民事裁定书",
        decided["number"],
        world.applicant.name,
        world.respondent.name,
        "申请人请求",
        "人民调解协议的主要内容",
        "本院经审查认为",
        "裁定如下",
        "内容不明确",
        "履行期限不明确",
        "驳回申请人的司法确认申请",
        "审判员",
        world.judge.name,
        "十五日内",
        "核验码",
    ):
        assert expected.replace(" ", "") in ruling, expected
    if world.applicant.id_number:
        assert world.applicant.id_number not in ruling
    # The court's seal is drawn in red on the first page's image (and nowhere else in red).
    png = tmp_path / "page"
    await _run(
        "pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "2", str(tmp_path / "ruling.pdf"), str(png)
    )
    reds = 0
    for page in sorted(await asyncio.to_thread(lambda: list(tmp_path.glob("page*.png")))):
        with Image.open(page) as image:
            rgb = numpy.asarray(image.convert("RGB")).astype(int)
        reds += int(((rgb[..., 0] > 180) & (rgb[..., 1] < 90) & (rgb[..., 2] < 90)).sum())
    assert reds > 50, "the court's seal is on the ruling"
