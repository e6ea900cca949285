"""/api/docs: Swagger UI from this server, started by a static script, under the CSP.

(tests/browser/test_apidocs.py renders it in Chromium.)"""

from __future__ import annotations

import hashlib
import re

import httpx

from service.apidocs import ASSETS
from service.security import csp
from service.settings import Settings

# Checked byte for byte against npm's swagger-ui-dist 5.31.0, Swagger UI's own release
# (`npm pack swagger-ui-dist@5.31.0`). A new pin of swagger-ui-bundle-v2 checks them again.
PINNED = {
    "swagger-ui-bundle.js": "93b7b0862a80e2786f85b560be7693c2344354ffa7e7e224f850a54349724c31",
    "swagger-ui.css": "9e576f8322132c76949da47f9bb53c891373c303ea3a761ff548ffc9de50a98c",
    "favicon-32x32.png": "3ed612f41e050ca5e7000cad6f1cbe7e7da39f65fca99c02e99e6591056e5837",
}
_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.S)
_SOURCE = re.compile(r"""\b(?:src|href)="([^"]*)\"""")


async def test_docs_page_loads_everything_from_this_server(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    r = await client.get("/api/docs")
    assert r.status_code == 200, r.text[:300]
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["content-security-policy"] == csp(settings.public_url)
    page = r.text
    assert 'data-openapi-url="/openapi.json"' in page
    scripts = _SCRIPT.findall(page)
    assert scripts, page
    for attributes, body in scripts:
        assert "src=" in attributes and not body.strip(), f"an inline script: {attributes}"
    sources = _SOURCE.findall(page)
    assert "/static/js/apidocs.js" in sources
    assert "/static/swagger/swagger-ui-bundle.js" in sources
    assert "/static/swagger/swagger-ui.css" in sources
    for source in sources:
        assert source.startswith("/") and not source.startswith("//"), source
        loaded = await client.get(source)
        assert loaded.status_code == 200, source
        assert loaded.headers["content-security-policy"] == csp(settings.public_url), source


async def test_swagger_files_are_the_pinned_release(client: httpx.AsyncClient) -> None:
    assert set(PINNED) == ASSETS
    for name, digest in PINNED.items():
        r = await client.get(f"/static/swagger/{name}")
        assert r.status_code == 200, name
        assert hashlib.sha256(r.content).hexdigest() == digest, name
    r = await client.get("/static/swagger/swagger-ui.css")
    assert r.headers["content-type"].startswith("text/css")


async def test_only_the_files_the_page_uses_are_served(client: httpx.AsyncClient) -> None:
    # The package's demo page fetches its example from another site; its OAuth page is inline.
    for name in ("index.html", "oauth2-redirect.html", "swagger-initializer.js", "../__init__.py"):
        r = await client.get(f"/static/swagger/{name}")
        assert r.status_code == 404, (name, r.status_code)
    # Our own static files are still ours.
    assert (await client.get("/static/js/apidocs.js")).status_code == 200


async def test_docs_page_is_not_in_the_schema(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert "/api/docs" not in schema["paths"]
    assert not any(path.startswith("/static") for path in schema["paths"])
