from tests.conftest import Factory, Made


async def test_health(client):
    r = await client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok"}


async def test_mediator_sees_own_case(client, factory: Factory, world: Made):
    headers = await factory.login(client, world.mediator)
    r = await client.get(f"/api/cases/{world.case.id}", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["number"] == world.case.number


async def test_openapi_describes_every_api_route(client, app):
    """/openapi.json is generated from the code and names every JSON endpoint."""
    r = await client.get("/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    from fastapi.routing import APIRoute

    for route in app.routes:
        if isinstance(route, APIRoute) and route.path.startswith("/api"):
            assert route.path in paths, route.path
    case_post = paths["/api/cases"]["post"]
    assert "CaseIn" in str(case_post["requestBody"]) and "CaseOut" in str(case_post["responses"])


async def test_request_id_is_echoed(client):
    """Every response carries the request id that its log lines carry."""
    r = await client.get("/healthz", headers={"X-Request-ID": "abc123"})
    assert r.headers["X-Request-ID"] == "abc123"
