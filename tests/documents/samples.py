"""A realistic agreement view (two parties, an instalment plan, a drawn and a typed
signature) and the poppler tools the document tests read PDFs with."""

from __future__ import annotations

import asyncio
import io
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from agreements.render import AgreementDoc, InstalmentLine, PartyLine, SignatureLine, TermLine

COMMITTEE = "长治市潞州区东街街道人民调解委员会"
APPLICANT = "张三丰"
RESPONDENT = "李四海"
MEDIATOR = "王调解员"


def signature_png(seed: int = 0) -> bytes:
    image = Image.new("RGBA", (360, 120), (255, 255, 255, 0))
    points = [(15 + i * 11, 60 + (25 if (i + seed) % 4 < 2 else -25)) for i in range(30)]
    ImageDraw.Draw(image).line(points, fill=(20, 20, 80, 255), width=5)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def sample_doc(
    *, sealed: bool = True, draft_note: str | None = None, **changes: object
) -> AgreementDoc:
    doc = AgreementDoc(
        title="人民调解协议书",
        number="（2026）潞东调字第12号",
        committee=COMMITTEE,
        parties=[
            PartyLine(
                "申请人",
                APPLICANT,
                ["公民身份号码：140403198001011234", "住址：山西省长治市潞州区英雄北路88号"],
            ),
            PartyLine("被申请人", RESPONDENT, ["公民身份号码：140403197505051234"]),
        ],
        facts="申请人与被申请人系邻居。2025年3月，被申请人向申请人借款人民币30,000元，到期未还。",
        disputed_matters="被申请人应否归还借款及归还的方式、期限。",
        responsibilities="被申请人未按约定归还借款，应承担还款责任。",
        terms=[
            TermLine(
                1,
                f"被申请人{RESPONDENT}于2026年6月30日前以银行转账方式向申请人{APPLICANT}"
                "支付人民币30,000.00元，分3期履行。",
                [
                    InstalmentLine("2026年4月30日", "10,000.00"),
                    InstalmentLine("2026年5月31日", "12,500.00"),
                    InstalmentLine("2026年6月30日", "7,500.00"),
                ],
            ),
            TermLine(2, f"申请人{APPLICANT}于2026年4月15日前清理公共通道内堆放的杂物。"),
        ],
        other_terms=["本协议履行完毕后，双方就本纠纷再无其他争议。"],
        copies=3,
        signatures=[
            SignatureLine("申请人", APPLICANT, "2026年4月1日 10:31", signature_png(0), None),
            SignatureLine("被申请人", RESPONDENT, "2026年4月1日 10:33", None, RESPONDENT),
            SignatureLine(
                "调解员",
                MEDIATOR,
                "2026年4月1日 10:40" if sealed else None,
                signature_png(2) if sealed else None,
                None,
            ),
        ],
        mediator=MEDIATOR,
        sealed=sealed,
        effective_on="2026年4月1日" if sealed else None,
        verify_code="K7QX-3M9P-TA2W" if sealed else None,
        verify_url="http://127.0.0.1:8000/verify?code=K7QX3M9PTA2W" if sealed else None,
        draft_note=draft_note,
        version=3,
        content_sha256="a3f1c2d4e5b6978812345678901234567890abcdefabcdefabcdefabcdef0123",
    )
    return replace(doc, **changes)  # type: ignore[arg-type]


def _run(args: list[str], pdf: bytes, path: Path) -> str:
    path.write_bytes(pdf)
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True)
    return done.stdout


async def pdf_text(pdf: bytes, tmp: Path) -> str:
    path = tmp / "doc.pdf"
    return await asyncio.to_thread(_run, ["pdftotext", "-layout", str(path), "-"], pdf, path)


async def pdf_fonts(pdf: bytes, tmp: Path) -> list[list[str]]:
    path = tmp / "fonts.pdf"
    out = await asyncio.to_thread(_run, ["pdffonts", str(path)], pdf, path)
    return [line.split() for line in out.splitlines()[2:]]


def _pixels(pdf: bytes, tmp: Path, page: int) -> np.ndarray:
    path = tmp / "page.pdf"
    prefix = tmp / "p"
    _run(
        ["pdftoppm", "-r", "50", "-f", str(page), "-l", str(page), "-png", str(path), str(prefix)],
        pdf,
        path,
    )
    image = next(tmp.glob("p-*.png"))
    pixels = np.asarray(Image.open(image).convert("RGB"))
    image.unlink()
    return pixels


async def page_pixels(pdf: bytes, tmp: Path, page: int) -> np.ndarray:
    """One page as RGB pixels (50 dpi)."""
    return await asyncio.to_thread(_pixels, pdf, tmp, page)
