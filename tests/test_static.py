"""Scripts and styles come from memory, with the headers and conditional requests of
Starlette's StaticFiles."""

from __future__ import annotations

import httpx

from service.app import STATIC_DIR


async def test_static_files_are_served_whole_with_type_and_validators(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/static/js/room.js")
    assert r.status_code == 200
    assert r.content == (STATIC_DIR / "js" / "room.js").read_bytes()
    assert r.headers["content-type"].startswith("text/javascript")
    assert int(r.headers["content-length"]) == len(r.content)
    etag = r.headers["etag"]

    again = await client.get("/static/js/room.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""

    head = await client.head("/static/css/room.css")
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == (STATIC_DIR / "css" / "room.css").stat().st_size


async def test_missing_files_and_paths_outside_the_folder_are_not_found(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get("/static/js/nothing-here.js")).status_code == 404
    # Encoded dot segments reach the app (httpx would resolve literal ones itself): they are
    # decoded and resolved there, and what resolves outside the folder is not found.
    assert (await client.get("/static/js/%2E%2E/js/room.js")).status_code == 200
    assert (await client.get("/static/js/%2e%2e/%2e%2e/pyproject.toml")).status_code == 404
    assert (await client.get("/static/%2e%2e/service/app.py")).status_code == 404
    assert (await client.post("/static/js/room.js")).status_code == 405
