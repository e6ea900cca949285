"""What runs inside a PDF worker process (service/documents/pdf.py starts them).

Kept apart from the parent's side so that a worker imports only what it needs: WeasyPrint,
pyHanko (through ``pades``) and nothing of the web app, the database or aiortc.

A worker answers one job at a time over its pipe: ``(function, args)`` in, ``("ok",
result)`` or ``("error", text)`` out. Functions travel by reference (module and name), so a
job can only be a function that is importable here.
"""

from __future__ import annotations

import base64
import binascii
import logging
import mimetypes
import os
import signal
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse, URLFetchingError

log = logging.getLogger("mediation.pdf.worker")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PDF_VARIANT = "pdf/a-3u"
_PNG_DATA = "data:image/png;base64,"
# A 20 MB image has no place in an agreement: a signature PNG is bounded far below this
# before it gets here; this only stops a runaway data: URI.
_MAX_DATA_BYTES = 20 * 1024 * 1024

# The directories a render may read from (our templates, stylesheets and static files);
# set once per worker by ``main``.
_allowed: tuple[Path, ...] = ()


class RefusedURL(URLFetchingError):
    """A render asked for something other than our own files or an embedded PNG."""


class OwnFilesFetcher(URLFetcher):
    """WeasyPrint's fetcher, allowed only ``file:`` URLs under ``allowed`` and PNG images
    embedded as ``data:image/png;base64``.

    Nothing goes to the network: no http(s), ftp or other scheme is ever opened, so text a
    person typed can never make the server fetch a URL (user text is escaped in the HTML
    anyway; this is the second wall). A refusal is WeasyPrint's ordinary failed resource
    (logged, left out of the page), never a request.
    """

    def __init__(self, allowed: Sequence[Path]) -> None:
        super().__init__(allowed_protocols=("file", "data"), allow_redirects=False)
        self.allowed = tuple(p.resolve() for p in allowed)
        self.refused: list[str] = []

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        scheme = url.split(":", 1)[0].lower()
        if scheme == "data":
            return self._png(url)
        if scheme == "file":
            return self._file(url)
        return self._refuse(url, "only our own files are read")

    def _png(self, url: str) -> URLFetcherResponse:
        if not url.startswith(_PNG_DATA) or len(url) > _MAX_DATA_BYTES * 4 // 3 + 64:
            return self._refuse(url[:40], "only PNG images may be embedded")
        try:
            body = base64.b64decode(url[len(_PNG_DATA) :], validate=True)
        except (binascii.Error, ValueError):
            return self._refuse(url[:40], "not base64")
        if not body.startswith(PNG_SIGNATURE):
            return self._refuse(url[:40], "not a PNG image")
        return URLFetcherResponse(url, body, {"Content-Type": "image/png"})

    def _file(self, url: str) -> URLFetcherResponse:
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            return self._refuse(url, "a file on another host")
        path = Path(unquote(parts.path)).resolve()
        if not path.is_file() or not any(path.is_relative_to(root) for root in self.allowed):
            return self._refuse(url, "outside the template and static folders")
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(path.as_uri(), path.read_bytes(), {"Content-Type": media_type})

    def _refuse(self, url: str, why: str) -> URLFetcherResponse:
        self.refused.append(url)
        raise RefusedURL(f"not fetched ({why}): {url}")


def render_pdf(html: str, base_url: str | None = None) -> bytes:
    """HTML to a PDF/A-3u file, fonts embedded, fetching only our own files."""
    fetcher = OwnFilesFetcher(_allowed)
    document = HTML(string=html, base_url=base_url, url_fetcher=fetcher)
    pdf = document.write_pdf(pdf_variant=PDF_VARIANT)
    if fetcher.refused:
        log.warning("render refused %d resource(s): %s", len(fetcher.refused), fetcher.refused)
    return bytes(pdf)


def sleep_for(seconds: float) -> float:
    """A job that takes ``seconds`` of wall time; the timeout tests' stand-in for a stuck
    render (bounded, unlike a real hang)."""
    import time

    time.sleep(seconds)
    return seconds


_WARM_HTML = (
    '<html lang="zh-Hans"><body style="font-family: \'Noto Serif CJK SC\', serif">'
    "人民调解协议书<span style=\"font-family: 'Noto Sans CJK SC', sans-serif\">"
    "核验码</span></body></html>"
)


def warm() -> None:
    """Load what the first real job would otherwise pay for: the CJK fonts (fontconfig's
    scan and the font files), the PDF/A colour profile, and pyHanko."""
    render_pdf(_WARM_HTML)
    from service.documents import pades  # noqa: F401  (imports pyHanko and its crypto)


def main(inbox: Connection, outbox: Connection, nice: int, allowed: Sequence[str]) -> None:
    """A worker's life: warm up, say ready, then answer jobs until the pipe closes."""
    global _allowed
    # Lower than the server's priority: on a busy machine the process carrying the media
    # gets a core first (a render taking longer matters less than a frozen call).
    if nice:
        os.nice(nice)
    # The parent decides when workers end (its close(), or the pipe closing when it dies);
    # a stray Ctrl-C must not kill a job half-way.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    _allowed = tuple(Path(p).resolve() for p in allowed)
    try:
        warm()
    except Exception as exc:
        outbox.send(("error", f"warming up failed: {type(exc).__name__}: {exc}"))
        return
    outbox.send(("ready", os.getpid()))
    while True:
        try:
            job = inbox.recv()
        except (EOFError, OSError):
            return  # the parent closed the pipe or died: nothing left to do
        if job is None:
            return
        function: Callable[..., Any]
        function, args = job
        try:
            result = function(*args)
        except Exception as exc:
            outbox.send(("error", f"{type(exc).__name__}: {exc}"))
        else:
            outbox.send(("ok", result))


if __name__ == "__main__":
    # python -m service.documents.worker INBOX_FD OUTBOX_FD NICE ALLOWED_DIR...: the jobs name
    # their functions as service.documents.worker.*, so run that module's main, not this
    # __main__ copy's (whose globals the jobs would not see).
    import sys

    from service.documents import worker as _worker

    _worker.main(
        Connection(int(sys.argv[1]), writable=False),
        Connection(int(sys.argv[2]), readable=False),
        int(sys.argv[3]),
        sys.argv[4:],
    )
