"""A content-addressed file store under the data folder: files are named by their SHA-256.

Writes go to a temporary file in the same folder and are renamed into place, so a reader
never sees half a file and a crash leaves no corrupt entry. Storing the same bytes twice is a
no-op. Hashing large files is blocking work: async callers use the ``*_async`` variants,
which run in a thread so the event loop keeps carrying the video.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import BinaryIO

from service.errors import NotFound

_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1 << 20


class ContentStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, sha256: str) -> Path:
        if not _SHA256.fullmatch(sha256):
            raise NotFound("No such document.")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put_bytes(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        target = self.path_for(digest)
        if not target.exists():
            self._write(target, [data])
        return digest

    def put_stream(self, stream: BinaryIO) -> str:
        """Store a file of any size, hashing it while copying (one pass, bounded memory)."""
        self.root.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            target = self.path_for(digest.hexdigest())
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest.hexdigest()

    def put_file(self, path: Path) -> str:
        with path.open("rb") as fh:
            return self.put_stream(fh)

    def get_bytes(self, sha256: str) -> bytes:
        path = self.path_for(sha256)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise NotFound("No such document.") from None

    def exists(self, sha256: str) -> bool:
        return bool(_SHA256.fullmatch(sha256)) and self.path_for(sha256).exists()

    def verify(self, sha256: str) -> bool:
        """Whether the stored file still hashes to its name (detects corruption on disk)."""
        digest = hashlib.sha256()
        try:
            with self.path_for(sha256).open("rb") as fh:
                while chunk := fh.read(_CHUNK):
                    digest.update(chunk)
        except FileNotFoundError:
            raise NotFound("No such document.") from None
        return digest.hexdigest() == sha256

    async def put_bytes_async(self, data: bytes) -> str:
        return await asyncio.to_thread(self.put_bytes, data)

    async def put_file_async(self, path: Path) -> str:
        return await asyncio.to_thread(self.put_file, path)

    async def get_bytes_async(self, sha256: str) -> bytes:
        return await asyncio.to_thread(self.get_bytes, sha256)

    def _write(self, target: Path, chunks: list[bytes]) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
