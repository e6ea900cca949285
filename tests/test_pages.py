"""Pages use the API's typed dependencies: the same checks, answered as pages."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Factory, Made


@pytest.mark.parametrize("path", ["/cases/0", "/cases/abc", "/cases/99999999999999999999"])
async def test_a_case_address_that_names_nothing_is_a_404_page(
    client: httpx.AsyncClient, factory: Factory, world: Made, path: str
) -> None:
    await factory.login(client, world.mediator)
    r = await client.get(path)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "此页面不存在" in r.text


async def test_another_committees_case_is_not_found_on_the_page_as_in_the_api(
    client: httpx.AsyncClient, factory: Factory, world: Made
) -> None:
    stranger = await factory.user(world.mediator.role, await factory.committee())
    headers = await factory.login(client, stranger)
    page = await client.get(f"/cases/{world.case.id}")
    api = await client.get(f"/api/cases/{world.case.id}", headers=headers)
    assert page.status_code == api.status_code == 404
    assert "找不到该案件" in page.text


async def test_the_case_list_filters_with_the_apis_query_rules(
    client: httpx.AsyncClient, factory: Factory, world: Made
) -> None:
    await factory.login(client, world.mediator)
    debt, _ = await factory.case(world.mediator, dispute_type="debt", title="借款纠纷甲")
    # The filter form sends empty fields for "any".
    r = await client.get("/cases", params={"status": "", "dispute_type": "", "q": ""})
    assert r.status_code == 200 and debt.number in r.text and world.case.number in r.text
    r = await client.get("/cases", params={"dispute_type": "debt", "status": ""})
    assert r.status_code == 200 and debt.number in r.text and world.case.number not in r.text
    # A value no form sends is refused, as the API refuses it, but as a page.
    r = await client.get("/cases", params={"dispute_type": "piracy"})
    assert r.status_code == 400 and r.headers["content-type"].startswith("text/html")
    assert (await client.get("/api/cases", params={"dispute_type": "piracy"})).status_code == 422


async def test_a_party_page_without_the_party_session_says_how_to_get_in(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/my-case")
    assert r.status_code == 401 and "加入链接" in r.text  # not a redirect to the staff form


async def test_a_control_character_in_the_search_is_refused_on_the_page_as_in_the_api(
    client: httpx.AsyncClient, factory: Factory, world: Made
) -> None:
    """NUL cannot be stored or compared on PostgreSQL: it is refused before any query."""
    headers = await factory.login(client, world.mediator)
    page = await client.get("/cases", params={"q": "a\x00b"})
    assert page.status_code == 400 and page.headers["content-type"].startswith("text/html")
    api = await client.get("/api/cases", params={"q": "a\x00b"}, headers=headers)
    assert api.status_code == 422
    assert api.json()["detail"][0]["loc"] == ["query", "q"]
