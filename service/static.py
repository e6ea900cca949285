"""The static files (scripts, styles), served from memory.

Starlette's ``StaticFiles`` stats, opens and reads every file in worker threads: four thread
hops per request, each waiting for the event loop to pick up its result. On a busy media
server (the loop also carries the video) a room page's eight scripts and styles then took
0.2-0.6 s to arrive, which the person waits for before they can tap Join. The files are part
of the release and small (about 140 KB), so they are read once, at start-up, and answered
from memory with the same headers (type, length, ETag, Last-Modified) and conditional
requests (304) as ``StaticFiles``. A file added after start-up is served from disk as before;
an edited one keeps its old content until the server restarts, as the Python code does.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.datastructures import Headers
from starlette.responses import FileResponse, Response
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import Scope


class PreloadedStaticFiles(StaticFiles):
    def __init__(self, *, directory: Path) -> None:
        super().__init__(directory=directory)
        self.preloaded: dict[str, tuple[bytes, dict[str, str]]] = {}
        for path in sorted(directory.rglob("*")):
            if not path.is_file():
                continue
            stat_result = path.stat()
            # FileResponse computes the headers from the stat alone (no I/O here).
            headers = dict(FileResponse(path, stat_result=stat_result).headers)
            key = os.path.normpath(path.relative_to(directory).as_posix())
            self.preloaded[key] = (path.read_bytes(), headers)

    async def get_response(self, path: str, scope: Scope) -> Response:
        found = self.preloaded.get(path)  # (get_path() normalised it as our keys are)
        if found is None or scope["method"] not in ("GET", "HEAD"):
            return await super().get_response(path, scope)
        body, headers = found
        if self.is_not_modified(Headers(headers=headers), Headers(scope=scope)):
            return NotModifiedResponse(Headers(headers=headers))
        if scope["method"] == "HEAD":
            return Response(status_code=200, headers=headers)
        return Response(body, status_code=200, headers=headers)
