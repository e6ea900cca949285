"""The content-addressed file store, on a real folder."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from service.errors import NotFound
from service.storage import ContentStore


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(tmp_path / "store")


def stored_files(store: ContentStore) -> list[Path]:
    return sorted(p for p in store.root.rglob("*") if p.is_file())


def leftovers(store: ContentStore) -> list[Path]:
    return [p for p in store.root.rglob("*") if p.name.startswith(".incoming-")]


class Chunked(io.RawIOBase):
    """A stream that hands out ``total`` pseudo-random bytes in small reads."""

    def __init__(self, total: int, *, fail_after: int | None = None) -> None:
        self.total = total
        self.sent = 0
        self.fail_after = fail_after
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.fail_after is not None and self.sent >= self.fail_after:
            raise OSError("the upload connection dropped")
        left = self.total - self.sent
        n = left if size is None or size < 0 else min(size, left, 64 * 1024 + 3)
        block = bytes((self.sent + i) * 31 % 251 for i in range(n))
        self.sent += n
        self.digest.update(block)
        return block


def test_put_bytes_returns_sha256_and_shards_by_prefix(store: ContentStore) -> None:
    data = b"%PDF-1.7 an agreement"
    digest = store.put_bytes(data)
    assert digest == hashlib.sha256(data).hexdigest()
    path = store.root / digest[:2] / digest[2:4] / digest
    assert path.is_file()
    assert path.read_bytes() == data
    assert store.path_for(digest) == path
    assert store.exists(digest)
    assert store.get_bytes(digest) == data
    assert stored_files(store) == [path]


def test_same_bytes_twice_is_one_file(store: ContentStore) -> None:
    first = store.put_bytes(b"same")
    mtime = store.path_for(first).stat().st_mtime_ns
    second = store.put_bytes(b"same")
    assert first == second
    assert len(stored_files(store)) == 1
    assert store.path_for(first).stat().st_mtime_ns == mtime  # not rewritten


def test_different_bytes_are_different_files(store: ContentStore) -> None:
    a = store.put_bytes(b"a")
    b = store.put_bytes(b"b")
    assert a != b
    assert len(stored_files(store)) == 2


def test_empty_file(store: ContentStore) -> None:
    digest = store.put_bytes(b"")
    assert digest == hashlib.sha256(b"").hexdigest()
    assert store.get_bytes(digest) == b""


def test_put_stream_of_five_megabytes(store: ContentStore) -> None:
    stream = Chunked(5 * 1024 * 1024)
    digest = store.put_stream(stream)  # type: ignore[arg-type]
    assert digest == stream.digest.hexdigest()
    path = store.path_for(digest)
    assert path.stat().st_size == 5 * 1024 * 1024
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert store.verify(digest)
    assert leftovers(store) == []


def test_put_stream_and_put_bytes_agree(store: ContentStore) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    from_stream = store.put_stream(io.BytesIO(data))
    assert from_stream == store.put_bytes(data)
    again = store.put_stream(io.BytesIO(data))
    assert again == from_stream
    assert stored_files(store) == [store.path_for(from_stream)]
    assert leftovers(store) == []


def test_put_file(store: ContentStore, tmp_path: Path) -> None:
    source = tmp_path / "recording.webm"
    source.write_bytes(os.urandom(100_000))
    digest = store.put_file(source)
    assert store.get_bytes(digest) == source.read_bytes()


async def test_async_variants(store: ContentStore) -> None:
    digest = await store.put_bytes_async(b"async bytes")
    assert await store.get_bytes_async(digest) == b"async bytes"


def test_unknown_hash_is_not_found(store: ContentStore) -> None:
    with pytest.raises(NotFound):
        store.get_bytes("0" * 64)
    assert not store.exists("0" * 64)


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd",
        "../" + "a" * 64,
        "/etc/passwd",
        "A" * 64,  # upper case is not how the store names files
        "a" * 63,
        "a" * 65,
        "g" * 64,
        "",
        "a" * 64 + "/../x",
    ],
    ids=[
        "traversal",
        "traversal-hash",
        "absolute",
        "upper",
        "short",
        "long",
        "non-hex",
        "empty",
        "hash-then-traversal",
    ],
)
def test_names_that_are_not_a_sha256_are_not_found(store: ContentStore, name: str) -> None:
    store.put_bytes(b"something")  # the folder exists
    with pytest.raises(NotFound):
        store.get_bytes(name)
    with pytest.raises(NotFound):
        store.path_for(name)


def test_a_hash_with_a_trailing_newline_is_not_a_name(store: ContentStore) -> None:
    digest = store.put_bytes(b"something")
    with pytest.raises(NotFound):
        store.path_for(digest + "\n")


def test_verify_detects_a_corrupted_file(store: ContentStore) -> None:
    digest = store.put_bytes(b"the signed agreement, exactly as issued")
    assert store.verify(digest)
    path = store.path_for(digest)
    path.chmod(0o644)
    path.write_bytes(b"the signed agreement, quietly changed")
    assert not store.verify(digest)


def test_verify_detects_a_truncated_file(store: ContentStore) -> None:
    digest = store.put_stream(io.BytesIO(os.urandom(2 * 1024 * 1024)))
    path = store.path_for(digest)
    with path.open("r+b") as fh:
        fh.truncate(1024 * 1024)
    assert not store.verify(digest)


def test_failed_stream_leaves_no_temporary_file(store: ContentStore) -> None:
    store.put_bytes(b"already here")
    before = stored_files(store)
    stream = Chunked(5 * 1024 * 1024, fail_after=2 * 1024 * 1024)
    with pytest.raises(OSError, match="connection dropped"):
        store.put_stream(stream)  # type: ignore[arg-type]
    assert leftovers(store) == []
    assert stored_files(store) == before


def test_failed_stream_on_an_empty_store_leaves_nothing(store: ContentStore) -> None:
    stream = Chunked(1024, fail_after=0)
    with pytest.raises(OSError):
        store.put_stream(stream)  # type: ignore[arg-type]
    assert leftovers(store) == []
    assert stored_files(store) == []
