"""The API's docs page in Chromium: Swagger UI from this server renders every operation, under
the Content-Security-Policy, with nothing fetched from elsewhere (the contexts fail the test on
a CSP violation, a request to another host, or an uncaught script error)."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import expect

from tests.browser.conftest import Contexts, LiveServer

pytestmark = pytest.mark.browser


async def test_docs_page_renders_the_operations(
    live_server: LiveServer, new_context: Contexts
) -> None:
    async with httpx.AsyncClient(base_url=live_server.base_url, trust_env=False) as api:
        schema = (await api.get("/openapi.json")).json()
    operations = sum(
        1
        for item in schema["paths"].values()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    )
    assert operations > 10, schema["paths"].keys()

    context = await new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    loaded: list[str] = []
    page.on("requestfinished", lambda request: loaded.append(request.url))
    response = await page.goto("/api/docs")
    assert response is not None and response.ok
    assert "script-src 'self'" in (await response.header_value("content-security-policy") or "")

    await expect(page.locator(".opblock")).to_have_count(operations)
    await expect(page.locator(".opblock-summary-path").first).to_be_visible()
    await expect(page.locator(".information-container .title")).to_contain_text(
        schema["info"]["title"]
    )
    await expect(page.locator(".errors-wrapper")).to_have_count(0)
    # An operation opens (Swagger UI's own script works, not just its first render).
    await page.locator(".opblock-summary").first.click()
    await expect(page.locator(".opblock-body").first).to_be_visible()

    ours = urlsplit(live_server.base_url).netloc
    assert {urlsplit(url).netloc for url in loaded} == {ours}, loaded
    assert any(url.endswith("/static/swagger/swagger-ui-bundle.js") for url in loaded), loaded
    assert any(url.endswith("/static/js/apidocs.js") for url in loaded), loaded
    assert not new_context.csp_violations, new_context.csp_violations
