"""The agreement's PDF, rendered for real in the PDF workers and read back with poppler:
the text people must find in it, embedded CJK fonts, a page that is not blank, PDF/A-3u,
and user text that is only ever text (never markup, a template, or a URL to fetch)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pypdf import PdfReader

from agreements.render import AgreementDoc, agreement_html, seal_svg, zh_numeral
from service.documents.pdf import PdfWorkers
from service.settings import PdfSettings
from tests.documents.samples import (
    APPLICANT,
    COMMITTEE,
    MEDIATOR,
    RESPONDENT,
    page_pixels,
    pdf_fonts,
    pdf_text,
    sample_doc,
)

STATIC = Path(__file__).resolve().parents[2] / "static"


@pytest.fixture(scope="module")
async def workers() -> AsyncIterator[PdfWorkers]:
    pool = PdfWorkers(PdfSettings(workers=1, timeout_seconds=60), allowed_dirs=[STATIC])
    try:
        yield pool
    finally:
        await pool.close()


async def render(workers: PdfWorkers, doc: AgreementDoc) -> bytes:
    return await workers.render(agreement_html(doc))


def squeeze(text: str) -> str:
    """pdftotext's layout spaces out justified CJK lines; compare without whitespace."""
    return "".join(text.split())


async def test_the_pdf_holds_the_parties_terms_and_amounts(
    workers: PdfWorkers, tmp_path: Path
) -> None:
    text = squeeze(await pdf_text(await render(workers, sample_doc()), tmp_path))
    for expected in (
        "人民调解协议书",
        "（2026）潞东调字第12号",
        COMMITTEE,
        APPLICANT,
        RESPONDENT,
        MEDIATOR,
        "公民身份号码：140403198001011234",
        "支付人民币30,000.00元",
        "10,000.00",
        "12,500.00",
        "7,500.00",
        "2026年5月31日前",
        "（二）申请人张三丰于2026年4月15日前清理公共通道内堆放的杂物。",
        "本协议一式三份",
        "2026年4月1日10:31",
        "核验码：K7QX-3M9P-TA2W",
        "第1页共",
    ):
        assert squeeze(expected) in text, expected


async def test_cjk_fonts_are_embedded_and_named(workers: PdfWorkers, tmp_path: Path) -> None:
    fonts = await pdf_fonts(await render(workers, sample_doc()), tmp_path)
    names = {row[0].split("+", 1)[-1] for row in fonts}
    assert {"Noto-Serif-CJK-SC", "Noto-Sans-CJK-SC"} <= {n.removesuffix("-Bold") for n in names}
    # Every font is embedded (the "emb" column) and subset.
    for row in fonts:
        emb = row[-5]
        assert emb == "yes", row


async def test_pages_are_not_blank_and_the_seal_is_red(workers: PdfWorkers, tmp_path: Path) -> None:
    pdf = await render(workers, sample_doc())
    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    assert pages >= 2
    first = await page_pixels(pdf, tmp_path, 1)
    ink = (first.min(axis=2) < 160).mean()
    assert 0.005 < ink < 0.5, ink  # text on the page, not a blank or a black page
    last = await page_pixels(pdf, tmp_path, pages)
    red = ((last[..., 0] > 170) & (last[..., 1] < 90) & (last[..., 2] < 90)).sum()
    assert red > 200, red  # the committee's seal
    unsealed = await render(workers, sample_doc(sealed=False))
    pages = len(PdfReader(io.BytesIO(unsealed)).pages)
    last = await page_pixels(unsealed, tmp_path, pages)
    red = ((last[..., 0] > 170) & (last[..., 1] < 90) & (last[..., 2] < 90)).sum()
    assert red < 20, red  # no seal before it takes effect


