"""The PDF workers: real WeasyPrint in real worker processes, a real timeout, and a render
that may read only our own files."""

from __future__ import annotations

import asyncio
import base64
import io
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pypdf import PdfReader

from service.documents import worker
from service.documents.pdf import PdfWorkers
from service.errors import Unavailable
from service.settings import PdfSettings

ROOT = Path(__file__).resolve().parent.parent.parent
STATIC = ROOT / "static"
CJK_PAGE = (
    '<html lang="zh-Hans"><body style="font-family: \'Noto Serif CJK SC\'">'
    "<h1>人民调解协议书</h1><p>甲方：张三</p></body></html>"
)


@pytest.fixture(scope="module")
async def workers() -> AsyncIterator[PdfWorkers]:
    pool = PdfWorkers(PdfSettings(workers=2, timeout_seconds=60), allowed_dirs=[STATIC])
    try:
        yield pool
    finally:
        await pool.close()


async def test_render_is_pdf_a_3u_with_the_text(workers: PdfWorkers) -> None:
    pdf = await workers.render(CJK_PAGE)
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    text = reader.pages[0].extract_text()
    assert "人民调解协议书" in text and "张三" in text
    xmp = reader.xmp_metadata
    assert xmp is not None
    identification = xmp.rdf_root.getElementsByTagNameNS(  # type: ignore[union-attr]
        "http://www.aiim.org/pdfa/ns/id/", "Description"
    )
    parts = {
        node.localName: node.firstChild.data  # type: ignore[union-attr]
        for d in identification
        for node in d.childNodes
        if node.nodeType == node.ELEMENT_NODE and node.firstChild is not None
    }
    attrs = {
        a.localName: a.value
        for d in xmp.rdf_root.getElementsByTagNameNS(  # type: ignore[union-attr]
            "http://www.w3.org/1999/02/22-rdf-syntax-ns#", "Description"
        )
        for a in d.attributes.values()
        if a.namespaceURI == "http://www.aiim.org/pdfa/ns/id/"
    }
    found = {**attrs, **parts}
    assert found.get("part") == "3", xmp.rdf_root.toxml()  # type: ignore[union-attr]
    assert found.get("conformance") == "U"


async def test_many_renders_at_once_all_answer(workers: PdfWorkers) -> None:
    pdfs = await asyncio.gather(*(workers.render(CJK_PAGE) for _ in range(6)))
    assert all(p.startswith(b"%PDF-") for p in pdfs)
    assert workers.size == 2


async def test_a_render_reads_our_files_and_embedded_png_only(
    workers: PdfWorkers, tmp_path: Path
) -> None:
    """file: inside the allowed folders and data:image/png are read; a file elsewhere, any
    other data: type and every other scheme are refused (the page still renders)."""
    outside = tmp_path / "secret.css"
    outside.write_text("body { color: red }")
    png = (ROOT / "static").rglob("*.png")
    ours = next(png, None)
    one_pixel = base64.b64encode(
        bytes.fromhex(
            "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
            "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
        )
    ).decode()
    fetcher = worker.OwnFilesFetcher([STATIC])
    assert fetcher.fetch(f"data:image/png;base64,{one_pixel}").read().startswith(b"\x89PNG")
    if ours is not None:
        assert fetcher.fetch(ours.as_uri()).read().startswith(b"\x89PNG")
    for url in (
        outside.as_uri(),
        (STATIC / ".." / "pyproject.toml").as_uri(),
        "http://127.0.0.1:9/x.png",
        "https://example.invalid/x.png",
        "ftp://127.0.0.1/x",
        "data:text/css,body{}",
        "data:image/svg+xml;base64,PHN2Zy8+",
        f"data:image/png;base64,{base64.b64encode(b'GIF89a').decode()}",
        "file://otherhost/etc/passwd",
    ):
        with pytest.raises(worker.RefusedURL):
            fetcher.fetch(url)
    assert len(fetcher.refused) == 9
    pdf = await workers.render(
        f'<html><head><link rel="stylesheet" href="{outside.as_uri()}"></head>'
        f'<body><img src="data:image/png;base64,{one_pixel}">页</body></html>'
    )
    assert pdf.startswith(b"%PDF-")


async def test_a_render_over_the_timeout_is_stopped_and_its_worker_replaced(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A real render (a 3,000-row table takes seconds) against a tiny timeout: 503 with a
    message a person can act on, the failure logged with the caller's ids, the worker killed
    and replaced, and the pool renders again afterwards."""
    rows = "".join(
        f"<tr><td>第{i}期</td><td>2026年{i % 12 + 1}月1日</td><td>{i}.00元</td></tr>"
        for i in range(3000)
    )
    heavy = f"<html><body style=\"font-family:'Noto Serif CJK SC'\"><table>{rows}</table>"
    pool = PdfWorkers(PdfSettings(workers=1, timeout_seconds=60), allowed_dirs=[STATIC])
    try:
        await pool.wait_ready()
        pool.settings.timeout_seconds = 0.3
        with (
            caplog.at_level(logging.ERROR, logger="mediation.pdf"),
            pytest.raises(Unavailable) as refused,
        ):
            await pool.render(heavy, case_id=41, agreement_id=7)
        assert refused.value.status_code == 503
        assert "try again" in refused.value.message
        assert refused.value.headers["Retry-After"]
        line = next(r for r in caplog.records if "killed and replaced" in r.getMessage())
        assert (line.__dict__["case_id"], line.__dict__["agreement_id"]) == (41, 7)
        assert pool.replaced == 1
        pool.settings.timeout_seconds = 60
        assert (await pool.render(CJK_PAGE)).startswith(b"%PDF-")
        assert pool.size == 1
    finally:
        await pool.close()


async def test_a_failing_job_is_a_503_and_the_worker_stays(workers: PdfWorkers) -> None:
    before = workers.replaced
    with pytest.raises(Unavailable):
        await workers.run(worker.sleep_for, "not a number", what="sleep")
    assert workers.replaced == before
    assert await workers.run(worker.sleep_for, 0.01) == 0.01


async def test_closed_pool_refuses_and_close_is_idempotent() -> None:
    pool = PdfWorkers(PdfSettings(workers=1), allowed_dirs=[STATIC])
    await pool.wait_ready()
    await pool.close()
    await pool.close()
    with pytest.raises(Unavailable):
        await pool.render(CJK_PAGE)