async def test_the_pdf_is_pdf_a_3u(workers: PdfWorkers) -> None:
    reader = PdfReader(io.BytesIO(await render(workers, sample_doc())))
    xmp = reader.xmp_metadata
    assert xmp is not None
    raw = xmp.rdf_root.toxml()  # type: ignore[union-attr]
    assert "http://www.aiim.org/pdfa/ns/id/" in raw
    assert any(marker in raw for marker in ("<pdfaid:part>3</pdfaid:part>", 'pdfaid:part="3"')), raw
    assert any(
        marker in raw
        for marker in ("<pdfaid:conformance>U</pdfaid:conformance>", 'pdfaid:conformance="U"')
    ), raw


async def test_a_preview_says_it_is_a_draft_not_in_effect(
    workers: PdfWorkers, tmp_path: Path
) -> None:
    doc = sample_doc(sealed=False, draft_note="草稿　第3版　未生效")
    text = squeeze(await pdf_text(await render(workers, doc), tmp_path))
    assert "草稿第3版未生效" in text
    assert "核验码" not in text  # a draft has no verification code to give


async def test_user_text_is_text_and_nothing_is_fetched(
    workers: PdfWorkers, tmp_path: Path
) -> None:
    """A listener on 127.0.0.1 receives nothing while content holding an <img> pointing at
    it, a stylesheet link and a Jinja expression is rendered; the PDF shows them literally.
    Also with the markup put into the HTML raw, past the escaping: the renderer itself
    fetches nothing but our own files."""
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.read(100))
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    hostile = (
        f'<img src="http://127.0.0.1:{port}/x">'
        f'<link rel="stylesheet" href="http://127.0.0.1:{port}/s.css">{{{{ 7*7 }}}}'
    )
    try:
        doc = sample_doc(
            facts=f"事实：{hostile}",
            other_terms=[f"其他：{{{{ 7*7 }}}} {{% if true %}}X{{% endif %}} {hostile}"],
        )
        html = agreement_html(doc)
        assert "{{ 7*7 }}" in html and "&lt;img src=" in html and '<img src="http' not in html
        text = squeeze(await pdf_text(await workers.render(html), tmp_path))
        assert squeeze(f'事实：<img src="http://127.0.0.1:{port}/x">') in text
        assert "{{7*7}}" in text and "{%iftrue%}X{%endif%}" in text
        assert "49" not in text.replace("2026", "")  # nothing evaluated the expression
        raw = (
            f'<html><head><link rel="stylesheet" href="http://127.0.0.1:{port}/raw.css">'
            f'<style>@import url("http://127.0.0.1:{port}/imp.css");'
            f' body {{ background: url("http://127.0.0.1:{port}/bg.png") }}</style></head>'
            f'<body><img src="http://127.0.0.1:{port}/raw.png">'
            f'<svg><image href="http://127.0.0.1:{port}/svg.png" width="9" height="9"/></svg>'
            f'<a rel="attachment" href="http://127.0.0.1:{port}/att">附件</a></body></html>'
        )
        assert (await workers.render(raw)).startswith(b"%PDF-")
        # A connection of our own, last: the listener accepts in order, so once it has seen
        # this one it has seen any the renders made.
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"sentinel")
        await writer.drain()
        for _ in range(200):
            if seen:
                break
            await asyncio.sleep(0.01)
        writer.close()
        assert seen == [b"sentinel"]
    finally:
        server.close()
        await server.wait_closed()


def test_committee_name_in_the_seal_is_escaped() -> None:
    svg = str(seal_svg('<b>"&调委会'))
    assert "<b>" not in svg and "&lt;" in svg and "&amp;" in svg


@pytest.mark.parametrize(
    ("n", "zh"), [(1, "一"), (3, "三"), (10, "十"), (11, "十一"), (20, "二十"), (23, "二十三")]
)
def test_clause_numbers_in_chinese(n: int, zh: str) -> None:
    assert zh_numeral(n) == zh


def test_a_non_png_signature_is_left_out() -> None:
    doc = sample_doc(
        signatures=[
            sample_doc().signatures[0].__class__("申请人", APPLICANT, "x", b"GIF89a....", None)
        ]
    )
    assert "data:image/gif" not in agreement_html(doc)
    assert "data:image/png" not in agreement_html(doc)
